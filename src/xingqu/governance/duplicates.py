"""Near-duplicate listings (重复铺货) in the same shop (or shop group): listings of the same brand and
category whose normalised title words have a Jaccard similarity at or above the threshold, or differ by
at most ``max_changes`` words (one word added to a three-word title is a minor change, though its
Jaccard similarity is only 0.75).

Duplicates only count within one shop, brand and category, so the index is an inverted index per such
group: a query counts, for each listing of the group sharing a word with it, the words in common, and
Jaccard follows from the two set sizes. That is exact (no probabilistic candidate misses, unlike MinHash
LSH) and costs time in proportion to the postings of the query's words in that one group, whatever the
size of the catalogue.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from xingqu.text import tokens


@lru_cache(maxsize=8192)
def listing_tokens(title: str) -> frozenset[str]:
    """What two listings' titles are compared on: their normalised words (cached: a screened listing
    is looked up, then added, with the same title)."""
    return frozenset(tokens(title or ""))


@dataclass(frozen=True)
class Match:
    listing_id: str
    similarity: float


class _Group:
    """One shop's listings of one brand and category: word → positions, and each position's id and
    word count."""

    __slots__ = ("ids", "postings", "sizes")

    def __init__(self) -> None:
        self.postings: dict[int, list[int]] = {}
        self.ids: list[str] = []
        self.sizes: list[int] = []


class DuplicateIndex:
    """Listings by shop, queried for near-duplicates at or above ``threshold`` Jaccard similarity."""

    def __init__(self, threshold: float = 0.8, max_changes: int = 1) -> None:
        self.threshold = threshold
        self.max_changes = max_changes
        self._groups: dict[tuple[str, str, str], _Group] = {}
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
        toks = listing_tokens(title)
        if not toks:
            return
        self._known.add(listing_id)
        s = self._groups.setdefault((shop, brand or "", category or ""), _Group())
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
        """Listings of the same shop, brand and category this one nearly repeats, most similar first."""
        s = self._groups.get((shop, brand or "", category or ""))
        toks = listing_tokens(title)
        if s is None or not toks:
            return []
        shared: Counter[int] = Counter()
        for t in self._ids(toks, grow=False):
            shared.update(s.postings.get(t, ()))
        n = len(toks)
        out = []
        for pos, common in shared.items():
            union = n + s.sizes[pos] - common
            sim = common / union
            if (sim >= self.threshold or union - common <= self.max_changes) and s.ids[pos] != exclude:
                out.append(Match(s.ids[pos], sim))
        return sorted(out, key=lambda m: (-m.similarity, m.listing_id))

    @classmethod
    def of(
        cls,
        listings: Iterable[tuple[str, str, str, str | None, str | None]],
        threshold: float = 0.8,
        max_changes: int = 1,
    ) -> DuplicateIndex:
        """An index of (listing, shop, title, brand, category) rows (the store's products:
        ``Catalogue.listings``), as the listings new ones are compared with."""
        index = cls(threshold, max_changes)
        for pid, shop, title, brand, category in listings:
            index.add(pid, shop, title, brand, category)
        return index
