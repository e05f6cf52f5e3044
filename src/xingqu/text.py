"""Chinese text normalisation and tokenisation, shared by content models and listing screening.

Stored text stays exactly as given; consumers normalise: NFKC (full-width → half-width), traditional →
simplified (OpenCC), case folding; then jieba splits words.
"""

from __future__ import annotations

import logging
import unicodedata
from functools import cache

import jieba
import opencc

jieba.setLogLevel(logging.WARNING)


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def normalise(text: str) -> str:
    """NFKC, traditional → simplified, lower case."""
    return _t2s().convert(unicodedata.normalize("NFKC", text)).lower()


def tokens(text: str) -> list[str]:
    """Normalised jieba words, without spaces and punctuation."""
    out = []
    for word in jieba.lcut(normalise(text)):
        w = word.strip()
        if w and not all(unicodedata.category(ch)[0] in "PZS" for ch in w):
            out.append(w)
    return out
