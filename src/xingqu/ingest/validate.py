"""Turn raw columns into typed, canonical records, naming every bad row, field and reason.

Validation is columnar: each check is a vectorised mask over the batch, and only the rows it flags
become ``RowError`` objects, so valid data pays Arrow speed and bad data still gets exact messages.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xingqu.config import Settings
from xingqu.domain.arrow import TIMESTAMP_TYPE, arrow_schema, arrow_type
from xingqu.domain.records import (
    MAX_FLOAT,
    MAX_ID_LENGTH,
    MAX_INT,
    MAX_MONEY,
    MAX_TAGS,
    MAX_TEXT_LENGTH,
    FieldSpec,
    FieldType,
    KindSpec,
    TimeWindow,
)
from xingqu.errors import RowError
from xingqu.ingest.jsontext import JsonTextError, loads
from xingqu.store.keyset import is_known

TAG_SEPARATOR = "|"
_INT_RE = r"^\s*[+-]?[0-9]{1,18}(\.0*)?\s*$"
# Money never takes a decimal point: "159.00" is far more likely yuan than 159 fen.
_MONEY_RE = r"^\s*[+-]?[0-9]{1,18}\s*$"
_DECIMAL_RE = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"
# ids: no control character, no byte-order mark (a BOM inside a file would become part of an id)
_CONTROL_RE = "[\\x00-\\x1f\\x7f\\x{feff}]"
# free text may hold tabs and line breaks, nothing else below U+0020 (a NUL breaks PostgreSQL's COPY)
_TEXT_CONTROL_RE = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f\\x{feff}]"
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}

#: Known keys of a referenced kind among the values a batch names (or all of them), as one Arrow array
#: (for ``pc.is_in``): ``known(kind, values)``.
KnownKeys = Callable[[str, pa.Array], pa.Array]


@dataclass
class Checked:
    """A validated batch: canonical records of the valid rows, and errors of the others."""

    records: pa.Table
    errors: list[RowError] = field(default_factory=list)
    invalid_rows: int = 0
    rejected: list[int] = field(default_factory=list)  # positions in the raw batch


class _Collector:
    """Gathers errors for one batch as masks are found; marks rows bad."""

    def __init__(self, source: str, rows: list[int], lines: list[int] | None) -> None:
        self.source = source
        self.rows = rows
        self.lines = lines
        self.bad = np.zeros(len(rows), dtype=bool)
        self.flagged = np.zeros(len(rows), dtype=bool)  # rows flagged since the last ``start_field``
        self.errors: list[RowError] = []

    def start_field(self) -> None:
        self.flagged = np.zeros(len(self.rows), dtype=bool)

    def add(
        self,
        mask: pa.Array | np.ndarray,
        fname: str | None,
        reason: str,
        values: pa.Array | None,
        shown_as: Callable[[pa.Array], pa.Array] | None = None,
    ) -> None:
        """Name each row of ``mask`` (null: not flagged) with the value it holds in ``values``, shown
        through ``shown_as`` (applied to the flagged values only) when given."""
        if isinstance(mask, np.ndarray):
            flags = mask
        elif not pc.any(mask).as_py():  # nothing flagged: skip unpacking the bits
            return
        else:
            flags = pc.fill_null(mask, False).to_numpy(zero_copy_only=False)
        idx = np.flatnonzero(flags)
        if idx.size == 0:
            return
        self.bad[idx] = True
        self.flagged[idx] = True
        if values is None:
            shown = [None] * idx.size
        else:
            picked = values.take(pa.array(idx))
            shown = (picked if shown_as is None else shown_as(picked)).to_pylist()
        for i, v in zip(idx.tolist(), shown, strict=True):
            self.errors.append(
                RowError(
                    self.source,
                    self.rows[i],
                    fname,
                    reason,
                    line=self.lines[i] if self.lines is not None else None,
                    value=None if v is None else _short(v),
                )
            )


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "…"


def _as_string(col: pa.Array) -> pa.Array | None:
    """The column as plain strings if it is string-like (dictionary, large string), else None."""
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.dictionary_decode()
        t = col.type
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return col.cast(pa.string())
    if pa.types.is_string(t):
        return col
    return None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS_TYPE = pa.timestamp("ns", tz="UTC")
_MS = timedelta(milliseconds=1)


def _parse_timestamps(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """ISO 8601 strings with a zone offset → UTC ms timestamps, and a mask of unparseable values."""
    try:
        return pc.cast(text, TIMESTAMP_TYPE), np.zeros(len(text), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    try:  # finer than milliseconds (Python's isoformat() gives microseconds): floored, as below
        ns = pc.cast(text, _NS_TYPE).cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    else:
        ms = np.floor_divide(ns.fill_null(0).to_numpy(), 1_000_000)
        out = pa.array(ms, pa.int64(), mask=_nulls(ns) if ns.null_count else None)
        return pc.cast(out, TIMESTAMP_TYPE), np.zeros(len(text), dtype=bool)
    out: list[int | None] = []
    bad = np.zeros(len(text), dtype=bool)
    for i, v in enumerate(text.to_pylist()):
        if v is None:
            out.append(None)
            continue
        try:
            dt = datetime.fromisoformat(v.strip())
        except ValueError:
            dt = None
        if dt is None or dt.tzinfo is None:
            bad[i] = True
            out.append(None)
        else:
            out.append((dt - _EPOCH) // _MS)  # exact: float seconds would lose a millisecond
    return pc.cast(pa.array(out, type=pa.int64()), TIMESTAMP_TYPE), bad


def _parse_tags(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """'a|b|c' or a JSON array of strings → list<string>; a mask of malformed values."""
    out: list[list[str] | None] = []
    bad = np.zeros(len(text), dtype=bool)
    for i, v in enumerate(text.to_pylist()):
        if v is None:
            out.append(None)
        elif v.lstrip().startswith(("[", "{")):
            try:
                parsed = loads(v)
            except JsonTextError:
                parsed = None
            if isinstance(parsed, list) and all(isinstance(x, str) and x.strip() for x in parsed):
                out.append([x.strip() for x in parsed])
            else:
                bad[i] = True
                out.append(None)
        else:
            out.append([t.strip() for t in v.split(TAG_SEPARATOR) if t.strip()])
    return pa.array(out, type=pa.list_(pa.string())), bad


@functools.cache
def _enum_values(f: FieldSpec) -> pa.Array:
    """The values an enum field allows, in declared order."""
    assert f.enum is not None
    return pa.array([e.value for e in f.enum], pa.string())


def _upper(f: FieldSpec) -> float:
    """The largest value of a numeric field: its own maximum, else the domain's for its type."""
    if f.max is not None:
        return f.max
    return {FieldType.MONEY: MAX_MONEY, FieldType.INT: MAX_INT}.get(f.type, MAX_FLOAT)


def _beyond(col: pa.Array, limit: float) -> pa.Array:
    """Whether each value of a numeric column lies beyond ±``limit``, compared in the column's own type
    (a uint64 of 2^64 − 1 must not be cast to int64 first)."""
    if pa.types.is_floating(col.type):
        return pc.greater(pc.abs(col), float(limit))
    bits = col.type.bit_width
    unsigned = pa.types.is_unsigned_integer(col.type)
    top = 2**bits - 1 if unsigned else 2 ** (bits - 1) - 1
    out = pc.greater(col, pa.scalar(int(limit), col.type)) if limit < top else pc.is_null(col)
    if not unsigned and -limit > -(2 ** (bits - 1)):
        out = pc.or_(out, pc.less(col, pa.scalar(-int(limit), col.type)))
    return out


def _tag_checks(f: FieldSpec, tags: pa.Array, errs: _Collector) -> None:
    """Each tags value: at most ``MAX_TAGS`` tags, each a short id-like string without control
    characters (the same in every format)."""
    errs.add(pc.greater(pc.list_value_length(tags), MAX_TAGS), f.name, f"at most {MAX_TAGS} tags", None)
    flat = pc.list_flatten(tags)
    if len(flat) == 0:
        return
    parents = pc.list_parent_indices(tags).to_numpy(zero_copy_only=False)
    for reason, bad in (
        (
            "tags must not be empty",
            pc.or_kleene(pc.is_null(flat), pc.equal(pc.utf8_trim_whitespace(flat), "")),
        ),
        (f"each tag is at most {MAX_ID_LENGTH} characters", pc.greater(pc.utf8_length(flat), MAX_ID_LENGTH)),
        ("tags must not contain control characters", pc.match_substring_regex(flat, _CONTROL_RE)),
    ):
        rows = np.unique(parents[pc.fill_null(bad, False).to_numpy(zero_copy_only=False)])
        if rows.size:
            mask = np.zeros(len(tags), dtype=bool)
            mask[rows] = True
            errs.add(mask, f.name, reason, None)


def _as_text(values: pa.Array) -> pa.Array:
    return pc.cast(values, pa.string())


#: The reasons an id is refused, in the order they are reported.
ID_REASONS = (
    f"ids are at most {MAX_ID_LENGTH} characters",
    "ids must not contain control characters",
    "ids must not start or end with spaces",
)


def _id_suspects(text: pa.Array) -> np.ndarray:
    """Rows an id check could flag or blank, found from the raw UTF-8 bytes; every other row passes
    them all: at most ``MAX_ID_LENGTH`` bytes (so characters), no byte of a control character or of a
    byte-order mark's first byte (0xEF), non-empty, and first and last bytes printable ASCII (Unicode
    spaces and control characters are all outside 0x21–0x7E)."""
    n = len(text)
    _, offsets_buf, data_buf = text.buffers()
    offsets = np.frombuffer(offsets_buf, np.int32, n + 1, text.offset * 4).astype(np.int64)
    lo = int(offsets[0])
    data = np.frombuffer(data_buf, np.uint8, int(offsets[-1]) - lo, lo) if data_buf else np.zeros(0, np.uint8)
    starts, lengths = offsets[:-1] - lo, np.diff(offsets)
    out = (lengths == 0) | (lengths > MAX_ID_LENGTH)
    if text.null_count:  # a missing id passes (the kernels give null)
        out &= text.is_valid().to_numpy(zero_copy_only=False)
    if not len(data):
        return out
    odd = (data < 0x21) | (data > 0x7E)  # spaces, control bytes, every byte of a non-ASCII character
    some = lengths > 0
    first = np.where(some, starts, 0)
    last = np.where(some, starts + lengths - 1, 0)
    out |= some & (odd[first] | odd[last])
    inner = (data < 0x20) | (data == 0x7F) | (data == 0xEF)
    if inner.any():
        rows = np.searchsorted(offsets[1:] - lo, np.flatnonzero(inner), side="right")
        out[rows] = True
    return out


def id_verdicts(text: pa.Array, narrowed: bool = True) -> tuple[pa.Array, list[tuple[np.ndarray, str]]]:
    """An id column with blank values made missing, and a mask of the rows each of ``ID_REASONS`` refuses.

    The checks are Arrow's string kernels; ``narrowed`` runs them only on the rows ``_id_suspects``
    finds (the same verdicts: the rows it leaves out pass every check unchanged)."""
    n = len(text)
    rows = np.flatnonzero(_id_suspects(text)) if narrowed else np.arange(n)
    if not len(rows):  # every id passes every check: no kernel to run
        return text, [(np.zeros(n, dtype=bool), reason) for reason in ID_REASONS]
    sub = text if len(rows) == n else text.take(pa.array(rows))
    trimmed = pc.utf8_trim_whitespace(sub)
    blank = pc.fill_null(pc.equal(trimmed, ""), False).to_numpy(zero_copy_only=False)
    sub_masks = (
        pc.greater(pc.utf8_length(sub), MAX_ID_LENGTH),
        pc.match_substring_regex(sub, _CONTROL_RE),
        pc.not_equal(trimmed, sub),
    )
    masks = []
    for mask, reason in zip(sub_masks, ID_REASONS, strict=True):
        flags = pc.fill_null(mask, False).to_numpy(zero_copy_only=False) & ~blank
        full = np.zeros(n, dtype=bool)
        full[rows[flags]] = True
        masks.append((full, reason))
    if blank.any():
        cleared = np.zeros(n, dtype=bool)
        cleared[rows[blank]] = True
        text = pc.if_else(pa.array(cleared), pa.scalar(None, pa.string()), text)
    return text, masks


def _convert(f: FieldSpec, col: pa.Array, errs: _Collector, window: TimeWindow) -> pa.Array:
    """Convert one raw column to the field's canonical type; flag rows that cannot be converted."""
    text = _as_string(col)
    if f.type in (FieldType.ID, FieldType.TEXT, FieldType.ENUM):
        if text is None:
            if pa.types.is_integer(col.type) and f.type is FieldType.ID:
                return pc.cast(col, pa.string())  # numeric ids (MovieLens-style) become strings
            errs.add(pc.is_valid(col), f.name, f"expected text, the column holds {col.type}", None)
            return pa.nulls(len(col), pa.string())
        if f.type is FieldType.ID:
            text, flags = id_verdicts(text)
            for mask, reason in flags:
                errs.add(mask, f.name, reason, text)
        if f.type is FieldType.TEXT:
            errs.add(
                pc.greater(pc.utf8_length(text), MAX_TEXT_LENGTH),
                f.name,
                f"text is at most {MAX_TEXT_LENGTH:,} characters",
                text,
            )
            errs.add(
                pc.match_substring_regex(text, _TEXT_CONTROL_RE),
                f.name,
                "text must not contain control characters (only tabs and line breaks)",
                text,
            )
        if f.type is FieldType.ENUM:
            allowed = _enum_values(f)
            ok = pc.is_in(text, value_set=allowed).to_numpy(zero_copy_only=False)  # missing: False
            errs.add(~ok & ~_nulls(text), f.name, f"must be one of {', '.join(allowed.to_pylist())}", text)
        return text
    if f.type in (FieldType.INT, FieldType.MONEY):
        if text is not None:
            good = pc.match_substring_regex(text, _MONEY_RE if f.type is FieldType.MONEY else _INT_RE)
            bad = pc.and_(pc.is_valid(text), pc.invert(good))
            if f.type is FieldType.MONEY:
                decimal = pc.and_(bad, pc.match_substring_regex(text, _DECIMAL_RE))
                errs.add(
                    decimal, f.name, "money is an integer number of fen (分, 1/100 yuan), not a decimal", text
                )
                errs.add(pc.and_(bad, pc.invert(decimal)), f.name, "not a number", text)
            else:
                errs.add(bad, f.name, "not a whole number", text)
            clean = pc.if_else(
                good, pc.replace_substring_regex(text, r"^\s*\+|\.0*\s*$", ""), pa.scalar(None, pa.string())
            )
            return pc.cast(pc.utf8_trim_whitespace(clean), pa.int64())
        if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
            # out-of-range values are named here, before a cast to int64 could fail or wrap
            hi = _upper(f)
            big = _beyond(col, hi)
            errs.add(big, f.name, f"must be at most {_num(hi)}", col)
            col = pc.if_else(big, pa.scalar(None, col.type), col)
        if pa.types.is_integer(col.type):
            return pc.cast(col, pa.int64())
        if pa.types.is_floating(col.type):
            whole = pc.and_(pc.is_finite(col), pc.equal(pc.floor(col), col))
            reason = (
                "money is an integer number of fen (分), not a decimal"
                if f.type is FieldType.MONEY
                else "not a whole number"
            )
            errs.add(pc.invert(whole), f.name, reason, col)
            return pc.cast(pc.if_else(whole, col, pa.scalar(None, col.type)), pa.int64(), safe=False)
        errs.add(pc.is_valid(col), f.name, f"expected a whole number, the column holds {col.type}", None)
        return pa.nulls(len(col), pa.int64())
    if f.type is FieldType.FLOAT:
        if text is not None:
            good = pc.match_substring_regex(text, _DECIMAL_RE)
            errs.add(pc.and_(pc.is_valid(text), pc.invert(good)), f.name, "not a number", text)
            clean = pc.if_else(good, pc.utf8_trim_whitespace(text), pa.scalar(None, pa.string()))
            out = pc.cast(clean, pa.float64())
        elif pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
            out = pc.cast(col, pa.float64())
        else:
            errs.add(pc.is_valid(col), f.name, f"expected a number, the column holds {col.type}", None)
            return pa.nulls(len(col), pa.float64())
        finite = pc.is_finite(out)
        errs.add(pc.invert(finite), f.name, "must be a finite number", out)
        return pc.if_else(finite, out, pa.scalar(None, pa.float64()))
    if f.type is FieldType.BOOL:
        if text is not None:
            low = pc.utf8_lower(pc.utf8_trim_whitespace(text))
            is_true = pc.is_in(low, value_set=pa.array(sorted(_TRUE)))
            is_false = pc.is_in(low, value_set=pa.array(sorted(_FALSE)))
            errs.add(
                pc.and_(pc.is_valid(text), pc.invert(pc.or_(is_true, is_false))),
                f.name,
                "must be true or false",
                text,
            )
            return pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))
        if pa.types.is_boolean(col.type):
            return col
        errs.add(pc.is_valid(col), f.name, f"expected true/false, the column holds {col.type}", None)
        return pa.nulls(len(col), pa.bool_())
    if f.type is FieldType.TIMESTAMP:
        if text is not None:
            out, bad = _parse_timestamps(text)
            errs.add(bad, f.name, "not an ISO 8601 time with a zone, e.g. 2026-05-01T20:15:00+08:00", text)
            return out
        if pa.types.is_timestamp(col.type):
            # a value far outside the window is named before the unit change could overflow
            per_ms = {"s": 0.001, "ms": 1, "us": 1_000, "ns": 1_000_000}[col.type.unit]
            raw = col.cast(pa.int64())
            lo, hi = int(window.earliest_ms * per_ms), int(window.latest_ms * per_ms)
            outside = pc.or_(pc.less(raw, lo), pc.greater(raw, hi))
            errs.add(outside, f.name, f"must lie {window.describe()}", raw, _as_text)
            col = pc.if_else(outside, pa.scalar(None, col.type), col)
            naive_ms = col.cast(pa.timestamp(col.type.unit, tz=col.type.tz), safe=False)
            return pc.cast(naive_ms, pa.timestamp("ms", tz=col.type.tz), safe=False).cast(TIMESTAMP_TYPE)
        errs.add(pc.is_valid(col), f.name, f"expected a timestamp, the column holds {col.type}", None)
        return pa.nulls(len(col), TIMESTAMP_TYPE)
    if f.type is FieldType.TAGS:
        if text is not None:
            out, bad = _parse_tags(text)
            errs.add(bad, f.name, "tags are 'a|b|c' or a JSON array of non-empty strings", text)
            return out
        is_list = pa.types.is_list(col.type) or pa.types.is_large_list(col.type)
        if is_list and (
            pa.types.is_string(col.type.value_type) or pa.types.is_large_string(col.type.value_type)
        ):
            return col.cast(pa.list_(pa.string()))
        errs.add(pc.is_valid(col), f.name, f"expected a list of strings, the column holds {col.type}", None)
        return pa.nulls(len(col), pa.list_(pa.string()))
    raise AssertionError(f"unhandled field type {f.type}")  # pragma: no cover


def _range_checks(f: FieldSpec, col: pa.Array, errs: _Collector, window: TimeWindow) -> None:
    if f.type in (FieldType.INT, FieldType.MONEY, FieldType.FLOAT):
        lo = 0 if f.type is FieldType.MONEY and f.min is None else f.min
        if lo is not None:
            errs.add(pc.less(col, lo), f.name, f"must be at least {_num(lo)}", col)
        hi = _upper(f)
        errs.add(pc.greater(col, hi), f.name, f"must be at most {_num(hi)}", col)
    elif f.type is FieldType.TIMESTAMP:
        ms = col.cast(pa.int64()).fill_null(0).to_numpy()
        outside = ((ms < window.earliest_ms) | (ms > window.latest_ms)) & ~_nulls(col)
        errs.add(outside, f.name, f"must lie {window.describe()}", col, _as_text)
    elif f.type is FieldType.TAGS:
        _tag_checks(f, col, errs)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and not math.isinf(x) else str(x)


def _ref_check(
    f: FieldSpec, col: pa.Array, kind: str, known: KnownKeys, errs: _Collector, where: pa.Array | None = None
) -> None:
    if f.type is FieldType.TAGS:
        flat = pc.list_flatten(col)
        keys = known(kind, flat)
        missing = pa.array(~is_known(flat, keys))
        parents = pc.list_parent_indices(col)
        rows = np.unique(parents.filter(missing).to_numpy(zero_copy_only=False))
        if rows.size:
            mask = np.zeros(len(col), dtype=bool)
            mask[rows] = True
            if where is not None:
                mask &= pc.fill_null(where, False).to_numpy(zero_copy_only=False)
            errs.add(mask, f.name, f"names an unknown {kind[:-1] if kind.endswith('s') else kind} id", col)
        return
    if col.null_count == len(col):  # nothing named: nothing to look up
        return
    keys = known(kind, col if where is None else col.filter(pc.fill_null(where, False)))
    mask = ~is_known(col, keys) & ~_nulls(col)
    if where is not None:
        mask &= pc.fill_null(where, False).to_numpy(zero_copy_only=False)
    noun = {
        "content": "content",
        "brands": "brand",
        "shops": "shop",
        "creators": "creator",
        "users": "user",
        "products": "product",
    }.get(kind, kind)
    errs.add(mask, f.name, f"unknown {noun} id", col)


class _Codes:
    """The values of the fields requirements depend on, coded once per batch as their position among
    the values the requirements name (−1: another value or missing), so that each "field is value" is
    an integer comparison, not a pass over strings."""

    def __init__(self, spec: KindSpec, columns: dict[str, pa.Array]) -> None:
        self._columns = columns
        self._named: dict[str, list[str]] = {}
        for req in spec.requirements:
            self._named.setdefault(req.when_field, []).extend(str(v) for v in req.when_values)
        self._codes: dict[str, tuple[np.ndarray, dict[str, int]]] = {}

    def _coded(self, fname: str) -> tuple[np.ndarray, dict[str, int]]:
        if fname not in self._codes:
            named = sorted(set(self._named[fname]))
            found = pc.index_in(self._columns[fname], value_set=pa.array(named, pa.string()))
            code = pc.fill_null(found, -1).to_numpy(zero_copy_only=False)
            self._codes[fname] = (code, {v: i for i, v in enumerate(named)})
        return self._codes[fname]

    def equal(self, fname: str, value: str) -> np.ndarray:
        """Where ``fname`` is ``value`` (as ``pc.equal``, missing values false)."""
        code, index = self._coded(fname)
        return code == index[value]

    def among(self, fname: str, values: Iterable[object]) -> np.ndarray:
        """Where ``fname`` is one of ``values`` (missing values false)."""
        code, index = self._coded(fname)
        return np.isin(code, [index[str(v)] for v in values])


def validate_batch(
    spec: KindSpec,
    raw: pa.Table,
    source: str,
    rows: list[int],
    lines: list[int] | None,
    known: KnownKeys,
    window: TimeWindow | None = None,
) -> Checked:
    """Validate one raw batch of ``spec`` records against types, the domain's bounds (``window``: the
    plausible times, by default from the settings), rules and known ids."""
    if window is None:
        window = Settings.declared().time_window()
    if raw.num_rows <= PLAIN_BATCH_ROWS:
        plain = _plain_records(spec, raw, known, window)
        if plain is not None:
            return Checked(plain)
    errs = _Collector(source, rows, lines)
    n = raw.num_rows
    columns: dict[str, pa.Array] = {}
    unconvertible: dict[str, np.ndarray] = {}
    present = set(raw.column_names)
    for f in spec.fields:
        errs.start_field()
        if f.name in present:
            col = raw.column(f.name).combine_chunks()
            out = _convert(f, col, errs, window)
        else:
            out = pa.nulls(n, arrow_type(f.type))
        unconvertible[f.name] = errs.flagged.copy()  # already named; "missing" would only repeat it
        if f.default is not None and out.null_count:
            out = pc.fill_null(out, pa.scalar(f.default, arrow_type(f.type)))
        if f.required or f.name in spec.key:
            missing = _nulls(out) & ~unconvertible[f.name]
            errs.add(missing, f.name, "required field is missing", None)
        if out.null_count < n:  # every check of a missing value passes
            _range_checks(f, out, errs, window)
        columns[f.name] = out
    codes = _Codes(spec, columns)
    for req in spec.requirements:
        absent_np = np.logical_and.reduce([_nulls(columns[c]) for c in req.any_of])
        named = np.logical_or.reduce([unconvertible[c] for c in req.any_of])
        absent_np &= ~named
        if not (absent_np & codes.among(req.when_field, req.when_values)).any():
            continue
        needed = " or ".join(req.any_of)
        for value in sorted(req.when_values):
            errs.add(
                codes.equal(req.when_field, str(value)) & absent_np,
                needed,
                f"required when {req.when_field} is '{value}'",
                None,
            )
    for f in spec.fields:
        if f.ref is not None:
            _ref_check(f, columns[f.name], f.ref, known, errs)
    for cref in spec.conditional_refs:
        for value, kind in cref.kinds.items():
            where = pc.equal(columns[cref.by_field], value)
            _ref_check(spec.field(cref.field), columns[cref.field], kind, known, errs, where=where)
    good = ~errs.bad
    schema = arrow_schema(spec.name)
    records = pa.Table.from_arrays([columns[f.name] for f in spec.fields], schema=schema)
    if not good.all():
        records = records.filter(pa.array(good))
    for fld, col in zip(schema, records.columns, strict=True):
        if not fld.nullable and col.null_count:  # every missing required value was named above
            raise ValueError(f"field {fld.name!r} is missing in a row that passed validation")
    errs.errors.sort(key=lambda e: e.row or 0)
    return Checked(records, errs.errors, int(errs.bad.sum()), np.flatnonzero(errs.bad).tolist())


#: Rows up to which a batch is first checked row by row for being plainly valid (``_plain_records``).
PLAIN_BATCH_ROWS = 256
#: The field types ``_plain_records`` takes; a value of another type sends the batch down the full path.
_PLAIN_TYPES = frozenset({FieldType.ID, FieldType.ENUM, FieldType.TIMESTAMP})
#: A time both Arrow and ``datetime.fromisoformat`` read, to the same instant.
_PLAIN_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})")


def _plain_id(value: str) -> bool:
    """Printable ASCII, no space at either end, at most ``MAX_ID_LENGTH``: none of ``_id_suspects``,
    so every id check passes it unchanged."""
    return (
        0 < len(value) <= MAX_ID_LENGTH
        and value.isascii()
        and value.isprintable()
        and value[0] != " "
        and value[-1] != " "
    )


def _plain_time(value: str, window: TimeWindow) -> int | None:
    """UTC milliseconds of a plainly written time inside ``window`` (floored, as ``_parse_timestamps``),
    else None."""
    if _PLAIN_TIME.fullmatch(value) is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    ms = (dt - _EPOCH) // _MS
    return ms if window.earliest_ms <= ms <= window.latest_ms else None


def _plain_records(spec: KindSpec, raw: pa.Table, known: KnownKeys, window: TimeWindow) -> pa.Table | None:
    """The canonical records of a small batch of text in which every value is plainly valid — ids of
    printable ASCII, enum values as declared, times in one ISO 8601 form inside the window, every
    requirement met, every reference known — built row by row without the columnar checks. None as soon
    as anything is not plain (another field type, a value to trim, a bad or unknown value): the full
    validation then names what is wrong. Only rows that validation passes unchanged are taken here."""
    if spec.conditional_refs:
        return None
    n = raw.num_rows
    present = set(raw.column_names)
    values: dict[str, list[Any]] = {}
    for f in spec.fields:
        if f.name not in present:
            continue
        col = raw.column(f.name)
        if col.null_count == len(col):  # no value (a CSV's empty column): as if absent
            continue
        if f.type not in _PLAIN_TYPES or not pa.types.is_string(col.type):
            return None
        values[f.name] = col.to_pylist()
    arrays: list[pa.Array] = []
    for f in spec.fields:
        got = values.get(f.name)
        if got is None:
            if f.required or f.name in spec.key:
                return None
            if f.default is None:
                arrays.append(pa.nulls(n, arrow_type(f.type)))
            else:
                values[f.name] = [f.default] * n
                arrays.append(pa.array(values[f.name], arrow_type(f.type)))
            continue
        if f.default is not None:
            got = values[f.name] = [f.default if v is None else v for v in got]
        if (f.required or f.name in spec.key) and None in got:
            return None
        if f.type is FieldType.ID:
            if not all(v is None or _plain_id(v) for v in got):
                return None
        elif f.type is FieldType.ENUM:
            allowed = _enum_strings(f)
            if not all(v is None or v in allowed for v in got):
                return None
        else:  # FieldType.TIMESTAMP
            ms = [None if v is None else _plain_time(v, window) for v in got]
            if any(m is None and v is not None for m, v in zip(ms, got, strict=True)):
                return None
            arrays.append(pa.array(ms, pa.int64()).cast(TIMESTAMP_TYPE))
            continue
        arrays.append(pa.array(got, pa.string()))
    for req in spec.requirements:
        when = values.get(req.when_field, [None] * n)
        trigger = {str(v) for v in req.when_values}
        named = [values.get(c) for c in req.any_of]
        for i, v in enumerate(when):
            if v in trigger and all(c is None or c[i] is None for c in named):
                return None
    for f in spec.fields:
        got = values.get(f.name)
        if f.ref is None or got is None or all(v is None for v in got):
            continue
        keys = set(known(f.ref, pa.array(got, pa.string())).to_pylist())
        if not all(v is None or v in keys for v in got):
            return None
    return pa.Table.from_arrays(arrays, schema=arrow_schema(spec.name))


@functools.cache
def _enum_strings(f: FieldSpec) -> frozenset[str]:
    return frozenset(_enum_values(f).to_pylist())


def _nulls(col: pa.Array) -> np.ndarray:
    """Where ``col`` is missing, as a numpy mask (without a kernel when none or all are)."""
    if not col.null_count:
        return np.zeros(len(col), dtype=bool)
    if col.null_count == len(col):
        return np.ones(len(col), dtype=bool)
    return col.is_null().to_numpy(zero_copy_only=False)
