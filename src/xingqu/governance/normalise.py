"""Text normalisation for screening, keeping a map back to the original characters so that every
match reports its span in the text as written; and the forms in which merchants write a listed term
(pinyin for a character, digits for numerals), so that every rule catches them."""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import cache, lru_cache
from importlib import resources

import opencc

#: Characters kept after normalisation: letters, digits, CJK and '%'. Everything else — spaces,
#: punctuation, zero-width characters, emoji, symbols — is dropped, so "最 好", "最​好" and "最🔥好" read as
#: "最好", and "NO.1", "No 1" and "ＮＯ１" as "no1".
KEEP_EXTRA = {"%"}

#: Look-alikes read as the character they imitate: Cyrillic and Greek letters that look Latin ("ТОР1",
#: "А货"), boxed letters written as emoji (🅰货), 〇 as the digit 0, and variant forms of CJK characters
#: that OpenCC leaves as they are (冣 for 最, 苐 for 第, 囯 for 国, 壹 for 一).
HOMOGLYPHS: dict[str, str] = {
    **dict(zip("АВЕЅІЈКМНОРСТХУЬӀԚԜ", "abesijkmhopctxybiqw", strict=True)),
    **dict(zip("авеѕіјкмнорстхуӏԛԝё", "abesijkmhopctxyiqwe", strict=True)),
    **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "abezhikmnoptyx", strict=True)),
    **dict(zip("αβεικνορτυχ", "abeikvoptux", strict=True)),
    **{chr(0x1F170 + i): chr(ord("a") + i) for i in range(26)},  # 🅰 … 🆉
    **{chr(0x1F150 + i): chr(ord("a") + i) for i in range(26)},  # 🅐 … 🅩
    "〇": "0",
    "冣": "最",
    "㝡": "最",
    "苐": "第",
    "囯": "国",
    "圀": "国",
    "囶": "国",
    "壹": "一",
    "弌": "一",
    # formal numerals (大写数字) that have no other common use: 贰叁 … written for 二三 (第贰, 壹叁玖 …)
    "贰": "二",
    "叁": "三",
    "柒": "七",
    "捌": "八",
    "玖": "九",
    "+": "加",  # +v, ＋V, ➕V: 加v
    "➕": "加",
    "🐧": "qq",  # the penguin is QQ's mascot: +🐧 12345678 is a QQ number
    "🔝": "top",  # the TOP arrow: 🔝1, 🔝级
    # digits in circles that NFKC leaves alone: ❶ ➀ ➊ (1–10), ⓫ (11–20), ⓵ (1–10)
    **{chr(0x2776 + i): str(i % 10 + 1) if i % 10 < 9 else "10" for i in range(30)},
    **{chr(0x24EB + i): str(11 + i) for i in range(10)},
    **{chr(0x24F5 + i): str(1 + i) for i in range(10)},
    "⓿": "0",
}
_HOMOGLYPHS = str.maketrans(HOMOGLYPHS)

#: Roman numerals read as digits before NFKC would spell them as Latin letters (世界Ⅰ流, 第Ⅱ代 → 世界1流,
#: 第2代); Ⅴ, Ⅹ, Ⅼ, Ⅽ, Ⅾ, Ⅿ stay the letters they look like (加Ⅴ reads as 加v).
ROMAN = {
    **{chr(0x2160 + i): str(n) for i, n in enumerate(range(1, 13)) if n not in (5, 10)},
    **{chr(0x2170 + i): str(n) for i, n in enumerate(range(1, 13)) if n not in (5, 10)},
}

#: Chinese numerals a term may be written with as digits (第一 → 第1, 十强 → 10强).
NUMERALS = {c: str(i) for i, c in enumerate("零一二三四五六七八九十")}

#: At most this many characters of a term written in pinyin (zui好, 国jia级); at least one stays a
#: character, except that a term spelled out whole in pinyin of at least ``FULL_PINYIN_MIN`` letters
#: (zuihao, guojiaji) counts too: shorter spellings (zuida, diyi) read like ordinary Latin text.
MAX_PINYIN_CHARS = 2
FULL_PINYIN_MIN = 6
#: A term of at least this many characters may have one of them written as its pinyin initial (国j级).
INITIAL_MIN_CHARS = 3
#: A term of at least this many characters may have one character written as a homophone (醉正宗).
HOMOPHONE_MIN_CHARS = 3
#: A term of at least this many characters may be written as the initials of all of them (tdlf for
#: 他达拉非); shorter strings of initials read like ordinary Latin text.
INITIALS_MIN_CHARS = 4


_ZERO_AS_O = re.compile(r"(?<=[a-z])0(?=[a-z])|(?<=(?<![a-z])n)0(?=[0-9](?![0-9]))")
#: The letter o written for a zero inside a number (10O%, 1OO%, 2O0ml): after a digit, before a digit or %.
_O_AS_ZERO = re.compile(r"(?<=[0-9])o+(?=[0-9%])")


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _toneless(ch: str) -> str:
    """A Latin letter with a tone mark or other diacritic as the bare letter (pinyin with tones, dú jiā,
    reads as dujia); ü, with or without a tone, as v, the way pinyin is typed (lǜ → lv)."""
    if not ch.isalpha() or ch.isascii():
        return ch
    base = unicodedata.normalize("NFKD", ch)
    if not base[:1].isascii() or not all(unicodedata.combining(c) for c in base[1:]):
        return ch
    return "v" if base[:1] in "uU" and "\u0308" in base else base[0]


@cache
def _fold(ch: str) -> str:
    """One character as screening reads it: NFKC, traditional → simplified, look-alikes read as what they
    imitate, tone marks dropped, lower case, and only the characters kept (cached: titles repeat the
    same few thousand characters)."""
    if ch in ROMAN:
        return ROMAN[ch]
    folded = unicodedata.normalize("NFKC", ch)
    if folded != ch or not ch.isascii() or ch == "+":
        folded = "".join(map(_toneless, _t2s().convert(folded).translate(_HOMOGLYPHS)))
    return "".join(c for c in folded.lower() if c.isalnum() or c in KEEP_EXTRA)


class _FoldTable(dict[int, str]):
    """Code point → the character as screening reads it (``_fold``), filled as characters are first seen,
    so that ``str.translate`` folds a whole text in one call. ``#`` reads as a marker, No. before a digit."""

    def __missing__(self, key: int) -> str:
        ch = chr(key)
        folded = "\x00" if ch in "#＃" else _fold(ch)
        self[key] = folded
        return folded


_FOLD = _FoldTable()
_HASH_AS_NO = re.compile("\x00(?=[0-9])")
_DIGITS = set("0123456789")


def _finish(norm: str) -> str:
    if "\x00" in norm:
        norm = _HASH_AS_NO.sub("no", norm).replace("\x00", "")  # #1 reads as No.1
    if "o" in norm:  # first, so that 5o0ml does not read its real zero as an o between letters
        norm = _O_AS_ZERO.sub(lambda m: "0" * len(m.group()), norm)  # 10O%: the letter o for a zero
    if "0" in norm:
        norm = _ZERO_AS_O.sub("o", norm)  # T0P1, N0.1: a zero for the letter o
    return norm


@lru_cache(maxsize=4096)
def screening_norm(text: str) -> str:
    """The normalised text alone (``screening_text(text)[0]``), folded in one ``str.translate``: what
    the rules read before any match needs a span in the original."""
    return _finish(text.translate(_FOLD))


@lru_cache(maxsize=256)
def screening_text(text: str) -> tuple[str, list[int]]:
    """(normalised text, for each of its characters the index of the original character). Cached for
    the few last texts: a text with a match is read again for the spans of its reasons."""
    pieces = [_FOLD[ord(ch)] for ch in text]
    where = [i for i, piece in enumerate(pieces) for _ in piece]
    norm = "".join(pieces)
    if "\x00" in norm:
        digit_next = [norm[k + 1 : k + 2] in _DIGITS for k in range(len(norm))]
        kept = [
            (("no" if digit_next[k] else "") if c == "\x00" else c, w)
            for k, (c, w) in enumerate(zip(norm, where, strict=True))
        ]
        norm = "".join(c for c, _ in kept)
        where = [w for c, w in kept for _ in c]
    return _finish(norm), where


@cache
def _toned(ch: str) -> bool:
    return not ch.isascii() and _toneless(ch) != ch and _toneless(ch).isascii()


_LATIN_MARKED = re.compile("[\u00c0-\u024f\u1e00-\u1eff]")


def has_tone_marks(text: str) -> bool:
    """Whether the text writes a Latin letter with a tone mark (dì yī): pinyin for sure, so a listed term
    spelled out in it is caught however short the spelling (diyi)."""
    return not text.isascii() and _LATIN_MARKED.search(text) is not None and any(map(_toned, text))


def normalise_term(term: str) -> str:
    return screening_norm(term)


@cache
def readings() -> dict[str, str]:
    """The usual pinyin syllable (no tone) of each common character, from ``rules/pinyin.txt``."""
    text = (resources.files("xingqu.governance") / "rules" / "pinyin.txt").read_text(encoding="utf-8")
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            syllable, chars = line.split(" ", 1)
            out.update(dict.fromkeys(chars.strip(), syllable))
    return out


def _is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def whole_pinyin(term: str) -> str:
    """A term spelled out whole in pinyin without tones (第一 → diyi); empty when a character has no
    reading."""
    base = normalise_term(term)
    sounds = readings()
    if not base or not all(_is_cjk(c) and c in sounds for c in base):
        return ""
    return "".join(sounds[c] for c in base)


def term_variants(term: str) -> set[str]:
    """The normalised forms of a listed term as merchants write it: as listed, with numerals as digits
    (第1), with one or two characters in pinyin (zui好, di一, guo家级) or spelled out whole (zuihao),
    and in terms of three or more characters one character but the last as its pinyin initial (国j级)."""
    base = normalise_term(term)
    if not base:
        return set()
    sounds = readings()
    # per character: (form, kind) — as written, a numeral as its digits, a character as its syllable
    options = [
        [
            (c, "char"),
            *([(NUMERALS[c], "digit")] if c in NUMERALS else []),
            *([(sounds[c], "pinyin")] if c in sounds else []),
        ]
        for c in base
    ]
    cjk = sum(_is_cjk(c) for c in base)
    variants = set()
    for choice in itertools.product(*options):
        spelled = sum(kind == "pinyin" for _, kind in choice)
        kept = sum(kind == "char" and _is_cjk(form) for form, kind in choice)
        if spelled <= MAX_PINYIN_CHARS and (kept or not cjk):
            variants.add("".join(form for form, _ in choice))
    if cjk == len(base) and all(c in sounds for c in base):
        whole = "".join(sounds[c] for c in base)
        if len(whole) >= FULL_PINYIN_MIN:
            variants.add(whole)
    if cjk >= INITIAL_MIN_CHARS:
        for i, c in enumerate(base[:-1]):  # not the last: 国家j would catch 国家 before any j-word
            if c in sounds:
                variants.add(base[:i] + sounds[c][0] + base[i + 1 :])
    return variants


def homophone_variants(term: str, homophones: dict[str, list[str]]) -> set[str]:
    """A listed term of ``HOMOPHONE_MIN_CHARS`` or more characters with one character written as a
    homophone merchants use for it (醉正宗 for 最正宗, 弟一名 for 第一名); ``homophones`` maps a character
    to its stand-ins. Shorter terms are never varied: 醉大 and 弟一 are ordinary text (醉大虾, 兄弟一起)."""
    base = normalise_term(term)
    if len(base) < HOMOPHONE_MIN_CHARS:
        return set()
    return {
        base[:i] + stand_in + base[i + 1 :]
        for i, c in enumerate(base)
        for stand_in in homophones.get(c, ())
        if stand_in
    }


def initials(term: str) -> str:
    """A term of at least ``INITIALS_MIN_CHARS`` characters written as the pinyin initials of every
    character (他达拉非 → tdlf); empty for a shorter term or one with a character without a reading. Only
    a whole Latin word counts as one (the screener checks the letters on both sides)."""
    base = normalise_term(term)
    sounds = readings()
    if len(base) < INITIALS_MIN_CHARS or not all(_is_cjk(c) and c in sounds for c in base):
        return ""
    return "".join(sounds[c][0] for c in base)
