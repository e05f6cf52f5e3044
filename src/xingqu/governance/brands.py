"""Brand names in which a listed term is part of a name, not a claim (绝对伏特加, 永久 bicycles): the
names of the brands table and a list of well-known brands shipped with the rules. The SAMR guidance on
absolute terms (2023) exempts a registered trade mark or product name that contains one."""

from __future__ import annotations

from collections.abc import Iterable

import ahocorasick

from xingqu.governance.normalise import normalise_term


class BrandNames:
    """Normalised brand names, found in text by one automaton; ``of`` maps a brand id or name to the
    names of that brand (so that a listing's own brand is known by its id as well as by its name)."""

    def __init__(self, brands: Iterable[tuple[str | None, str]] = ()) -> None:
        self.of: dict[str, set[str]] = {}
        for brand, name in brands:
            self._add(brand, name)
        self._automaton: ahocorasick.Automaton | None = None

    def _add(self, brand: str | None, name: str) -> None:
        key = normalise_term(name)
        if not key:
            return
        for ref in {name, key, *([brand] if brand else [])}:
            self.of.setdefault(ref, set()).add(key)

    def with_brands(self, brands: Iterable[tuple[str | None, str]]) -> BrandNames:
        """These names and ``brands`` (id, name) besides."""
        out = BrandNames()
        out.of = {k: set(v) for k, v in self.of.items()}
        for brand, name in brands:
            out._add(brand, name)
        return out

    def __len__(self) -> int:
        return len({k for keys in self.of.values() for k in keys})

    def automaton(self) -> ahocorasick.Automaton:
        if self._automaton is None:
            self._automaton = ahocorasick.Automaton()
            for key in {k for keys in self.of.values() for k in keys}:
                self._automaton.add_word(key, len(key))
            if len(self._automaton):
                self._automaton.make_automaton()
        return self._automaton

    def own(self, brand: object) -> set[str]:
        """The normalised names of a listing's brand (given by id or by name); empty when unknown."""
        if not brand:
            return set()
        return self.of.get(str(brand)) or self.of.get(normalise_term(str(brand))) or set()

    def occurrences(self, norm: str) -> list[tuple[int, int, str]]:
        """(start, end inclusive, name) of every brand name in normalised text."""
        a = self.automaton()
        if not len(a):
            return []
        return [(end - n + 1, end, norm[end - n + 1 : end + 1]) for end, n in a.iter(norm)]
