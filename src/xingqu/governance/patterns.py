"""Claims built from two word families rather than one fixed term — a verb of treating and a disease
(治 … 失眠), a state organ and an endorsement (国家机关 … 指定), a property and a rank (清洁力 … 第一) —
and a few shapes best said as a regular expression (a phone number, zui + a character). The same
mechanism, as exceptions, names what is not a claim (第一 + a counter: 第一轮; 最高 + a measured
quantity: 最高温度)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ahocorasick

from xingqu.errors import ConfigError
from xingqu.governance.normalise import normalise_term, term_variants


@dataclass(frozen=True)
class Pattern:
    """One rule: ``first`` then ``then`` with at most ``gap`` characters between (either order when
    ``any_order``), or a regular expression on the normalised text, tried only when the text holds one of
    ``needs`` (when given): most titles skip it at the cost of a substring test."""

    name: str
    kind: str
    severity: str
    message: str
    gap: int = 0
    any_order: bool = False
    regex: re.Pattern[str] | None = None
    needs: tuple[str, ...] = ()


def _family(words: Iterable[str], variants: bool, families: dict[str, list[str]]) -> set[str]:
    """The normalised forms of a word family; ``@name`` stands for the words of the named family."""
    out: set[str] = set()
    for w in words:
        if w.startswith("@"):
            if w[1:] not in families:
                raise ConfigError(f"listing rules: no word family {w[1:]!r} (used as {w!r})")
            out |= _family(families[w[1:]], variants, {})
        else:
            out |= term_variants(w) if variants else {normalise_term(w)}
    return out - {""}


class Patterns:
    """Every pair rule's families in one automaton, so that a text is read once for all of them.
    ``families`` are named word lists a rule may use as ``@name`` (the diseases, say, that both the
    treating verbs and the promised outcomes pair with)."""

    def __init__(
        self,
        specs: Iterable[dict[str, Any]],
        default_severity: str = "review",
        families: dict[str, list[str]] | None = None,
    ) -> None:
        families = families or {}
        self.rules: list[Pattern] = []
        self.automaton = ahocorasick.Automaton()
        roles: dict[str, list[tuple[int, int]]] = {}
        for spec in specs:
            try:
                rule = Pattern(
                    str(spec["name"]),
                    str(spec.get("kind", "absolute")),
                    str(spec.get("severity", default_severity)),
                    str(spec.get("message", spec["name"])),
                    int(spec.get("gap", 0)),
                    bool(spec.get("any_order", False)),
                    re.compile(spec["regex"]) if "regex" in spec else None,
                    tuple(spec.get("needs", ())),
                )
            except (KeyError, re.error) as exc:
                raise ConfigError(f"listing rules: pattern {spec.get('name')!r}: {exc}") from None
            i = len(self.rules)
            self.rules.append(rule)
            if rule.regex is not None:
                continue
            variants = bool(spec.get("variants", False))
            for role, key in ((0, "first"), (1, "then")):
                if not spec.get(key):
                    raise ConfigError(f"listing rules: pattern {rule.name!r} needs {key!r} or 'regex'")
                for word in _family(spec[key], variants, families):
                    roles.setdefault(word, []).append((i, role))
        # the expression rules alone, in order; the words one of which a text must hold for a rule to be
        # tried are found in one pass for all of them
        self._regex_rules = [(i, r, r.regex) for i, r in enumerate(self.rules) if r.regex is not None]
        self._needs = ahocorasick.Automaton()
        needed: dict[str, set[int]] = {}
        for i, rule, _ in self._regex_rules:
            for word in rule.needs:
                needed.setdefault(word, set()).add(i)
        for word, rules in needed.items():
            self._needs.add_word(word, frozenset(rules))
        if len(self._needs):
            self._needs.make_automaton()
        for word, uses in roles.items():
            self.automaton.add_word(word, (len(word), uses))
        if len(self.automaton):
            self.automaton.make_automaton()

    def __len__(self) -> int:
        return len(self.rules)

    def find(
        self, norm: str, covered: list[tuple[int, int]] | None = None, every: bool = False
    ) -> list[tuple[int, int, Pattern]]:
        """(start, end inclusive, rule) of the first match of each rule in normalised text (of every
        match with ``every``); a family word inside one of the ``covered`` spans (an exception such as
        不能代替药物治疗疾病) takes part in none."""
        covered = covered or []
        out: list[tuple[int, int, Pattern]] = []
        if len(self.automaton):
            seen: dict[int, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = {}
            for end, (n, uses) in self.automaton.iter(norm):
                start = end - n + 1
                if covered and any(s <= start and end <= e and e - s > end - start for s, e in covered):
                    continue
                for i, role in uses:
                    pair = seen.get(i)
                    if pair is None:
                        pair = seen[i] = ([], [])
                    pair[role].append((start, end))
            for i, (firsts, thens) in seen.items():
                if not firsts or not thens:
                    continue
                rule = self.rules[i]
                hits = [
                    (a[0], b[1]) if b[0] > a[1] else (b[0], a[1])
                    for a in firsts
                    for b in thens
                    if 0 <= b[0] - a[1] - 1 <= rule.gap
                    or (rule.any_order and 0 <= a[0] - b[1] - 1 <= rule.gap)
                ]
                out.extend((s, e, rule) for s, e in (hits if every else hits[:1]))
        wanted: set[int] = set()
        if len(self._needs):
            for _, rules in self._needs.iter(norm):
                wanted |= rules
        for i, rule, regex in self._regex_rules:
            if not rule.needs or i in wanted:
                for m in regex.finditer(norm):
                    if not any(s <= m.start() and m.end() - 1 <= e for s, e in covered):
                        out.append((m.start(), m.end() - 1, rule))
                        if not every:
                            break
        return out
