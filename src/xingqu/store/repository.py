"""The shape every repository of the store shares: built on the store, each method taking an optional
``conn`` — given, it runs inside that transaction; else in a read of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from xingqu.store.store import Store


class Repository:
    """Base of the store's repositories (``Store.catalogue``, ``Store.governance``, ``Store.rollups``)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @contextmanager
    def _conn(self, conn: Connection | None) -> Iterator[Connection]:
        """``conn`` itself, or a read-only connection of the store for the block."""
        if conn is not None:
            yield conn
        else:
            with self._store.reading() as c:
                yield c
