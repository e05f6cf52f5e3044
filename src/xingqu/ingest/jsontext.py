"""JSON text from outside, parsed within bounds: nesting, number size, NaN/Infinity and repeated keys.

Python's ``json`` raises RecursionError on deep nesting, ValueError on a 5,000-digit number and
accepts ``NaN``; every reader of user JSON (records, listings, tags) goes through ``loads`` instead, so
each of these becomes one ``JsonTextError`` with a reason a row error can carry.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: Most digits of a JSON integer (int64 has 19); longer numbers are refused before conversion.
MAX_NUMBER_DIGITS = 20
#: Deepest nesting of arrays and objects accepted (records are flat; tags are one list deep).
MAX_DEPTH = 32


class JsonTextError(ValueError):
    """JSON text that is malformed or outside the bounds; the message says which."""


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise JsonTextError(f"number with {len(text)} digits is too large")
    return int(text)


def _float(text: str) -> float:
    if len(text) > 64:
        raise JsonTextError(f"number written with {len(text)} characters is too long")
    value = float(text)
    if not math.isfinite(value):
        raise JsonTextError(f"number {text[:24]} is out of range")
    return value


def _constant(name: str) -> float:
    raise JsonTextError(f"{name} is not a number JSON allows")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JsonTextError(f"key {key[:40]!r} appears twice in one object")
        out[key] = value
    return out


def _depth(value: object, limit: int) -> int:
    """Nesting depth of a parsed value, stopping once past ``limit``."""
    stack: list[tuple[object, int]] = [(value, 1)]
    deepest = 0
    while stack:
        item, d = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, d)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, d + 1) for c in children)
    return deepest


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON ``text`` within the bounds, or raise ``JsonTextError`` saying what is wrong."""
    try:
        value = json.loads(
            text, parse_int=_int, parse_float=_float, parse_constant=_constant, object_pairs_hook=_pairs
        )
    except JsonTextError:
        raise
    except json.JSONDecodeError as exc:
        raise JsonTextError(f"not valid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise JsonTextError(f"nested more than {max_depth} levels deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JsonTextError(f"not valid JSON: {exc}") from None
    if _depth(value, max_depth) > max_depth:
        raise JsonTextError(f"nested more than {max_depth} levels deep")
    return value
