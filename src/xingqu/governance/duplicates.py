"""Near-duplicate listings (重复铺货) in the same shop (or shop group): exact Jaccard similarity of the
listings' tokens — normalised title words plus brand and category.

Duplicates only count within one shop, so the index is an inverted index per shop: a query counts, for
each listing of the shop sharing a token with it, the tokens in common, and Jaccard follows from the two
set sizes. That is exact (no probabilistic candidate misses, unlike MinHash LSH) and costs time in
proportion to the postings of the query's tokens in that one shop, whatever the size of the catalogue.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from xingqu.store import Store
from xingqu.store.schema import TABLES
from xingqu.text import tokens


def listing_tokens(title: str, brand: str | None = None, category: str | None = None) -> set[str]:
    """What two listings are compared on: title words, brand and category."""
    out = {f"w:{t}" for t in tokens(title or "")}
    if brand:
        out.add(f"brand:{brand}")
    if category:
        out.add(f"cat:{category}")
    return out


@dataclass(frozen=True)
class Match:
    listing_id: str
    similarity: float


class _Shop:
    """One shop's listings: token → positions, and each position's id and token count."""

    __slots__ = ("ids", "postings", "sizes")

    def __init__(self) -> None:
        self.postings: dict[int, list[int]] = {}
        self.ids: list[str] = []
        self.sizes: list[int] = []


class DuplicateIndex:
    """Listings by shop, queried for near-duplicates at or above ``threshold`` Jaccard similarity."""

    def __init__(self, threshold: float = 0.8) -> None:
        self.threshold = threshold
        self._shops: dict[str, _Shop] = {}
        self._vocab: dict[str, int] = {}
        self._known: set[str] = set()

    def __len__(self) -> int:
        return len(self._known)

    def _ids(self, toks: set[str], grow: bool) -> list[int]:
        if grow:
            return [self._vocab.setdefault(t, len(self._vocab)) for t in toks]
        return [self._vocab[t] for t in toks if t in self._vocab]

    def add(
        self, listing_id: str, shop: str, title: str, brand: str | None = None, category: str | None = None
    ) -> None:
        """Index a listing (a listing id is indexed once; later adds of it are ignored)."""
        if listing_id in self._known:
            return
        toks = listing_tokens(title, brand, category)
        if not toks:
            return
        self._known.add(listing_id)
        s = self._shops.setdefault(shop, _Shop())
        pos = len(s.ids)
        s.ids.append(listing_id)
        s.sizes.append(len(toks))
        for t in self._ids(toks, grow=True):
            s.postings.setdefault(t, []).append(pos)

    def find(
        self,
        shop: str,
        title: str,
        brand: str | None = None,
        category: str | None = None,
        exclude: str | None = None,
    ) -> list[Match]:
        """Listings of the same shop this one nearly repeats, most similar first."""
        s = self._shops.get(shop)
        toks = listing_tokens(title, brand, category)
        if s is None or not toks:
            return []
        shared: Counter[int] = Counter()
        for t in self._ids(toks, grow=False):
            shared.update(s.postings.get(t, ()))
        n = len(toks)
        out = []
        for pos, common in shared.items():
            sim = common / (n + s.sizes[pos] - common)
            if sim >= self.threshold and s.ids[pos] != exclude:
                out.append(Match(s.ids[pos], sim))
        return sorted(out, key=lambda m: (-m.similarity, m.listing_id))

    @classmethod
    def from_store(cls, store: Store, threshold: float = 0.8) -> DuplicateIndex:
        """Every product in the store, as the listings new ones are compared with."""
        with store.reading() as conn:
            return cls.from_conn(conn, threshold)

    @classmethod
    def from_conn(cls, conn: Connection, threshold: float = 0.8) -> DuplicateIndex:
        """``from_store`` inside an open transaction."""
        index = cls(threshold)
        p = TABLES["products"]
        for pid, shop, title, brand, category in conn.execute(
            sa.select(p.c.product_id, p.c.shop_id, p.c.title, p.c.brand_id, p.c.category)
        ):
            index.add(pid, shop, title, brand, category)
        return index
