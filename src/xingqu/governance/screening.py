"""Listing screening before go-live: term rules by Aho-Corasick on normalised text, with context
exceptions and scope qualifiers, prohibited and restricted goods, counterfeit markers, and brand
authorisation; each decision carries its reasons and the rule-set version."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import ahocorasick

from xingqu.errors import ConfigError
from xingqu.governance.duplicates import DuplicateIndex
from xingqu.governance.normalise import normalise_term, screening_text
from xingqu.governance.prices import PriceFacts

DECISIONS = ("approve", "review", "reject")


@dataclass(frozen=True)
class Reason:
    rule: str
    group: str
    severity: str
    term: str | None
    span: tuple[int, int] | None
    message: str
    field: str = "title"


@dataclass(frozen=True)
class Decision:
    id: str
    decision: str
    reasons: list[Reason] = field(default_factory=list)
    ruleset: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "decision": self.decision,
            "ruleset": self.ruleset,
            "reasons": [{**asdict(r), "span": list(r.span) if r.span else None} for r in self.reasons],
        }


def _money(value: object) -> int | None:
    """A price in fen from a listing field (int, or a numeric string); None when absent or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class _Term:
    group: str
    kind: str
    severity: str
    message: str
    term: str


class Screener:
    """Screens listings against one rule set (``rules/listing.toml`` by default)."""

    def __init__(self, rules: dict[str, Any]) -> None:
        try:
            self.version = str(rules["version"])
            groups = rules["group"]
        except KeyError as exc:
            raise ConfigError(f"listing rules: missing {exc.args[0]!r}") from None
        self.terms = ahocorasick.Automaton()
        seen: dict[str, _Term] = {}
        for g in groups:
            for term in g["terms"]:
                key = normalise_term(term)
                if not key:
                    continue
                entry = _Term(g["name"], g.get("kind", "absolute"), g["severity"], g["message"], term)
                # a term in several groups keeps the strictest
                if key not in seen or DECISIONS.index(entry.severity) > DECISIONS.index(seen[key].severity):
                    seen[key] = entry
        for key, entry in seen.items():
            self.terms.add_word(key, (key, entry))
        self.terms.make_automaton()
        self.exceptions = ahocorasick.Automaton()
        for word in rules.get("exceptions", []):
            key = normalise_term(word)
            self.exceptions.add_word(key, key)
        if len(self.exceptions):
            self.exceptions.make_automaton()
        self.qualifiers = [normalise_term(q) for q in rules.get("scope_qualifiers", [])]
        self.restricted = list(rules.get("restricted", []))
        dup = rules.get("duplicates", {})
        self.duplicate_threshold = float(dup.get("threshold", 0.8))
        self.duplicate_severity = str(dup.get("severity", "review"))
        self.duplicate_max_changes = int(dup.get("max_word_changes", 1))
        price = rules.get("price", {})
        self.price_window_days = int(price.get("reference_window_days", 7))
        self.reference_severity = str(price.get("reference_severity", "reject"))
        self.unsupported_reference_severity = str(price.get("unsupported_reference_severity", "review"))
        self.floor_ratio = float(price.get("floor_ratio", 0.3))
        self.floor_mads = float(price.get("floor_mads", 3.0))
        self.floor_severity = str(price.get("floor_severity", "review"))
        self.floor_min_samples = int(price.get("floor_min_samples", 5))
        vague = rules.get("vague_titles", {})
        # longest first, so that 秒杀专项 goes before 秒杀
        self.vague_terms = sorted(
            {normalise_term(t) for t in vague.get("terms", [])} - {""}, key=len, reverse=True
        )
        self.vague_filler = set(normalise_term(str(vague.get("filler", ""))))
        self.vague_min_chars = int(vague.get("min_subject_chars", 2))
        self.vague_severity = str(vague.get("severity", "review"))
        self.vague_message = str(vague.get("message", "the title names no product"))
        for name in ("duplicate", "reference", "unsupported_reference", "floor", "vague"):
            value = getattr(self, f"{name}_severity")
            if value not in DECISIONS[1:]:
                raise ConfigError(f"listing rules: severity {value!r} of {name} must be review or reject")

    @classmethod
    def default(cls) -> Screener:
        return cls.from_file(Path(str(resources.files("xingqu.governance") / "rules" / "listing.toml")))

    @classmethod
    def from_file(cls, path: Path | str) -> Screener:
        try:
            rules = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read listing rules {path}: {exc}") from None
        try:
            return cls(rules)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"listing rules {path}: missing or malformed {exc}") from None

    def scan(self, text: str, where: str = "title") -> list[Reason]:
        """Term reasons found in ``text``, with spans in the original text."""
        norm, index = screening_text(text)
        covered: list[tuple[int, int]] = []
        if len(self.exceptions):
            covered = [(end - len(w) + 1, end) for end, w in self.exceptions.iter(norm)]
        scoped = any(q in norm for q in self.qualifiers)
        found: dict[tuple[str, int], Reason] = {}
        for end, (key, t) in self.terms.iter(norm):
            start = end - len(key) + 1
            if any(s <= start and end <= e for s, e in covered):
                continue  # inside an ordinary word such as 最近 or 第一次
            if t.kind == "relative" and scoped:
                continue  # a stated scope makes a relative claim acceptable
            span = (index[start], index[end] + 1)
            found[(t.group, start)] = Reason(
                f"{t.kind}:{t.group}", t.group, t.severity, t.term, span, t.message, where
            )
        # keep the longest match where matches overlap within a group (最低价 over 最低)
        reasons = sorted(found.values(), key=lambda r: (r.span[0], -(r.span[1] - r.span[0])))  # type: ignore[index]
        kept: list[Reason] = []
        for r in reasons:
            if kept and kept[-1].group == r.group and r.span[1] <= kept[-1].span[1]:  # type: ignore[index]
                continue
            kept.append(r)
        return kept

    def duplicate_index(self) -> DuplicateIndex:
        """An empty duplicate index with this rule set's settings."""
        return DuplicateIndex(self.duplicate_threshold, self.duplicate_max_changes)

    def vague(self, title: str) -> bool:
        """Whether a title names no product: only vague words (好物, 链接, 百货 …), numbers and fillers."""
        rest, _ = screening_text(title)
        for term in self.vague_terms:
            rest = rest.replace(term, "")
        subject = [c for c in rest if not c.isdigit() and c not in self.vague_filler]
        return len(subject) < self.vague_min_chars

    def _price_reasons(self, listing: dict[str, Any], lid: str, prices: PriceFacts | None) -> list[Reason]:
        out: list[Reason] = []
        price, reference = _money(listing.get("price")), _money(listing.get("reference_price"))
        if price is not None and reference is not None and reference > price:
            basis = _money(listing.get("lowest_price_7d"))
            if basis is None and prices is not None:
                basis = prices.reference_basis(lid)
            days = self.price_window_days
            if basis is None:
                out.append(
                    Reason(
                        "price:reference_unsupported",
                        "price",
                        self.unsupported_reference_severity,
                        str(reference),
                        None,
                        f"reference price {reference / 100:.2f} has no sale in the last {days} days or "
                        "before to support it",
                        "reference_price",
                    )
                )
            elif reference > basis:
                out.append(
                    Reason(
                        "price:reference_7d",
                        "price",
                        self.reference_severity,
                        str(reference),
                        None,
                        f"reference price {reference / 100:.2f} is above the lowest price of the last "
                        f"{days} days ({basis / 100:.2f})",
                        "reference_price",
                    )
                )
        if price is not None and prices is not None:
            brand = listing.get("brand") or listing.get("brand_id")
            usual = prices.usual(brand, listing.get("category"))
            floor = (
                None
                if usual is None
                else usual[0] * min(self.floor_ratio, math.exp(-self.floor_mads * usual[1]))
            )
            if usual is not None and floor is not None and price < floor:
                out.append(
                    Reason(
                        "price:below_floor",
                        "price",
                        self.floor_severity,
                        str(price),
                        None,
                        f"price {price / 100:.2f} is under the floor {floor / 100:.2f} of the usual "
                        f"{usual[0] / 100:.2f} for this brand and category (counterfeit risk)",
                        "price",
                    )
                )
        return out

    def screen(
        self,
        listing: dict[str, Any],
        authorised_brands: Iterable[str] | None = None,
        duplicates: DuplicateIndex | None = None,
        prices: PriceFacts | None = None,
    ) -> Decision:
        """Decide one listing: ``reject`` on any reject reason, else ``review`` on any review reason.

        With ``duplicates``, a listing that nearly repeats another of the same shop is flagged too; with
        ``prices``, the price rules use the store's sales and usual prices."""
        lid = str(listing.get("id") or listing.get("product_id") or "")
        title = str(listing.get("title") or "")
        reasons = self.scan(title, "title")
        reasons += self.scan(str(listing.get("description") or ""), "description")
        if self.vague_terms and title.strip() and self.vague(title):
            reasons.append(
                Reason(
                    "title:vague",
                    "vague_title",
                    self.vague_severity,
                    title,
                    (0, len(title)),
                    self.vague_message,
                )
            )
        reasons += self._price_reasons(listing, lid, prices)
        category = str(listing.get("category") or "")
        quals = set(listing.get("qualifications") or [])
        for r in self.restricted:
            if (category == r["category"] or category.startswith(r["category"] + ">")) and r[
                "qualification"
            ] not in quals:
                reasons.append(
                    Reason(
                        "restricted:qualification",
                        "restricted",
                        "review",
                        None,
                        None,
                        r["message"],
                        "category",
                    )
                )
        brand = listing.get("brand") or listing.get("brand_id")
        if brand and authorised_brands is not None and brand not in set(authorised_brands):
            reasons.append(
                Reason(
                    "brand:not_authorised",
                    "brand",
                    "reject",
                    str(brand),
                    None,
                    "the shop is not authorised to sell this brand",
                    "brand",
                )
            )
        shop = listing.get("shop") or listing.get("shop_id")
        if duplicates is not None and shop:
            for m in duplicates.find(
                str(shop), str(listing.get("title") or ""), brand, category or None, exclude=lid or None
            )[:1]:
                reasons.append(
                    Reason(
                        "listing:duplicate",
                        "duplicate",
                        self.duplicate_severity,
                        m.listing_id,
                        None,
                        f"nearly repeats listing {m.listing_id} of the same shop "
                        f"(similarity {m.similarity:.2f})",
                        "title",
                    )
                )
        decision = "approve"
        for r in reasons:
            if DECISIONS.index(r.severity) > DECISIONS.index(decision):
                decision = r.severity
        return Decision(lid, decision, reasons, self.version)
