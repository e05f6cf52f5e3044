"""Servability: which products may be shown now (listed, in stock, shop in good standing). The rule
itself is the store's query (``Store.catalogue.servable_products``); this is where serving asks it,
directly or through a shared Redis set that governance actions keep current."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from xingqu.store.catalogue import Catalogue
    from xingqu.store.store import Store

#: Which of some product ids may be shown now, asked of the source of truth.
ServableQuery = Callable[[list[str]], set[str]]


@runtime_checkable
class Servability(Protocol):
    """Answers which products may be shown now; told when statuses change."""

    def servable(self, product_ids: list[str]) -> set[str]:
        """The subset of ``product_ids`` that may be shown now (unknown ids may not)."""
        ...

    def changed(self, product_ids: list[str] | None = None) -> None:
        """Statuses of these products (None: of any product) may have changed."""
        ...


class StoreServability:
    """Asks the store at every call: always current for every process sharing the store."""

    def __init__(self, query: ServableQuery) -> None:
        self.query = query

    def servable(self, product_ids: list[str]) -> set[str]:
        return self.query(product_ids)

    def changed(self, product_ids: list[str] | None = None) -> None:
        """Nothing to do: the next call asks the store."""


class SnapshotServability:
    """The servable set kept in this process, brought up to date at every call from the store's log of
    servability changes (``Catalogue.servability_changes``: one indexed read, usually of nothing), so a
    takedown or a suspension committed by any process sharing the store is honoured on the next call.
    Only for stores whose log is in commit order (``Catalogue.logs_servability``: the embedded store)."""

    #: Changes read per call at most; more at once (or a gap left by the log's pruning): reread the set.
    BATCH = 20_000

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._lock = threading.Lock()
        self._seq = -1  # the last change applied; −1 before the set is first read
        self._ids: set[str] = set()

    def servable(self, product_ids: list[str]) -> set[str]:
        with self._lock:
            self._catch_up()
            ids = self._ids
            return {p for p in product_ids if p in ids}

    def changed(self, product_ids: list[str] | None = None) -> None:
        """Nothing to do: the store's log says what changed, and the next call reads it."""

    def size(self) -> int:
        """How many products are servable now."""
        with self._lock:
            self._catch_up()
            return len(self._ids)

    def _catch_up(self) -> None:
        if self._seq >= 0:
            seqs, products = self.catalogue.servability_changes(self._seq, self.BATCH)
            if not seqs:
                return
            if seqs[0] == self._seq + 1 and len(seqs) < self.BATCH:
                ok = self.catalogue.servable_products(products)
                self._ids.difference_update(products)
                self._ids.update(ok)
                self._seq = seqs[-1]
                return
        self._seq, self._ids = self.catalogue.servable_now()


def store_servability(store: Store) -> Servability:
    """Servability asked of a store: its servable set kept in memory where the store logs changes in
    commit order (the embedded store), else its query at every call."""
    if store.catalogue.logs_servability:
        return SnapshotServability(store.catalogue)
    return StoreServability(store.catalogue.servable_products)
