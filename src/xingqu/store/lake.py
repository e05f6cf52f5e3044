"""The event lake: the event log as Hive-partitioned Parquet (``events/date=YYYY-MM-DD/part-….parquet``)
in a folder or any filesystem pyarrow opens (``s3://…``, ``hdfs://…``, ``file://…``).

Writers publish a file only when it is complete (written under a hidden temporary name, then renamed),
so a reader or a process killed mid-import never sees half a file. Readers see each event once: every
day's files are deduplicated by ``event_id`` as they are read (the first published copy wins), so
duplicates that overlapping or concurrent imports left behind never reach a reader, and
``compact`` rewrites each day into one file without them. Memory is bounded by one day of the columns
asked for.
"""

from __future__ import annotations

import functools
import itertools
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from xingqu.domain.arrow import arrow_schema
from xingqu.errors import StoreError
from xingqu.store.events import SCAN_BATCH_ROWS, checked_columns
from xingqu.store.write_behind import WriteBehind

DAY_MS = 86_400_000
EVENTS_DIR = "events"
#: Published files start with this; temporary ones start with "." (pyarrow's datasets skip those too).
PART_PREFIX = "part-"
#: Rows per Parquet row group written to the lake.
ROW_GROUP_ROWS = 256_000
#: How rows are written to the lake: zstd at its fastest level; no dictionary for the columns of
#: unique ids (it would be dropped after the first page anyway); min/max statistics for the columns
#: readers filter on (times, users, event types), which are what row groups are skipped by.
WRITE_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 1,
    "use_dictionary": [
        n for n in arrow_schema("events").names if n not in ("event_id", "order_id", "request_id")
    ],
    "write_statistics": ["ts", "user_id", "event_type"],
}
#: New rows an appender holds across its days before writing them all (bounds its memory; a day's
#: rows are written as soon as they fill a row group).
HELD_ROWS = 4 * ROW_GROUP_ROWS
#: Rows handed to an appender's writer thread and not yet written, beyond which the appender waits.
WRITING_ROWS = HELD_ROWS


def day_of(ts_ms: int) -> str:
    """The partition (UTC date, ``YYYY-MM-DD``) an event time falls in."""
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ts_ms)).date().isoformat()


def day_start_ms(day: str) -> int:
    """UTC milliseconds at the start of a partition's date."""
    return int(datetime.combine(date.fromisoformat(day), datetime.min.time(), UTC).timestamp() * 1000)


def open_filesystem(url: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the root path in it, for a folder path or any URI pyarrow supports."""
    if "://" not in url:
        return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(url))
    try:
        return pafs.FileSystem.from_uri(url)  # type: ignore[no-any-return]
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise StoreError(f"XINGQU_EVENTS: cannot open the event lake {url!r} ({exc})") from None


def _mix64(h: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads the bits of a 64-bit hash."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


_P = np.uint64(0x100000001B3)
_POWERS: tuple[np.ndarray, np.ndarray] = (np.ones(1, np.uint64), np.ones(1, np.uint64))


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """p^k and p^-k modulo 2^64 for k < n (at least), computed once and grown by doubling."""
    global _POWERS
    have = _POWERS
    if len(have[0]) >= n:
        return have
    size = max(n, 2 * len(have[0]), 1 << 16)
    with np.errstate(over="ignore"):
        inv = np.uint64(1)
        for _ in range(7):  # Newton's iteration for p's inverse modulo 2^64 (p odd)
            inv = inv * (np.uint64(2) - _P * inv)
        powers = np.r_[np.uint64(1), np.cumprod(np.full(size - 1, _P, np.uint64))]
        inv_powers = np.r_[np.uint64(1), np.cumprod(np.full(size - 1, inv, np.uint64))]
    _POWERS = (powers, inv_powers)
    return _POWERS


def id_hashes(ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash of each string (vectorised: a polynomial over the bytes, then mixed)."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks() if ids.num_chunks else pa.array([], pa.string())
    ids = ids.cast(pa.large_string())
    n = len(ids)
    if n == 0:
        return np.zeros(0, np.uint64)
    _, offsets_buf, data_buf = ids.buffers()
    offsets = np.frombuffer(offsets_buf, np.int64, n + 1, ids.offset * 8)
    lo, hi = int(offsets[0]), int(offsets[-1])
    data = np.zeros(0, np.uint64)
    if hi > lo:
        data = np.frombuffer(data_buf, np.uint8, hi - lo, lo).astype(np.uint64)
    powers, inv_powers = _powers(len(data) + 1)
    with np.errstate(over="ignore"):
        sums = np.r_[np.uint64(0), np.cumsum(data * powers[1 : len(data) + 1], dtype=np.uint64)]
        starts, ends = offsets[:-1] - lo, offsets[1:] - lo
        h = (sums[ends] - sums[starts]) * inv_powers[starts]
        h = h + (ends - starts).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        return _mix64(h)


def _keep_first(ids: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """Positions of the first occurrence of each id, ascending; None when there are no repeats."""
    n = len(ids)
    if n < 2:
        return None
    t = pa.table({"k": ids, "__i": pa.array(np.arange(n))})
    first = t.group_by("k", use_threads=False).aggregate([("__i", "min")])
    if first.num_rows == n:
        return None
    return np.sort(first.column("__i_min").to_numpy())


def _pushdown(start_ms: int | None, end_ms: int | None, user_ids: Sequence[str] | None) -> Any:
    """A Parquet filter for a time range and a set of users (None: read everything)."""
    ts = pads.field("ts")
    out = None
    for cond in (
        None if start_ms is None else ts >= pa.scalar(start_ms, pa.timestamp("ms", tz="UTC")),
        None if end_ms is None else ts < pa.scalar(end_ms, pa.timestamp("ms", tz="UTC")),
        None if user_ids is None else pads.field("user_id").isin(pa.array(list(user_ids), pa.string())),
    ):
        if cond is not None:
            out = cond if out is None else out & cond
    return out


class LakeEventLog:
    """``EventLog`` over a Parquet event lake (``url``: a folder path or a pyarrow filesystem URI)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.fs, self.root = open_filesystem(url)
        self.events_root = f"{self.root.rstrip('/')}/{EVENTS_DIR}"

    def __repr__(self) -> str:
        return f"LakeEventLog({self.url!r})"

    # -- layout -------------------------------------------------------------------------------

    def days(self) -> list[str]:
        """The dates that have a partition folder, in order."""
        try:
            infos = self.fs.get_file_info(pafs.FileSelector(self.events_root, allow_not_found=True))
        except OSError as exc:
            raise StoreError(f"cannot list the event lake {self.url!r}: {exc}") from None
        out = []
        for info in infos:
            if info.type == pafs.FileType.Directory and info.base_name.startswith("date="):
                out.append(info.base_name[5:])
        return sorted(out)

    def day_dir(self, day: str) -> str:
        return f"{self.events_root}/date={day}"

    def files(self, day: str) -> list[str]:
        """A day's published files, oldest first (names start with their writing time)."""
        infos = self.fs.get_file_info(pafs.FileSelector(self.day_dir(day), allow_not_found=True))
        return sorted(
            i.path
            for i in infos
            if i.type == pafs.FileType.File
            and i.base_name.startswith(PART_PREFIX)
            and i.path.endswith(".parquet")
        )

    def _days_in(self, start_ms: int | None, end_ms: int | None) -> list[str]:
        days = self.days()
        if start_ms is not None:
            first = day_of(start_ms)
            days = [d for d in days if d >= first]
        if end_ms is not None:
            last = day_of(end_ms - 1)
            days = [d for d in days if d <= last]
        return days

    # -- reads --------------------------------------------------------------------------------

    def read_day(
        self,
        day: str,
        columns: Sequence[str] | None = None,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        event_types: Sequence[str] | None = None,
        ordered: bool = False,
        user_ids: Sequence[str] | None = None,
    ) -> pa.Table:
        """One day's events, each once, of ``columns`` (every column when None), filtered (the time
        range and ``user_ids`` pushed down to the Parquet reader, which skips row groups outside them)."""
        names = checked_columns(columns)
        schema = arrow_schema("events")
        wanted = list(dict.fromkeys(["event_id", *names, "ts", "event_type"]))
        pushed = _pushdown(start_ms, end_ms, user_ids)
        parts = []
        for path in self.files(day):
            try:
                parts.append(pq.read_table(path, columns=wanted, filesystem=self.fs, filters=pushed))
            except (pa.ArrowException, OSError) as exc:
                raise StoreError(f"cannot read {path} in the event lake: {exc}") from None
        sub = pa.schema([schema.field(c) for c in wanted])
        if not parts:
            return pa.schema([schema.field(c) for c in names]).empty_table()
        table = pa.concat_tables([p.cast(sub) for p in parts]) if len(parts) > 1 else parts[0].cast(sub)
        if len(parts) > 1:
            keep = _keep_first(table.column("event_id"))
            if keep is not None:
                table = table.take(pa.array(keep))
        mask = None
        ts = pc.cast(table.column("ts"), pa.int64())
        for m in (
            None if start_ms is None else pc.greater_equal(ts, start_ms),
            None if end_ms is None else pc.less(ts, end_ms),
            None
            if event_types is None
            else pc.is_in(table.column("event_type"), value_set=pa.array(list(event_types), pa.string())),
        ):
            if m is not None:
                mask = m if mask is None else pc.and_(mask, m)
        if mask is not None:
            table = table.filter(mask)
        if ordered and table.num_rows > 1:
            table = table.take(pc.sort_indices(table.column("event_id")))
        return table.select(names)

    def scan(
        self,
        columns: Sequence[str] | None = None,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        event_types: Sequence[str] | None = None,
        ordered: bool = False,
        batch_rows: int = SCAN_BATCH_ROWS,
    ) -> Iterator[pa.RecordBatch]:
        """Stream the events day by day (``ordered``: by event id within each day, days in order)."""
        checked_columns(columns)
        for day in self._days_in(start_ms, end_ms):
            table = self.read_day(
                day, columns, start_ms=start_ms, end_ms=end_ms, event_types=event_types, ordered=ordered
            )
            yield from table.combine_chunks().to_batches(batch_rows)

    def count(self, start_ms: int | None = None, end_ms: int | None = None) -> int:
        return sum(b.num_rows for b in self.scan(["ts"], start_ms=start_ms, end_ms=end_ms))

    def time_range(self) -> tuple[int, int] | None:
        days = [d for d in self.days() if self.files(d)]
        if not days:
            return None
        lo = self.read_day(days[0], ["ts"]).column("ts")
        hi = self.read_day(days[-1], ["ts"]).column("ts")
        return int(pc.min(pc.cast(lo, pa.int64())).as_py()), int(pc.max(pc.cast(hi, pa.int64())).as_py())

    def since(self, ts_ms: int, user_ids: list[str] | None = None) -> pa.Table:
        tables = []
        for day in self._days_in(ts_ms + 1, None):
            t = self.read_day(day, start_ms=ts_ms + 1, user_ids=user_ids)
            if t.num_rows:
                tables.append(t)
        if not tables:
            return arrow_schema("events").empty_table()
        out = pa.concat_tables(tables)
        return out.take(pc.sort_indices(out, [("ts", "ascending"), ("event_id", "ascending")]))

    # -- writes -------------------------------------------------------------------------------

    def appender(self) -> LakeAppender:
        """A writer of new events, published together by ``LakeAppender.publish``."""
        return LakeAppender(self)

    def compact(self, days: Sequence[str] | None = None) -> CompactReport:
        """Rewrite each day with more than one file (or with duplicates) as one file of its events,
        each once, in event-id order; the new file is published before the old ones are removed, and
        readers see each event once at every moment in between."""
        report = CompactReport()
        for day in days or self.days():
            files = self.files(day)
            if not files:
                continue
            report.days += 1
            rows_before = sum(pq.ParquetFile(f, filesystem=self.fs).metadata.num_rows for f in files)
            if len(files) == 1:
                report.events += rows_before
                continue
            table = self.read_day(day, ordered=True)
            name = _part_name()
            tmp = f"{self.day_dir(day)}/.{name}.tmp"
            pq.write_table(table, tmp, filesystem=self.fs, row_group_size=ROW_GROUP_ROWS, **WRITE_OPTIONS)
            final = f"{self.day_dir(day)}/{PART_PREFIX}{name}"
            self.fs.move(tmp, final)
            # the new file sorts last: until the old ones go, the first copies (theirs) are read
            for f in files:
                self.fs.delete_file(f)
            report.rewritten += 1
            report.files_removed += len(files)
            report.duplicates += rows_before - table.num_rows
            report.events += table.num_rows
        return report


@dataclass
class CompactReport:
    """What ``LakeEventLog.compact`` did."""

    days: int = 0
    rewritten: int = 0
    files_removed: int = 0
    duplicates: int = 0
    events: int = 0


def _part_name() -> str:
    """A published file's name: its writing time first (so a day's files sort oldest first), then a
    random part (so concurrent writers never collide)."""
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.parquet"


@dataclass
class _DayState:
    """What one appender knows about one day: hashes of the ids already in the lake or written now, and
    the new rows not yet written to its temporary file."""

    known: np.ndarray  # sorted
    pending: list[np.ndarray] = field(default_factory=list)  # sorted, not yet merged
    writer: pq.ParquetWriter | None = None
    tmp: str = ""
    final: str = ""
    held: list[pa.Table] = field(default_factory=list)  # new rows, in order, not yet written
    held_rows: int = 0

    def seen(self, h: np.ndarray) -> np.ndarray:
        order = np.argsort(h)
        probe = h[order]  # sorted needles: each binary search starts where the last one ended
        found = np.zeros(len(h), bool)
        for arr in (self.known, *self.pending):
            if len(arr):
                pos = np.searchsorted(arr, probe)
                pos[pos == len(arr)] = 0
                found |= arr[pos] == probe
        out = np.empty(len(h), bool)
        out[order] = found
        return out

    def add(self, h: np.ndarray) -> None:
        self.pending.append(np.sort(h))
        waiting = sum(len(p) for p in self.pending)
        if waiting > max(len(self.known), 1_000_000) // 4:
            self.known = np.sort(np.concatenate([self.known, *self.pending]))
            self.pending = []
        elif len(self.pending) > 8:  # few sorted runs to search, each merge at least doubling
            self.pending = [np.sort(np.concatenate(self.pending))]


def _day_runs(day_no: np.ndarray) -> list[tuple[int, np.ndarray | slice]]:
    """Each day number of a batch with its rows: a slice when the batch is in time order (files of
    one day or sorted by time), else the row positions."""
    if len(day_no) == 0:
        return []
    if np.all(day_no[1:] >= day_no[:-1]):
        cuts = np.flatnonzero(day_no[1:] != day_no[:-1]) + 1
        bounds = [0, *cuts.tolist(), len(day_no)]
        return [(int(day_no[a]), slice(a, b)) for a, b in itertools.pairwise(bounds)]
    return [(int(d), np.flatnonzero(day_no == d)) for d in np.unique(day_no)]


class LakeAppender:
    """Appends validated canonical events to the lake: each day's new events go to one temporary file
    per import (held and written in row groups of up to ``ROW_GROUP_ROWS``), published by ``publish``
    (renamed into place) or removed by ``abort``. Files are written by one thread of the appender's
    own, in the order rows were handed over, while the caller goes on with the next events (pyarrow
    encodes and compresses without holding the GIL).

    An event whose id is already in the lake (or earlier in this import) is not written: ids are
    compared by a 64-bit hash, so re-importing a file writes nothing."""

    def __init__(self, lake: LakeEventLog) -> None:
        self.lake = lake
        self._days: dict[str, _DayState] = {}
        self._schema = arrow_schema("events")
        self._held = 0
        self._writes = WriteBehind("xingqu-lake-writer", WRITING_ROWS)

    def _day(self, day: str) -> _DayState:
        state = self._days.get(day)
        if state is None:
            ids = [
                pq.read_table(f, columns=["event_id"], filesystem=self.lake.fs).column("event_id")
                for f in self.lake.files(day)
            ]
            known = np.sort(np.concatenate([id_hashes(c) for c in ids])) if ids else np.zeros(0, np.uint64)
            state = _DayState(known)
            self._days[day] = state
        return state

    def append(self, records: pa.Table, hashes: np.ndarray | None = None) -> pa.Table:
        """Write the events of ``records`` (canonical, ids unique within it) not yet in the lake; returns
        those written. ``hashes``: the ``id_hashes`` of their ids, when already computed."""
        if records.num_rows == 0:
            return records
        records = records.select(self._schema.names).cast(self._schema)
        ts = pc.cast(records.column("ts"), pa.int64()).to_numpy()
        if hashes is None:
            hashes = id_hashes(records.column("event_id"))
        new = np.zeros(records.num_rows, bool)
        for d, rows in _day_runs(ts // DAY_MS):
            day = day_of(d * DAY_MS)
            state = self._day(day)
            old = state.seen(hashes[rows])
            if old.all():
                continue
            if isinstance(rows, slice) and not old.any():
                state.add(hashes[rows])
                new[rows] = True
                part = records.slice(rows.start, rows.stop - rows.start)
            else:
                fresh = np.arange(records.num_rows)[rows][~old]
                state.add(hashes[fresh])
                new[fresh] = True
                part = records.take(pa.array(fresh))
            self._hold(day, state, part)
        return records if new.all() else records.filter(pa.array(new))

    def _hold(self, day: str, state: _DayState, part: pa.Table) -> None:
        state.held.append(part)
        state.held_rows += part.num_rows
        self._held += part.num_rows
        if state.held_rows >= ROW_GROUP_ROWS:
            self._write(day, state)
        if self._held >= HELD_ROWS:
            for d, s in self._days.items():
                self._write(d, s)

    def _write(self, day: str, state: _DayState) -> None:
        """Hand a day's held rows to the writer thread, for its temporary file (opened on its first rows)."""
        if not state.held:
            return
        if not state.tmp:
            name = _part_name()
            folder = self.lake.day_dir(day)
            state.tmp = f"{folder}/.{name}.tmp"
            state.final = f"{folder}/{PART_PREFIX}{name}"
        table = pa.concat_tables(state.held) if len(state.held) > 1 else state.held[0]
        self._held -= state.held_rows
        state.held, state.held_rows = [], 0
        self._writes.submit(functools.partial(self._write_now, state, table), table.num_rows)

    def _write_now(self, state: _DayState, table: pa.Table) -> None:
        """On the writer thread: append ``table`` to the day's temporary file, opening it first."""
        if state.writer is None:
            self.lake.fs.create_dir(state.tmp.rsplit("/", 1)[0], recursive=True)
            state.writer = pq.ParquetWriter(state.tmp, self._schema, filesystem=self.lake.fs, **WRITE_OPTIONS)
        state.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)

    def write_held(self) -> None:
        """Hand every held row to the writer thread now (``publish`` then only waits for them)."""
        for day, state in self._days.items():
            self._write(day, state)

    def publish(self) -> int:
        """Write what is held, close and rename every temporary file into place; returns the files
        published."""
        self.write_held()
        self._writes.wait()
        done = 0
        for state in self._days.values():
            if state.writer is not None:
                state.writer.close()
                state.writer = None
                self.lake.fs.move(state.tmp, state.final)
                done += 1
        self._days.clear()
        self._held = 0
        return done

    def abort(self) -> None:
        """Drop what is held and remove every temporary file: the lake is as before."""
        self._writes.stop()
        for state in self._days.values():
            state.held, state.held_rows = [], 0
            if state.writer is not None:
                state.writer.close()
                state.writer = None
                self.lake.fs.delete_file(state.tmp)
        self._days.clear()
        self._held = 0


def sweep_temporary(lake: LakeEventLog, older_than_s: float = 86_400.0) -> int:
    """Remove temporary files left by killed imports (older than ``older_than_s``); returns how many."""
    removed = 0
    now = time.time()
    for day in lake.days():
        infos = lake.fs.get_file_info(pafs.FileSelector(lake.day_dir(day), allow_not_found=True))
        for i in infos:
            if i.type == pafs.FileType.File and i.base_name.startswith(".") and i.base_name.endswith(".tmp"):
                mtime = i.mtime.timestamp() if i.mtime is not None else 0.0
                if now - mtime >= older_than_s:
                    lake.fs.delete_file(i.path)
                    removed += 1
    return removed
