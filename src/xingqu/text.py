"""Chinese text normalisation and tokenisation, shared by content models and listing screening.

Stored text stays exactly as given; consumers normalise: NFKC (full-width → half-width), traditional →
simplified (OpenCC), case folding; then jieba splits words.
"""

from __future__ import annotations

import logging
import unicodedata
from functools import cache, lru_cache

import jieba
import opencc

jieba.setLogLevel(logging.WARNING)


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def normalise(text: str) -> str:
    """NFKC, traditional → simplified, lower case."""
    return _t2s().convert(unicodedata.normalize("NFKC", text)).lower()


#: jieba cuts a text into runs of CJK characters, letters and digits and cuts each run apart from the
#: others, so a text's words are its runs' words in order.
_RUNS = jieba.re_han_default


@lru_cache(maxsize=65_536)
def _run_words(run: str) -> tuple[str, ...]:
    """The words of one run (cached: titles repeat their runs — brand and product names, 包邮, 500ml)."""
    return tuple(jieba.lcut(run))


def tokens(text: str) -> list[str]:
    """Normalised jieba words, without spaces and punctuation."""
    out = []
    for run in _RUNS.split(normalise(text)):
        if not run:
            continue
        for word in _run_words(run):
            w = word.strip()
            if w and not all(unicodedata.category(ch)[0] in "PZS" for ch in w):
                out.append(w)
    return out
