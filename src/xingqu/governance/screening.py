"""Listing screening before go-live: term rules by Aho-Corasick on normalised text, with context
exceptions and scope qualifiers, prohibited and restricted goods, counterfeit markers, and brand
authorisation; each decision carries its reasons and the rule-set version."""

from __future__ import annotations

import bisect
import math
import re
import tomllib
from collections.abc import Iterable, Set
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import ahocorasick

from xingqu.errors import ConfigError
from xingqu.governance.brands import BrandNames
from xingqu.governance.duplicates import DuplicateIndex
from xingqu.governance.normalise import (
    has_tone_marks,
    homophone_variants,
    initials,
    normalise_term,
    screening_norm,
    screening_text,
    term_variants,
    whole_pinyin,
)
from xingqu.governance.patterns import Patterns
from xingqu.governance.prices import PriceFacts

DECISIONS = ("approve", "review", "reject")

#: A title of a book, film or song in 《》 is a name, not a claim (《最好的我们》, 《第一炉香》).
_TITLE = re.compile(r"《[^《》]{1,40}》")


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


def _ascii_kind(ch: str) -> str:
    return "letter" if ch.isascii() and ch.isalpha() else "digit" if ch.isascii() and ch.isdigit() else ""


def _letter_after(text: str, index: list[int], end: int) -> bool:
    """Whether the character written right after the match ending at ``end`` of the normalised text is a
    Latin letter: a string of initials (tdlf) counts only as a whole word."""
    after = index[end] + 1
    if after >= len(text):
        return False
    written = normalise_term(text[after])
    return bool(written) and _ascii_kind(written[0]) == "letter"


def _inside_a_word(text: str, index: list[int], key: str, start: int, end: int) -> bool:
    """Whether a match of ``key`` at ``start..end`` of the normalised text runs on from the letters or digits
    written right before it, or from digits right after it, in the original text: a term that starts with
    a letter or digit is a word of its own, and one that ends with a digit is a whole number (a letter
    after one is kept: 加vx后 a WeChat id)."""
    first, last = _ascii_kind(key[0]), _ascii_kind(key[-1])
    before, after = index[start] - 1, index[end] + 1
    if first and before >= 0:
        written = normalise_term(text[before])
        if written and _ascii_kind(written[-1]) == first:
            return True
    if last == "digit" and after < len(text):
        written = normalise_term(text[after])
        if written and _ascii_kind(written[0]) == "digit":
            return True
    return False


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
        # characters merchants write for another that sounds the same (醉 for 最), from the rules
        self.homophones = {str(k): [str(x) for x in v] for k, v in rules.get("homophones", {}).items()}
        homophones = self.homophones
        spelled_initials: dict[str, _Term] = {}
        for g in groups:
            for term in g["terms"]:
                entry = _Term(g["name"], g.get("kind", "absolute"), g["severity"], g["message"], term)
                key = initials(term)  # two terms with the same initials: the strictest, as for forms
                if key and (
                    key not in spelled_initials
                    or DECISIONS.index(entry.severity) > DECISIONS.index(spelled_initials[key].severity)
                ):
                    spelled_initials[key] = entry
                for key in term_variants(term) | homophone_variants(term, homophones):
                    # a form in several groups keeps the strictest
                    if key not in seen or DECISIONS.index(entry.severity) > DECISIONS.index(
                        seen[key].severity
                    ):
                        seen[key] = entry
        #: terms written as the initials of all their characters (tdlf): matched only as a whole word
        self.initials = {key for key in spelled_initials if key not in seen}
        for key in self.initials:
            seen[key] = spelled_initials[key]
        for key, entry in seen.items():
            self.terms.add_word(key, (key, entry))
        self.terms.make_automaton()
        # terms spelled out whole in pinyin too short to read as pinyin in Latin text (diyi, weiyi),
        # looked for only in a text that writes tone marks (dì yī), which makes it pinyin for sure
        self.toned = ahocorasick.Automaton()
        for g in groups:
            for term in g["terms"]:
                spelled = whole_pinyin(term)
                if len(spelled) >= 4 and spelled not in seen and spelled not in self.toned:
                    self.toned.add_word(spelled, (spelled, seen[normalise_term(term)]))
        if len(self.toned):
            self.toned.make_automaton()
        self.exceptions = ahocorasick.Automaton()
        for word in rules.get("exceptions", []):
            for key in term_variants(word):
                self.exceptions.add_word(key, key)
        if len(self.exceptions):
            self.exceptions.make_automaton()
        families = {str(k): list(v) for k, v in rules.get("families", {}).items()}
        self.patterns = Patterns(rules.get("pattern", []), families=families)
        self.exception_patterns = Patterns(
            [{"name": "exception", **spec} for spec in rules.get("exception_pattern", [])],
            families=families,
        )
        self.brands = BrandNames((None, name) for name in rules.get("known_brands", []))
        self.qualifiers = [normalise_term(q) for q in rules.get("scope_qualifiers", [])]
        self.restricted = list(rules.get("restricted", []))
        dup = rules.get("duplicates", {})
        self.duplicate_threshold = float(dup.get("threshold", 0.8))
        self.duplicate_severity = str(dup.get("severity", "review"))
        self.duplicate_max_changes = int(dup.get("max_word_changes", 1))
        self.duplicate_max_changed_chars = int(dup.get("max_changed_chars", 0))
        self.duplicate_min_kept_share = float(dup.get("min_kept_share", 0.75))
        self.duplicate_min_head_chars = int(dup.get("min_head_chars", 5))
        price = rules.get("price", {})
        self.price_window_days = int(price.get("reference_window_days", 7))
        self.reference_severity = str(price.get("reference_severity", "reject"))
        self.unsupported_reference_severity = str(price.get("unsupported_reference_severity", "review"))
        self.catalogue_supports_reference = bool(price.get("catalogue_supports_reference", False))
        self.floor_ratio = float(price.get("floor_ratio", 0.3))
        self.floor_mads = float(price.get("floor_mads", 3.0))
        self.floor_severity = str(price.get("floor_severity", "review"))
        self.floor_min_samples = int(price.get("floor_min_samples", 5))
        vague = rules.get("vague_titles", {})
        # longest first, so that 秒杀专项 goes before 秒杀
        self.vague_terms = sorted(
            {normalise_term(t) for t in vague.get("terms", [])} - {""}, key=len, reverse=True
        )
        self.vague_markers = [normalise_term(t) for t in vague.get("markers", [])]
        # one pass removes every vague word, longest first as the alternation tries them in order
        self._vague_words = (
            re.compile("|".join(map(re.escape, self.vague_terms))) if self.vague_terms else None
        )
        self.lucky_bags = [normalise_term(t) for t in vague.get("lucky_bags", [])]
        self.random_contents = [normalise_term(t) for t in vague.get("random_contents", [])]
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

    def scan(
        self,
        text: str,
        where: str = "title",
        brands: BrandNames | None = None,
        own: Set[str] = frozenset(),
        scope: bool = True,
    ) -> list[Reason]:
        """Term reasons found in ``text``, with spans in the original text. A term inside an ordinary word
        (最近, 第一次) or inside a brand name (``brands``, else the well-known ones) is no claim: inside a
        longer name always, inside a name as long as the term only when it is the listing's own brand
        (``own``: its normalised names). With ``scope`` a relative claim passes when the text states a
        scope; without, it is kept for the caller to judge."""
        norm = screening_norm(text)
        hits = list(self.terms.iter(norm))
        if len(self.toned) and has_tone_marks(text):
            hits += self.toned.iter(norm)
        claims = self.patterns.find(norm)
        if not hits and not claims:
            return []  # exceptions only ever remove matches: none to remove
        index = screening_text(text)[1]  # where each character was written, for spans
        covered: list[tuple[int, int]] = []
        if len(self.exceptions):
            covered = [(end - len(w) + 1, end) for end, w in self.exceptions.iter(norm)]
        if len(self.exception_patterns):
            covered += [(s, e) for s, e, _ in self.exception_patterns.find(norm, every=True)]
        if "《" in text:
            for m in _TITLE.finditer(text):
                s, e = bisect.bisect_left(index, m.start()), bisect.bisect_left(index, m.end()) - 1
                if s <= e:
                    covered.append((s, e))
        names = (brands if brands is not None else self.brands).occurrences(norm)
        matches = []
        for end, (key, t) in hits:
            start = end - len(key) + 1
            if any(s <= start and end <= e for s, e in covered):
                continue  # inside an ordinary word such as 最近 or 第一次
            if any(s <= start and end <= e and (e - s > end - start or n in own) for s, e, n in names):
                continue  # part of a brand name
            if _inside_a_word(text, index, key, start, end):
                continue  # no1 in "nano1", 第1 in "第12代", 100% in "1100%"
            if key in self.initials and _letter_after(text, index, end):
                continue  # initials run on into a longer Latin word

            matches.append((start, end, t))
        if claims and covered:
            claims = self.patterns.find(norm, covered)
        for start, end, p in claims:
            if any(s <= start <= e for s, e, _ in names):
                continue  # begins inside a brand name: VXE R1 is a mouse, not a WeChat id
            matches.append((start, end, _Term(p.name, p.kind, p.severity, p.message, norm[start : end + 1])))
        scoped = scope and any(q in norm for q in self.qualifiers)
        found: list[Reason] = []
        for start, end, t in matches:
            if any(s <= start and end <= e and e - s > end - start for s, e, _ in matches):
                continue  # a longer term says more: 最低价 over 最低, 最新 (relative) over 最
            if t.kind == "relative" and scoped:
                continue  # a stated scope makes a relative claim acceptable
            span = (index[start], index[end] + 1)
            found.append(Reason(f"{t.kind}:{t.group}", t.group, t.severity, t.term, span, t.message, where))
        return sorted(found, key=lambda r: r.span)  # type: ignore[arg-type, return-value]

    def _description_reasons(
        self, description: str, title: list[Reason], brands: BrandNames, own: Set[str]
    ) -> list[Reason]:
        """The description's reasons; when it states a scope, the title's relative claims that it makes
        again are scoped too (title 店铺热卖第一, description 店铺热卖第一（店铺后台数据）), so they are
        taken out of ``title`` (in place)."""
        found = self.scan(description, "description", brands, own, scope=False)
        relative = [r for r in found if r.rule.startswith("relative:")]
        if not relative or not any(q in screening_norm(description) for q in self.qualifiers):
            return found
        restated = {normalise_term(r.term) for r in relative if r.term}
        title[:] = [
            r
            for r in title
            if not (r.rule.startswith("relative:") and r.term and normalise_term(r.term) in restated)
        ]
        return [r for r in found if not r.rule.startswith("relative:")]

    def duplicate_index(self) -> DuplicateIndex:
        """An empty duplicate index with this rule set's settings."""
        return DuplicateIndex(
            self.duplicate_threshold,
            self.duplicate_max_changes,
            self.duplicate_max_changed_chars,
            self.duplicate_min_kept_share,
            self.duplicate_min_head_chars,
        )

    def vague(self, title: str, own: Set[str] = frozenset()) -> bool:
        """Whether a title names no product: only vague words (好物, 链接, 百货 …), numbers and fillers, a
        marker of a link that sells no one product (补差价, 专拍), or a lucky bag of random contents. The
        listing's own brand names (``own``, normalised) name no product either."""
        rest = screening_norm(title)
        if any(m in rest for m in self.vague_markers):
            return True  # a price-difference link: whatever else it says, no product
        if any(b in rest for b in self.lucky_bags) and any(r in rest for r in self.random_contents):
            return True  # 福袋 … 随机发: the seller picks the goods
        for name in sorted(own, key=len, reverse=True):
            rest = rest.replace(name, "")
        if self._vague_words is not None:
            rest = self._vague_words.sub("", rest)
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
            brand = listing.get("brand") or listing.get("brand_id")
            if (
                basis is None
                and self.catalogue_supports_reference
                and prices is not None
                and prices.lists(brand, listing.get("category"))
            ):
                pass  # no sale of this product, but the brand's goods in the category are on record
            elif basis is None:
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
        brands: BrandNames | None = None,
    ) -> Decision:
        """Decide one listing: ``reject`` on any reject reason, else ``review`` on any review reason.

        With ``duplicates``, a listing that nearly repeats another of the same shop is flagged too; with
        ``prices``, the price rules use the store's sales and usual prices; ``brands`` (else the
        well-known ones) are the names in which a term is no claim. One reason per rule and term."""
        lid = str(listing.get("id") or listing.get("product_id") or "")
        title = str(listing.get("title") or "")
        brands = brands if brands is not None else self.brands
        own = brands.own(listing.get("brand") or listing.get("brand_id"))
        reasons = self.scan(title, "title", brands, own)
        description = str(listing.get("description") or "")
        if description:
            found = self._description_reasons(description, reasons, brands, own)  # may scope the title's
            reasons += found
        if self.vague_terms and title.strip() and self.vague(title, own):
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
        seen: set[tuple[str, str | None, str]] = set()
        unique = []
        for r in reasons:  # one reason per rule and term (最好 in the title and again in the description)
            if (r.rule, r.term, r.message) not in seen:
                seen.add((r.rule, r.term, r.message))
                unique.append(r)
        reasons = unique
        decision = "approve"
        for r in reasons:
            if DECISIONS.index(r.severity) > DECISIONS.index(decision):
                decision = r.severity
        return Decision(lid, decision, reasons, self.version)
