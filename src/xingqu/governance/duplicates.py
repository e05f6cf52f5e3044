"""Near-duplicate listings (重复铺货) in the same shop: MinHash over normalised title words plus brand and
category, LSH for candidates, and the exact Jaccard similarity of the token sets for the decision."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from datasketch import MinHash, MinHashLSH

from xingqu.store import Store
from xingqu.store.schema import TABLES
from xingqu.text import tokens

NUM_PERM = 128
#: LSH finds candidates below the decision threshold by this margin, so that near misses of the
#: probabilistic index do not cost recall; the exact Jaccard check decides.
CANDIDATE_MARGIN = 0.25


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


class DuplicateIndex:
    """Listings by shop, queried for near-duplicates at or above ``threshold`` Jaccard similarity."""

    def __init__(self, threshold: float = 0.8) -> None:
        self.threshold = threshold
        self._lsh = MinHashLSH(threshold=max(0.3, threshold - CANDIDATE_MARGIN), num_perm=NUM_PERM)
        self._tokens: dict[str, set[str]] = {}
        self._shop: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._tokens)

    @staticmethod
    def _signature(toks: set[str]) -> MinHash:
        m = MinHash(num_perm=NUM_PERM)
        m.update_batch([t.encode("utf-8") for t in sorted(toks)])
        return m

    def add(
        self, listing_id: str, shop: str, title: str, brand: str | None = None, category: str | None = None
    ) -> None:
        if listing_id in self._tokens:
            return
        toks = listing_tokens(title, brand, category)
        if not toks:
            return
        self._tokens[listing_id] = toks
        self._shop[listing_id] = shop
        self._lsh.insert(listing_id, self._signature(toks))

    def find(
        self,
        shop: str,
        title: str,
        brand: str | None = None,
        category: str | None = None,
        exclude: str | None = None,
    ) -> list[Match]:
        """Listings of the same shop this one nearly repeats, most similar first."""
        toks = listing_tokens(title, brand, category)
        if not toks:
            return []
        out = []
        for other in self._lsh.query(self._signature(toks)):
            if other == exclude or self._shop.get(other) != shop:
                continue
            theirs = self._tokens[other]
            sim = len(toks & theirs) / len(toks | theirs)
            if sim >= self.threshold:
                out.append(Match(other, sim))
        return sorted(out, key=lambda m: (-m.similarity, m.listing_id))

    @classmethod
    def from_store(cls, store: Store, threshold: float = 0.8) -> DuplicateIndex:
        """Every product in the store, as the listings new ones are compared with."""
        index = cls(threshold)
        p = TABLES["products"]
        with store.reading() as conn:
            for pid, shop, title, brand, category in conn.execute(
                sa.select(p.c.product_id, p.c.shop_id, p.c.title, p.c.brand_id, p.c.category)
            ):
                index.add(pid, shop, title, brand, category)
        return index
