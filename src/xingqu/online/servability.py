"""Servability: which products may be shown now (listed, in stock, shop in good standing). The rule
itself is the store's query (``Store.catalogue.servable_products``); this is where serving asks it,
directly or through a shared Redis set that governance actions keep current."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

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
