"""Readers for CSV/TSV, JSON Lines and Parquet: each yields bounded batches of raw rows with positions.

Text formats yield every column as strings (empty cell = missing) with the line each row starts on;
Parquet yields its typed columns. Rows that cannot even be parsed (bad JSON, wrong cell count) come
back as row errors beside the batch; the validator turns raw columns into typed records.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from xingqu.domain.records import MAX_RECORD_BYTES, FieldType, KindSpec
from xingqu.errors import RowError, UserError
from xingqu.ingest.jsontext import JsonTextError, loads

# one CSV field may be as long as one JSON line; the validator then applies the same text limits to
# both (a field past this is a malformed row, named by its line)
csv.field_size_limit(MAX_RECORD_BYTES)

TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
SUPPORTED_SUFFIXES = tuple(sorted({*TEXT_SUFFIXES, *JSONL_SUFFIXES, *PARQUET_SUFFIXES}))
#: JSON's own whitespace. Python's str.strip also strips control characters such as \x1c-\x1f, which
#: would pass a line of them as blank: such a line is a record that is not JSON, reported as such.
JSON_WHITESPACE = " \t\r\n"


def blank_json_line(text: str) -> bool:
    """Whether a JSON Lines line holds nothing but JSON whitespace (skipped, as the format allows)."""
    return not text.strip(JSON_WHITESPACE)


@dataclass
class RawBatch:
    """Up to one batch of rows as read: columns, their 1-based row numbers and (text) line numbers."""

    table: pa.Table
    rows: list[int]
    lines: list[int] | None
    parse_errors: list[RowError] = field(default_factory=list)
    progress: int = 0  # bytes (text) or rows (Parquet) consumed so far


class FileError(UserError):
    """A file cannot be read at all (missing, wrong encoding, unknown columns, not Parquet…)."""


def progress_total(path: Path) -> int:
    """The unit total that ``RawBatch.progress`` counts towards: bytes, or rows for Parquet."""
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return _parquet_file(path).metadata.num_rows
    return path.stat().st_size


def read_batches(path: Path, spec: KindSpec, batch_rows: int) -> Iterator[RawBatch]:
    """Stream a file of one record kind in batches of at most ``batch_rows`` rows."""
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        _check_utf8(path)
        return _read_delimited(path, spec, batch_rows, TEXT_SUFFIXES[suffix])
    if suffix in JSONL_SUFFIXES:
        _check_utf8(path)
        return _read_jsonl(path, spec, batch_rows)
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(path, spec, batch_rows)
    raise FileError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}")


def _check_utf8(path: Path) -> None:
    """Fail with the line and byte offset of the first byte sequence that is not UTF-8."""
    offset = 0
    with path.open("rb") as fh:
        for lineno, raw, _size in bounded_lines(fh):
            if raw is None:
                continue  # refused unread as too long
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise FileError(
                    f"{path}, line {lineno}: not valid UTF-8 at byte {offset + exc.start} "
                    f"({raw[exc.start : exc.start + 4]!r}); save the file as UTF-8"
                ) from None
            offset += len(raw)


def bounded_lines(fh: BinaryIO, limit: int = MAX_RECORD_BYTES) -> Iterator[tuple[int, bytes | None, int]]:
    """Lines of a binary file as (line number, bytes, size); a line longer than ``limit`` bytes comes
    back as None, skipped in 1 MiB pieces, so that no line costs more than ``limit`` of memory."""
    lineno = 0
    while True:
        raw = fh.readline(limit + 1)
        if not raw:
            return
        lineno += 1
        if len(raw) <= limit or raw.endswith(b"\n"):
            yield lineno, raw, len(raw)
            continue
        size = len(raw)
        while True:
            chunk = fh.readline(1 << 20)
            size += len(chunk)
            if not chunk or chunk.endswith(b"\n"):
                break
        yield lineno, None, size


def _check_columns(path: Path, spec: KindSpec, columns: list[str]) -> None:
    unknown = [c for c in columns if not spec.has(c)]
    if unknown:
        raise FileError(
            f"{path}: unknown column(s) {', '.join(map(repr, unknown))} for {spec.name}; "
            f"known columns: {', '.join(spec.columns)}"
        )
    dupes = sorted({c for c in columns if columns.count(c) > 1})
    if dupes:
        raise FileError(f"{path}: column(s) {', '.join(map(repr, dupes))} appear more than once")
    missing = [f.name for f in spec.fields if f.required and f.name not in columns]
    if missing:
        raise FileError(f"{path}: required column(s) {', '.join(map(repr, missing))} missing for {spec.name}")


def _string_table(columns: list[str], values: list[list[str | None]]) -> pa.Table:
    return pa.table({c: pa.array(v, type=pa.string()) for c, v in zip(columns, values, strict=True)})


def _read_delimited(path: Path, spec: KindSpec, batch_rows: int, delimiter: str) -> Iterator[RawBatch]:
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        reader = csv.reader(text, delimiter=delimiter, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            raise FileError(f"{path}: the file is empty; a header row is required") from None
        except csv.Error as exc:
            raise FileError(f"{path}, line 1: cannot read the header: {exc}") from None
        columns = [h.strip() for h in header]
        _check_columns(path, spec, columns)
        width = len(columns)
        values: list[list[str | None]] = [[] for _ in columns]
        rows: list[int] = []
        lines: list[int] = []
        errors: list[RowError] = []
        row_no = 0
        prev_line = reader.line_num
        while True:
            try:
                record = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                row_no += 1
                errors.append(RowError(str(path), row_no, None, f"malformed CSV: {exc}", line=prev_line + 1))
                prev_line = reader.line_num
                continue
            start_line = prev_line + 1
            prev_line = reader.line_num
            if not record:
                continue  # blank line
            row_no += 1
            if len(record) != width:
                errors.append(
                    RowError(
                        str(path),
                        row_no,
                        None,
                        f"has {len(record)} cells, the header has {width}",
                        line=start_line,
                    )
                )
            else:
                for col, cell in zip(values, record, strict=True):
                    col.append(cell if cell != "" else None)
                rows.append(row_no)
                lines.append(start_line)
            if len(rows) + len(errors) >= batch_rows:
                yield RawBatch(_string_table(columns, values), rows, lines, errors, raw.tell())
                values = [[] for _ in columns]
                rows, lines, errors = [], [], []
        if rows or errors:
            yield RawBatch(_string_table(columns, values), rows, lines, errors, raw.tell())


def _json_cell(spec: KindSpec, name: str, value: object) -> str | None:
    """A JSON value as the string a CSV cell would hold; raises ValueError for a wrong shape."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list) and spec.field(name).type is FieldType.TAGS:
        return json.dumps(value, ensure_ascii=False)
    raise ValueError(f"expected a single value, got a JSON {type(value).__name__}")


def records_batch(spec: KindSpec, items: list[object], source: str) -> RawBatch:
    """Records already parsed from JSON (an HTTP request's items) as one raw batch, read by the rules of
    JSON Lines; its rows are the items' 0-based positions. An item that is not an object, has an unknown
    field or a value of the wrong shape is a row error naming its position and field."""
    allowed = frozenset(spec.columns)
    seen: dict[str, None] = {}
    data: list[dict[str, str | None]] = []
    rows: list[int] = []
    errors: list[RowError] = []
    for i, obj in enumerate(items):
        if not isinstance(obj, dict):
            errors.append(RowError(source, i, None, "each item must be a JSON object"))
            continue
        unknown = [k for k in obj if k not in allowed]
        if unknown:
            known = ", ".join(spec.columns)
            for k in unknown:
                errors.append(RowError(source, i, str(k), f"unknown field for {spec.name}; known: {known}"))
            continue
        record: dict[str, str | None] = {}
        bad = False
        for key, value in obj.items():
            if value is None or type(value) is str:  # the common case, as ``_json_cell`` reads it
                record[key] = value or None
                continue
            try:
                record[key] = _json_cell(spec, key, value)
            except ValueError as exc:
                errors.append(RowError(source, i, key, str(exc)))
                bad = True
        if bad:
            continue
        for key in record:
            if key not in seen:
                seen[key] = None
        data.append(record)
        rows.append(i)
    columns = list(seen) or [spec.key[0]]  # items with no field at all still count as rows
    values = [[r.get(c) for r in data] for c in columns]
    return RawBatch(_string_table(columns, values), rows, None, errors, len(items))


def _read_jsonl(path: Path, spec: KindSpec, batch_rows: int) -> Iterator[RawBatch]:
    source = str(path)
    seen: dict[str, None] = {}
    rows_data: list[dict[str, str | None]] = []
    rows: list[int] = []
    lines: list[int] = []
    errors: list[RowError] = []
    row_no = 0
    offset = 0

    def flush() -> RawBatch:
        columns = list(seen)
        values = [[r.get(c) for r in rows_data] for c in columns]
        return RawBatch(_string_table(columns, values), list(rows), list(lines), list(errors), offset)

    with path.open("rb") as fh:
        for lineno, raw, size in bounded_lines(fh):
            offset += size
            if raw is None:
                row_no += 1
                reason = f"line of {size:,} bytes is longer than the limit of {MAX_RECORD_BYTES:,}"
                errors.append(RowError(source, row_no, None, reason, line=lineno))
                continue
            text = raw.decode("utf-8")
            if lineno == 1:
                text = text.removeprefix("\ufeff")
            if blank_json_line(text):
                continue
            row_no += 1
            try:
                obj = loads(text)
            except JsonTextError as exc:
                errors.append(RowError(source, row_no, None, str(exc), line=lineno))
            else:
                if not isinstance(obj, dict):
                    errors.append(
                        RowError(source, row_no, None, "each line must be a JSON object", line=lineno)
                    )
                else:
                    unknown = [k for k in obj if not spec.has(k)]
                    if unknown:
                        raise FileError(
                            f"{path}, line {lineno}: unknown field(s) {', '.join(map(repr, unknown))} "
                            f"for {spec.name}; known fields: {', '.join(spec.columns)}"
                        )
                    record: dict[str, str | None] = {}
                    bad = False
                    for key, value in obj.items():
                        try:
                            record[key] = _json_cell(spec, key, value)
                        except ValueError as exc:
                            errors.append(RowError(source, row_no, key, str(exc), line=lineno))
                            bad = True
                        seen.setdefault(key)
                    if not bad:
                        rows_data.append(record)
                        rows.append(row_no)
                        lines.append(lineno)
            if len(rows) + len(errors) >= batch_rows:
                yield flush()
                rows_data, rows, lines, errors = [], [], [], []
    if row_no == 0:
        raise FileError(f"{path}: the file is empty; one JSON object per line is required")
    if rows or errors:
        yield flush()


def _parquet_file(path: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise FileError(f"{path}: not a readable Parquet file ({exc})") from None


def _read_parquet(path: Path, spec: KindSpec, batch_rows: int) -> Iterator[RawBatch]:
    pf = _parquet_file(path)
    columns = list(pf.schema_arrow.names)
    _check_columns(path, spec, columns)
    done = 0
    try:
        for batch in pf.iter_batches(batch_size=batch_rows):
            n = batch.num_rows
            rows = list(range(done + 1, done + n + 1))
            done += n
            yield RawBatch(pa.Table.from_batches([batch]), rows, None, [], done)
    except (pa.ArrowException, OSError) as exc:
        raise FileError(f"{path}: cannot read Parquet data after row {done} ({exc})") from None
