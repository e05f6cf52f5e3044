"""Text normalisation for screening, keeping a map back to the original characters so that every
match reports its span in the text as written."""

from __future__ import annotations

import unicodedata
from functools import cache

import opencc

#: Characters kept after normalisation: letters, digits, CJK and '%'. Everything else — spaces,
#: punctuation, zero-width characters, emoji, symbols — is dropped, so "最 好", "最​好" and "最🔥好" read as
#: "最好", and "NO.1", "No 1" and "ＮＯ１" as "no1".
KEEP_EXTRA = {"%"}


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


@cache
def _fold(ch: str) -> str:
    """One character as screening reads it: NFKC, traditional → simplified, lower case, and only the
    characters kept (cached: titles repeat the same few thousand characters)."""
    folded = unicodedata.normalize("NFKC", ch)
    if folded != ch or not ch.isascii():
        folded = _t2s().convert(folded)
    return "".join(c for c in folded.lower() if c.isalnum() or c in KEEP_EXTRA)


def screening_text(text: str) -> tuple[str, list[int]]:
    """(normalised text, for each of its characters the index of the original character)."""
    chars: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        folded = _fold(ch)
        if folded:
            chars.append(folded)
            where.extend([i] * len(folded))
    return "".join(chars), where


def normalise_term(term: str) -> str:
    return screening_text(term)[0]
