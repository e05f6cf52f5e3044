"""Listing titles and descriptions from the catalogue vocabulary (``text.catalogue()``).

A title is its leaf's template filled with the product's own words: the style of its first latent style
axis, the need of its first need slot, a material, a noun and a spec (dearer products of a leaf take the
bigger specs), after the brand. Distinct products of one shop, brand and leaf differ in their words as
distinct goods of one shop do: their title words (as ``xingqu.text.tokens`` splits them) overlap less than
a near-duplicate's; only planted near-duplicates repeat a title.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from xingqu.sim import text
from xingqu.text import tokens

SLOTS = ("style", "need", "material", "noun", "spec")
_SEARCH = ("style", "need", "spec", "material", "noun")  # the last changes fastest
#: Two titles of one group stand apart when their words' Jaccard similarity is under this and at least
#: ``MIN_CHANGES`` words are added, removed or changed (a margin under what screening calls a repeat).
#: A title is compared with at most this many earlier titles of its group (the newest), and at most
#: this many combinations of words are tried for it: a crowded group (hundreds of one shop's goods of
#: one brand and leaf) then costs linear time, where comparing every pair never finished.
MAX_COMPARED = 64
MAX_TRIED = 1024
MAX_SIMILARITY = 0.7
MIN_CHANGES = 3


@cache
def _tokens(word: str) -> frozenset[str]:
    return frozenset(tokens(word))


def _apart(a: frozenset[str], b: frozenset[str]) -> float:
    """How far apart two titles' words are: 1 when they stand apart, else their similarity's shortfall."""
    common, union = len(a & b), len(a | b)
    if union - common >= MIN_CHANGES and common / union < MAX_SIMILARITY:
        return 1.0
    return -common / union


@dataclass
class Listing:
    """One product's title parts: the brand shown, the filled template (body) and its words."""

    brand: str
    body: str
    words: dict[str, str]

    @property
    def title(self) -> str:
        return f"{self.brand} {self.body}" if self.brand else self.body


def spec_index(leaf_of: np.ndarray, log_price: np.ndarray, n_specs: np.ndarray) -> np.ndarray:
    """Per product, the spec its price rank within its leaf gives (cheapest third → smallest spec …)."""
    out = np.zeros(len(leaf_of), dtype=np.int64)
    for key in np.unique(leaf_of):
        m = np.flatnonzero(leaf_of == key)
        rank = np.argsort(np.argsort(log_price[m], kind="stable"), kind="stable")
        out[m] = np.minimum((rank * n_specs[m] // max(len(m), 1)), n_specs[m] - 1)
    return out


def compose(
    leaves: list[text.Leaf],
    brands: list[str],
    groups: list[tuple[int, int, int]],
    styles: np.ndarray,
    needs: np.ndarray,
    material: np.ndarray,
    noun: np.ndarray,
    spec: np.ndarray,
    axes: tuple[int, int],
) -> tuple[list[Listing], np.ndarray, np.ndarray]:
    """Every product's title parts, and the style axis and need slot its title shows.

    ``groups`` says which products must not look alike (shop, brand, leaf); ``styles`` and ``needs``
    are the products' two latent style axes and need slots, of ``axes`` = (styles, need slots) in all.
    A title shows one of the product's own; only when a crowded group leaves no other way does it show
    another (and the caller makes that the product's own)."""
    seen: dict[tuple[int, int, int], list[frozenset[str]]] = {}
    out = []
    shown_style = np.asarray(styles[:, 0]).copy()
    shown_need = np.asarray(needs[:, 0]).copy()
    for i, leaf in enumerate(leaves):
        own = seen.setdefault(groups[i], [])
        style_axes = _by_word(list(styles[i]) + list(range(axes[0])), leaf.style)
        need_slots = _by_word(list(needs[i]) + list(range(axes[1])), leaf.need)
        options = {
            "style": [leaf.style(a)[0] for a in style_axes],
            "need": [leaf.need(a)[0] for a in need_slots],
            "material": _rotate(leaf.materials, int(material[i])),
            "noun": _rotate(leaf.nouns, int(noun[i])),
            "spec": _rotate(leaf.specs, int(spec[i])),
        }
        brand = _tokens(brands[i])
        best, best_gap, best_toks = None, -2.0, frozenset()
        # the free words (noun, material) change first, then the spec, the need and the style
        recent = own[-MAX_COMPARED:]
        for picked in itertools.islice(itertools.product(*(options[s] for s in _SEARCH)), MAX_TRIED):
            toks = brand.union(*(_tokens(w) for w in picked))
            gap = min((_apart(toks, o) for o in recent), default=1.0)
            if gap > best_gap:
                best, best_gap, best_toks = picked, gap, toks
            if gap >= 1.0:
                break
        assert best is not None
        own.append(best_toks)
        words = {s: best[_SEARCH.index(s)] for s in SLOTS}
        shown_style[i] = style_axes[options["style"].index(words["style"])]
        shown_need[i] = need_slots[options["need"].index(words["need"])]
        out.append(Listing(brands[i], text.fill(leaf.template, words), words))
    return out, shown_style, shown_need


def _by_word(slots: list[int], word: Callable[[int], tuple[str, str]]) -> list[int]:
    """``slots`` in order, without repeats and without two that show the same word."""
    out, words = [], set()
    for s in slots:
        w = word(int(s))[0]
        if w not in words:
            words.add(w)
            out.append(int(s))
    return out


def _rotate(values: tuple[str, ...], first: int) -> list[str]:
    """``values`` starting at index ``first`` (the product's own choice first, then the others)."""
    k = first % len(values)
    return list(values[k:] + values[:k])


def description(leaf: text.Leaf, words: dict[str, str], pick: int) -> str:
    """A product description from one of its leaf's description templates."""
    return text.fill(leaf.descriptions[pick % len(leaf.descriptions)], words)
