"""Listings to screen, read from a JSON Lines file within the domain's bounds: every line is one
object whose known fields have the right type and size, or the file is refused naming the line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xingqu.domain.records import MAX_ID_LENGTH, MAX_MONEY, MAX_RECORD_BYTES, MAX_TAGS, MAX_TEXT_LENGTH
from xingqu.errors import NotFoundError, UserError
from xingqu.ingest.jsontext import JsonTextError, loads
from xingqu.ingest.readers import blank_json_line, bounded_lines

#: The fields screening reads, by shape; other fields are passed through untouched.
LISTING_FIELDS: dict[str, str] = {
    "id": "id",
    "product_id": "id",
    "shop": "id",
    "shop_id": "id",
    "brand": "id",
    "brand_id": "id",
    "title": "text",
    "description": "text",
    "category": "text",
    "price": "money",
    "reference_price": "money",
    "lowest_price_7d": "money",
    "qualifications": "tags",
}


class ListingError(UserError):
    """A listing line that cannot be screened; the message names the file, line and field."""


def _control(text: str, allow_breaks: bool) -> bool:
    return any((ord(c) < 32 and not (allow_breaks and c in "\t\n\r")) or c in "\x7f\ufeff" for c in text)


def _field_problem(shape: str, value: Any) -> str | None:
    """Why ``value`` cannot be a field of ``shape``, or None when it can (None values always can)."""
    if value is None:
        return None
    if shape == "id":
        if isinstance(value, bool) or not isinstance(value, str | int):
            return f"expected an id (text), got a JSON {type(value).__name__}"
        text = str(value)
        if len(text) > MAX_ID_LENGTH:
            return f"ids are at most {MAX_ID_LENGTH} characters"
        return "ids must not contain control characters" if _control(text, False) else None
    if shape == "text":
        if not isinstance(value, str):
            return f"expected text, got a JSON {type(value).__name__}"
        if len(value) > MAX_TEXT_LENGTH:
            return f"text is at most {MAX_TEXT_LENGTH:,} characters"
        return "text must not contain control characters" if _control(value, True) else None
    if shape == "money":
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            value = int(value.strip()) if len(value.strip()) <= 19 else MAX_MONEY + 1
        if isinstance(value, bool) or not isinstance(value, int):
            return "money is a whole number of fen (分)"
        return None if 0 <= value <= MAX_MONEY else f"must be between 0 and {MAX_MONEY} fen"
    if shape == "tags":
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            return "expected a list of strings"
        if len(value) > MAX_TAGS:
            return f"at most {MAX_TAGS} tags"
        if any(len(t) > MAX_ID_LENGTH or _control(t, False) for t in value):
            return f"each tag is at most {MAX_ID_LENGTH} characters, without control characters"
        return None
    raise AssertionError(shape)  # pragma: no cover


def check_listing(listing: object, where: str) -> dict[str, Any]:
    """``listing`` as a dict whose known fields are well-formed, or a ``ListingError`` naming ``where``
    and the field."""
    if not isinstance(listing, dict):
        raise ListingError(f"{where}: each line must be a JSON object")
    for name, shape in LISTING_FIELDS.items():
        problem = _field_problem(shape, listing.get(name))
        if problem is not None:
            raise ListingError(f"{where}, field '{name}': {problem}")
    return listing


def read_listings(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, listing) for each non-blank line of a JSON Lines file, checked as it is read."""
    if not path.exists():
        raise NotFoundError(f"{path}: no such file")
    if path.is_dir():
        raise ListingError(f"{path}: is a folder; give a JSON Lines file of listings")
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise ListingError(f"{path}: cannot read the file: {exc.strerror}") from None
    offset = 0
    with fh:
        for lineno, raw, size in bounded_lines(fh):
            where = f"{path}, line {lineno}"
            if raw is None:
                raise ListingError(f"{where}: line of {size:,} bytes is longer than {MAX_RECORD_BYTES:,}")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ListingError(
                    f"{where}: not valid UTF-8 at byte {offset + exc.start} (is this a JSON Lines file?)"
                ) from None
            offset += size
            if lineno == 1:
                text = text.removeprefix("\ufeff")
            if blank_json_line(text):
                continue
            try:
                listing = loads(text)
            except JsonTextError as exc:
                raise ListingError(f"{where}: {exc}") from None
            yield lineno, check_listing(listing, where)
