"""Near-duplicate listings (重复铺货) in the same shop (or shop group): listings of the same brand and
category whose normalised title words have a Jaccard similarity at or above the threshold, or differ by
at most ``max_changes`` words (one word added to a three-word title is a minor change, though its
Jaccard similarity is only 0.75), or whose titles differ in one place by at most ``max_changed_chars``
characters after a common head of at least ``min_head_chars`` (the brand and the product's name, which
a title puts first: a change there names another product) with the rest (at least ``min_kept_share``
of the longer title) the same: one detail changed, as 500g for 1000g or 条纹 for 格纹, however the word
splitter cut the titles (it cuts 显瘦中长款 and 显瘦长款 into different words).

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

from xingqu.text import normalise, tokens


@lru_cache(maxsize=8192)
def listing_tokens(title: str) -> frozenset[str]:
    """What two listings' titles are compared on: their normalised words (cached: a screened listing
    is looked up, then added, with the same title)."""
    return frozenset(tokens(title or ""))


@lru_cache(maxsize=8192)
def listing_chars(title: str) -> str:
    """A title's letters, digits and characters only, normalised (what the one-place edit compares)."""
    return "".join(c for c in normalise(title or "") if c.isalnum())


def one_place_edit(a: str, b: str) -> tuple[int, int, int]:
    """(characters changed, characters kept, common head) when ``b`` is ``a`` with one stretch replaced:
    the longer of the two differing stretches between their common start and common end, the length of
    both, and the length of the common start."""
    n = min(len(a), len(b))
    p = 0
    while p < n and a[p] == b[p]:
        p += 1
    s = 0
    while s < n - p and a[-1 - s] == b[-1 - s]:
        s += 1
    return max(len(a), len(b)) - p - s, p + s, p


@dataclass(frozen=True)
class Match:
    listing_id: str
    similarity: float


class _Group:
    """One shop's listings of one brand and category: word → positions, and each position's id and
    word count."""

    __slots__ = ("chars", "ids", "postings", "sizes")

    def __init__(self) -> None:
        self.postings: dict[int, list[int]] = {}
        self.ids: list[str] = []
        self.sizes: list[int] = []
        self.chars: list[str] = []


class DuplicateIndex:
    """Listings by shop, queried for near-duplicates at or above ``threshold`` Jaccard similarity, within
    ``max_changes`` words, or (with ``max_changed_chars`` > 0) one place edited."""

    def __init__(
        self,
        threshold: float = 0.8,
        max_changes: int = 1,
        max_changed_chars: int = 0,
        min_kept_share: float = 0.75,
        min_head_chars: int = 5,
    ) -> None:
        self.threshold = threshold
        self.max_changes = max_changes
        self.max_changed_chars = max_changed_chars
        self.min_kept_share = min_kept_share
        self.min_head_chars = min_head_chars
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
        if self.max_changed_chars:
            s.chars.append(listing_chars(title))
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
        chars = listing_chars(title) if self.max_changed_chars else ""
        head_chars = self.min_head_chars
        for pos, common in shared.items():
            union = n + s.sizes[pos] - common
            sim = common / union
            if s.ids[pos] == exclude:
                continue
            if sim >= self.threshold or union - common <= self.max_changes:
                out.append(Match(s.ids[pos], sim))
            elif (
                chars
                and abs(len(chars) - len(s.chars[pos])) <= self.max_changed_chars
                and chars[:head_chars] == s.chars[pos][:head_chars]
            ):
                changed, kept, head = one_place_edit(chars, s.chars[pos])
                if (
                    changed <= self.max_changed_chars
                    and head >= self.min_head_chars
                    and kept >= self.min_kept_share * max(len(chars), len(s.chars[pos]))
                ):
                    out.append(Match(s.ids[pos], sim))
        return sorted(out, key=lambda m: (-m.similarity, m.listing_id))

    @classmethod
    def of(
        cls,
        listings: Iterable[tuple[str, str, str, str | None, str | None]],
        threshold: float = 0.8,
        max_changes: int = 1,
        max_changed_chars: int = 0,
        min_kept_share: float = 0.75,
        min_head_chars: int = 5,
    ) -> DuplicateIndex:
        """An index of (listing, shop, title, brand, category) rows (the store's products:
        ``Catalogue.listings``), as the listings new ones are compared with."""
        index = cls(threshold, max_changes, max_changed_chars, min_kept_share, min_head_chars)
        for pid, shop, title, brand, category in listings:
            index.add(pid, shop, title, brand, category)
        return index
