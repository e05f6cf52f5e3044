"""Import files or folders into the store: whole or not at all, idempotent for events."""

from __future__ import annotations

import functools
import itertools
import json
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xingqu.config import Settings
from xingqu.domain.records import IMPORT_ORDER, KINDS, KindSpec, TimeWindow, kind_spec
from xingqu.errors import NotFoundError, RowError, UserError, ValidationFailed
from xingqu.governance.context import ScreeningContext
from xingqu.governance.intake import record_screening, screen_products
from xingqu.governance.screening import Decision, Screener
from xingqu.ingest.readers import (
    PARQUET_SUFFIXES,
    SUPPORTED_SUFFIXES,
    FileError,
    RawBatch,
    progress_total,
    read_batches,
    records_batch,
)
from xingqu.ingest.validate import Checked, validate_batch
from xingqu.outputs import OutputPathError, check_output_file
from xingqu.store import Connection, Store
from xingqu.store.convert import to_storage
from xingqu.store.lake import LakeAppender, id_hashes
from xingqu.store.rollups import Lookups, Partial, RollupBuilder
from xingqu.store.write_behind import WriteBehind

#: progress(file, done, total): done/total in the reader's unit (bytes, or rows for Parquet).
Progress = Callable[[Path, int, int], None]


@dataclass
class FileReport:
    """What happened to one file."""

    path: str
    kind: str
    rows: int = 0  # rows read
    written: int = 0  # rows inserted (events) or inserted-or-updated (other kinds)
    duplicates: int = 0  # events already stored, or repeated within the file
    rejected: int = 0  # invalid rows (written to the reject file with --skip-invalid)
    screened: dict[str, int] | None = None  # products screened at import: decisions by kind


@dataclass
class ImportReport:
    """What an import did, file by file."""

    files: list[FileReport] = field(default_factory=list)
    rejects_path: str | None = None
    seconds: float = 0.0
    #: records of an in-memory import (``import_items``) that were valid, per kind, canonical
    accepted: dict[str, pa.Table] = field(default_factory=dict, repr=False)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def written(self) -> int:
        return sum(f.written for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    def to_dict(self) -> dict[str, object]:
        return {
            "files": [asdict(f) for f in self.files],
            "rows": self.rows,
            "written": self.written,
            "rejected": self.rejected,
            "rejects_path": self.rejects_path,
            "seconds": round(self.seconds, 3),
        }


def kind_from_name(path: Path) -> str | None:
    """The record kind a file name implies: its stem starts with a kind name (``events-2026-05.parquet``)."""
    stem = path.name.split(".")[0].lower()
    matches = [k for k in KINDS if stem == k or stem.startswith((k + "-", k + "_"))]
    return max(matches, key=len) if matches else None


def plan_import(path: Path, kind: str | None = None) -> list[tuple[Path, str]]:
    """The files an import will read, with their kinds, in dependency order."""
    if not path.exists():
        raise NotFoundError(f"{path}: no such file or folder")
    if path.is_file():
        found = kind or kind_from_name(path)
        if found is None:
            raise UserError(
                f"{path}: cannot tell the kind from the file name; name it after one of "
                f"{', '.join(KINDS)} or pass --kind"
            )
        kind_spec(found)
        return [(path, found)]
    if kind is not None:
        raise UserError("--kind applies to a single file; a folder's files are named after their kinds")
    plan: list[tuple[Path, str]] = []
    unknown: list[str] = []
    for p in sorted(path.iterdir()):
        if (
            not p.is_file()
            or p.name.startswith(".")
            or p.suffix.lower() not in SUPPORTED_SUFFIXES
            or p.name.endswith(REJECTS_SUFFIX)
        ):
            continue
        k = kind_from_name(p)
        if k is None:
            unknown.append(p.name)
        else:
            plan.append((p, k))
    if unknown:
        raise UserError(
            f"{path}: cannot tell the kind of {', '.join(unknown)}; name files after {', '.join(KINDS)}"
        )
    if not plan:
        raise UserError(f"{path}: no importable files ({', '.join(SUPPORTED_SUFFIXES)}) in the folder")
    plan.sort(key=lambda pk: (IMPORT_ORDER.index(pk[1]), pk[0].name))
    return plan


#: Events written by one import after which the planner's statistics are refreshed at once.
REFRESH_AFTER_EVENTS = 500_000

#: Events folded into rollups after which they are merged into the store, inside the transaction
#: (the merge overlaps the validation of the next batches, on a thread of its own when events go to a
#: lake; fewer merges would repeat fewer keys).
ROLLUP_FLUSH_EVENTS = 1_000_000

#: Rows up to which a batch's repeated keys are looked for in a Python set rather than by hashes.
SMALL_BATCH_ROWS = 256
#: Batches of a file validated and encoded at once, beside the writes of earlier ones.
PREPARERS = 2

#: Kinds some other kind refers to; only their keys are worth keeping for reference checks.
REFERENCED_KINDS = frozenset(
    {f.ref for spec in KINDS.values() for f in spec.fields if f.ref}
    | {k for spec in KINDS.values() for c in spec.conditional_refs for k in c.kinds.values()}
)


class _KnownKeys:
    """Keys per kind visible to reference checks: the store's, plus those written in this transaction.
    ``scoped``: only the keys a batch names are looked up (a request's few rows, not whole tables);
    without ``conn``, each lookup is a read of its own."""

    def __init__(self, store: Store, conn: Connection | None, scoped: bool = False) -> None:
        self._store = store
        self._conn = conn
        self._scoped = scoped
        self._keys: dict[str, pa.Array] = {}
        self._asked: dict[str, set[str]] = {}
        self._seen: dict[str, list[str]] = {}  # keys found in the store or written here, per kind

    def __call__(self, kind: str, values: pa.Array | None = None) -> pa.Array:
        if not self._scoped:
            if kind not in self._keys:
                self._keys[kind] = self._store.catalogue.keys(kind, self._conn)
            return self._keys[kind]
        asked = self._asked.setdefault(kind, set())
        named = [] if values is None else [v for v in dict.fromkeys(values.to_pylist()) if v is not None]
        wanted = [v for v in named if v not in asked]
        found = self._keys.get(kind, pa.array([], pa.string()))
        if wanted:
            asked.update(wanted)
            among = self._store.catalogue.known_among(kind, wanted, self._conn)
            self._seen.setdefault(kind, []).extend(among)
            found = pa.concat_arrays([found, pa.array(among, pa.string())])
            self._keys[kind] = found
        return found

    def committed(self) -> None:
        """The transaction committed: the keys it found or wrote are remembered by the catalogue, so
        that later batches naming them skip the lookup."""
        for kind, keys in self._seen.items():
            self._store.catalogue.remember(kind, keys)

    def add(self, kind: str, keys: pa.Array) -> None:
        """Make keys of this import visible to later references, written or not (strict mode stops
        writing at the first bad row but keeps validating, and must not report good keys as unknown)."""
        if len(keys) and kind in REFERENCED_KINDS:  # nothing references events: never load their ids
            if self._scoped:
                self._seen.setdefault(kind, []).extend(keys.cast(pa.string()).to_pylist())
            known = self._keys.get(kind, pa.array([], pa.string())) if self._scoped else self(kind)
            self._keys[kind] = pa.concat_arrays([known, keys.cast(pa.string())])


def _key_hashes(spec: KindSpec, records: pa.Table) -> np.ndarray | None:
    """The 64-bit hash of each record's key (``id_hashes``) when the key is one text column, else None."""
    if len(spec.key) != 1 or not pa.types.is_string(records.schema.field(spec.key[0]).type):
        return None
    return id_hashes(records.column(spec.key[0]))


def _dedupe(spec: KindSpec, records: pa.Table, hashes: np.ndarray | None = None) -> pa.Table:
    """One record per key in a batch: the first for events (duplicates), the last for other kinds.
    Keys whose ``hashes`` all differ all differ: then nothing is grouped."""
    if records.num_rows < 2:
        return records
    if hashes is None and records.num_rows <= SMALL_BATCH_ROWS:
        keys = list(zip(*(records.column(k).to_pylist() for k in spec.key), strict=True))
        if len(set(keys)) == len(keys):
            return records
    if hashes is not None:
        ordered = np.sort(hashes)
        if not (ordered[1:] == ordered[:-1]).any():
            return records
    idx = pa.array(np.arange(records.num_rows))
    agg = "min" if spec.append_only else "max"
    keep = (
        records.append_column("__i", idx)
        .group_by(list(spec.key), use_threads=False)
        .aggregate([("__i", agg)])
    )
    if keep.num_rows == records.num_rows:
        return records
    kept = np.sort(keep.column(f"__i_{agg}").to_numpy())
    return records.take(pa.array(kept))


class _Rejects:
    """Reject file for --skip-invalid: one JSON line per invalid row with its errors and raw values."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None

    @property
    def _partial(self) -> Path:
        return self.path.with_name(self.path.name + ".part")

    def write(self, raw: RawBatch, positions: list[int], errors: list[RowError]) -> None:
        if self._fh is None:
            try:
                self._fh = self._partial.open("w", encoding="utf-8")
            except OSError as exc:
                raise OutputPathError(f"--rejects {self.path}: cannot be written ({exc.strerror})") from None
        by_row: dict[int | None, list[RowError]] = {}
        for e in errors:
            by_row.setdefault(e.row, []).append(e)
        unparsed: dict[int | None, list[RowError]] = {}
        for e in raw.parse_errors:
            unparsed.setdefault(e.row, []).append(e)
        for row, errs in unparsed.items():
            entry = {
                "source": errs[0].source,
                "line": errs[0].line,
                "row": row,
                "errors": [e.to_dict() for e in errs],
                "record": None,
            }
            self._fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
        if positions:
            records = raw.table.take(pa.array(positions)).to_pylist()
            for pos, rec in zip(positions, records, strict=True):
                row = raw.rows[pos]
                errs = by_row.get(row, [])
                self._fh.write(
                    json.dumps(
                        {
                            "source": errs[0].source if errs else None,
                            "line": raw.lines[pos] if raw.lines is not None else None,
                            "row": row,
                            "errors": [e.to_dict() for e in errs],
                            "record": rec,
                        },
                        ensure_ascii=False,
                        default=str,
                    )
                    + "\n"
                )

    def close(self, committed: bool) -> None:
        """Publish the reject file when the import committed; otherwise leave nothing behind."""
        if self._fh is None:
            return
        self._fh.close()
        if committed:
            self._partial.replace(self.path)
        else:
            self._partial.unlink(missing_ok=True)


REJECTS_SUFFIX = ".rejects.jsonl"


def default_rejects_path(path: Path) -> Path:
    """Beside the input: ``events.csv`` → ``events.csv.rejects.jsonl`` (folder imports skip such files)."""
    return path.with_name(path.name + REJECTS_SUFFIX)


@contextmanager
def _timed(report: ImportReport) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        report.seconds = time.perf_counter() - start


@dataclass
class _Prepared:
    """One batch after the CPU-bound stages: read, validated, deduplicated and encoded for the store."""

    raw: RawBatch
    checked: Checked
    records: pa.Table
    storage: pa.Table
    encoded: Any
    partial: Partial | None  # this batch's contribution to the event rollups, all rows counted
    flagged: list[tuple[Decision, dict[str, Any]]] = field(default_factory=list)  # screened, not approved
    repeats: int = 0  # rows of a non-event kind whose key came again later in the batch (the last wins)
    hashes: np.ndarray | None = None  # of the event ids of ``records``, for the event lake


_DONE = object()


def _prepare(
    store: Store,
    spec: KindSpec,
    raw: RawBatch,
    source: str,
    known: _KnownKeys,
    rollups: RollupBuilder | None,
    screening: ScreeningContext | None,
    window: TimeWindow | None,
) -> _Prepared:
    """One raw batch validated, deduplicated, screened (products, when asked) and encoded for the store,
    with its contribution to the event rollups."""
    try:
        checked = validate_batch(spec, raw.table, source, raw.rows, raw.lines, known, window)
    except pa.ArrowException as exc:  # a column Arrow cannot compute on (odd Parquet types)
        where = f"rows {raw.rows[0]}–{raw.rows[-1]}" if raw.rows else "a batch"
        raise FileError(f"{source}, {where}: cannot read the values ({exc})") from None
    # events bound for a lake are written as canonical Parquet, never encoded for the database
    to_lake = spec.name == "events" and store.lake is not None
    small = checked.records.num_rows <= SMALL_BATCH_ROWS  # repeats found by a set, without hashes
    hashes = None if small and not to_lake else _key_hashes(spec, checked.records)
    records = _dedupe(spec, checked.records, hashes)
    repeats = 0 if spec.append_only else checked.records.num_rows - records.num_rows
    flagged: list[tuple[Decision, dict[str, Any]]] = []
    if screening is not None:
        records, flagged = screen_products(screening, records)
    storage = to_storage(spec.name, records)
    encoded = None if to_lake else store.prepare_storage(spec.name, storage)
    partial = rollups.partial(storage) if rollups is not None else None
    if to_lake and records.num_rows != checked.records.num_rows:
        hashes = _key_hashes(spec, records)
    return _Prepared(
        raw, checked, records, storage, encoded, partial, flagged, repeats, hashes if to_lake else None
    )


def _pipeline(
    store: Store,
    file: Path,
    spec: KindSpec,
    known: _KnownKeys,
    batch_rows: int,
    rollups: RollupBuilder | None,
    screening: ScreeningContext | None = None,
    window: TimeWindow | None = None,
) -> Iterator[_Prepared]:
    """Read, validate and encode a file's batches on a worker thread, one or two batches ahead.

    The caller writes each batch while the next is being prepared, so parsing and validation overlap
    the database's own work. Reference keys are loaded beforehand: no kind references itself, so they
    cannot change while one file is read. Close the generator when stopping early (``closing``).
    """
    for ref in spec_refs(spec):
        known(ref)  # the whole kind, loaded before the worker starts
    out: queue.Queue[object] = queue.Queue(maxsize=2)
    stop = threading.Event()
    own: set[int] = set()  # the threads of this pipeline: its producer and the preparers it used

    def hand_over(item: object) -> bool:
        """Queue ``item`` unless the consumer has stopped; never blocks past a stop."""
        while not stop.is_set():
            try:
                out.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def prepare(raw: RawBatch) -> _Prepared:
        own.add(threading.get_ident())
        return _prepare(store, spec, raw, str(file), known, rollups, screening, window)

    def produce() -> None:
        try:
            if screening is not None:  # screening counts its decisions: one batch at a time
                for raw in read_batches(file, spec, batch_rows):
                    if not hand_over(prepare(raw)):
                        return
            else:  # batches prepared side by side (Arrow releases the interpreter), handed over in order
                with ThreadPoolExecutor(PREPARERS, thread_name_prefix="xingqu-prepare") as pool:
                    ahead: deque[Future[_Prepared]] = deque()
                    for raw in read_batches(file, spec, batch_rows):
                        ahead.append(pool.submit(prepare, raw))
                        if len(ahead) >= PREPARERS and not hand_over(ahead.popleft().result()):
                            return
                    while ahead:
                        if not hand_over(ahead.popleft().result()):
                            return
            hand_over(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            hand_over(exc)

    worker = threading.Thread(target=produce, name=f"xingqu-import-{file.name}", daemon=True)
    worker.start()
    own.add(worker.ident or 0)
    try:
        while True:
            item = out.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, _Prepared)
            yield item
    finally:
        stop.set()
        # An abandoned generator is finalised by whichever thread collects it, which may be one of
        # this pipeline's own: joining the producer from there would wait on itself.
        if threading.get_ident() not in own:
            worker.join()


def _only(storage: pa.Table, keys: list[str]) -> pa.Table:
    """The rows of a batch of events whose id is among ``keys``."""
    return storage.filter(pc.is_in(storage.column("event_id"), value_set=pa.array(keys, pa.string())))


def spec_refs(spec: KindSpec) -> set[str]:
    """Every kind that records of ``spec`` may reference."""
    refs = {f.ref for f in spec.fields if f.ref is not None}
    for cref in spec.conditional_refs:
        refs.update(cref.kinds.values())
    return refs


def estimated_rows(path: Path, progress_units: int) -> int:
    """Rows a file will yield: exact for Parquet, from its size for text (about 100 bytes a row)."""
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return progress_units
    return progress_units // 100


@dataclass
class _Run:
    """State of one import: the report, the errors shown so far, the reject file."""

    store: Store
    settings: Settings
    progress: Progress | None
    rejects: _Rejects | None
    report: ImportReport = field(default_factory=ImportReport)
    shown: list[RowError] = field(default_factory=list)
    total_errors: int = 0
    lookups: Lookups | None = None
    screener: Screener | None = None
    window: TimeWindow | None = None  # plausible record times, fixed for the whole import
    lake: LakeAppender | None = None  # where events go when they are kept in an event lake
    #: Rollup merges running beside an import into a lake, which leaves the connection to them: the
    #: import waits for them before it uses the connection itself (``idle``)
    merges: WriteBehind | None = None

    @property
    def failed(self) -> bool:
        """Strict mode has seen an invalid row: validate on, write nothing more."""
        return self.total_errors > 0 and self.rejects is None

    def idle(self) -> None:
        """Wait for the rollup merges running beside the import (raising the first one's error)."""
        if self.merges is not None:
            self.merges.wait()

    def import_file(self, conn: Connection, known: _KnownKeys, file: Path, spec: KindSpec) -> None:
        self.idle()
        total = progress_total(file)
        rollups, screening = self._helpers(conn, spec)
        batches = _pipeline(
            self.store,
            file,
            spec,
            known,
            self.settings.ingest_batch_rows,
            rollups,
            screening,
            self.window,
        )

        def progress(done: int) -> None:
            if self.progress is not None:
                self.progress(file, done, total)

        fr = FileReport(str(file), spec.name, screened=screening.counts if screening else None)
        with closing(batches):  # the reader stops here, on this thread, when writing fails
            self.write_batches(conn, known, fr, spec, batches, rollups, progress)
        progress(total)

    def _helpers(
        self, conn: Connection, spec: KindSpec
    ) -> tuple[RollupBuilder | None, ScreeningContext | None]:
        """The rollup builder of an events file and the screening context of a products file (when
        screening)."""
        rollups = None
        if spec.name == "events":  # the catalogue cannot change while events are read: load it once
            self.lookups = self.lookups or Lookups.load(conn)
            rollups = RollupBuilder(self.lookups)
        else:
            self.lookups = None
        return rollups, self.screening(conn, spec)

    def screening(self, conn: Connection, spec: KindSpec) -> ScreeningContext | None:
        """The screening context of products when screening, else None."""
        if spec.name == "products" and self.screener is not None:
            return ScreeningContext.from_conn(self.store, conn, self.screener)
        return None

    def write_batches(
        self,
        conn: Connection,
        known: _KnownKeys,
        fr: FileReport,
        spec: KindSpec,
        batches: Iterable[_Prepared],
        rollups: RollupBuilder | None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        """Account for and write prepared batches of one source inside ``conn``'s transaction."""
        self.report.files.append(fr)
        folded = 0  # events folded into ``rollups`` since they were last merged
        for item in batches:
            self._account(fr, item)
            if progress is not None:
                progress(item.raw.progress)
            if len(spec.key) == 1:  # valid keys count as known even when nothing will be written
                known.add(spec.name, item.records.column(spec.key[0]).combine_chunks())
            if self.failed:
                continue  # keep validating to report every error; write nothing more
            if not spec.append_only:
                fr.duplicates += item.repeats
                fr.written += self.store.write_prepared(conn, spec.name, item.encoded)
                if item.flagged:
                    record_screening(self.store, conn, item.flagged)
                continue
            if self.lake is not None:
                fresh = self.lake.append(item.records, item.hashes)
                written = fresh.num_rows
                new_keys = None if written == item.records.num_rows else fresh.column("event_id").to_pylist()
            else:
                written, new_keys = self.store.append_prepared(
                    conn, spec.name, item.encoded, item.storage.num_rows
                )
            fr.written += written
            fr.duplicates += item.checked.records.num_rows - written
            if rollups is not None and item.partial is not None:
                rollups.add(
                    item.partial if new_keys is None else rollups.partial(_only(item.storage, new_keys))
                )
                folded += written
                if folded >= ROLLUP_FLUSH_EVENTS:  # merged while the next batches are being validated
                    self._merge(conn, rollups)
                    folded = 0
        if rollups is not None and not self.failed:
            self._merge(conn, rollups)

    def _merge(self, conn: Connection, rollups: RollupBuilder) -> None:
        """Merge what ``rollups`` folded into the store: on the merge thread when there is one."""
        if self.merges is None:
            self.store.flush_rollups(conn, rollups)
        else:
            self.merges.submit(functools.partial(self.store.flush_rollups, conn, rollups.taken()))

    def _account(self, fr: FileReport, item: _Prepared) -> None:
        raw, checked = item.raw, item.checked
        batch_errors = raw.parse_errors + checked.errors
        unparsed = len({e.row for e in raw.parse_errors})
        bad_rows = unparsed + checked.invalid_rows
        fr.rows += len(raw.rows) + unparsed
        fr.rejected += bad_rows
        self.total_errors += len(batch_errors)
        room = self.settings.max_reported_errors - len(self.shown)
        if room > 0:
            self.shown.extend(batch_errors[:room])
        if self.rejects is not None and bad_rows:
            self.rejects.write(raw, checked.rejected, checked.errors)


def import_path(
    store: Store,
    path: Path | str,
    *,
    kind: str | None = None,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
    progress: Progress | None = None,
    settings: Settings | None = None,
    screener: Screener | None = None,
) -> ImportReport:
    """Import a file, or a folder of files named after their kinds, in one transaction.

    Strict by default: any invalid row means nothing is written and ``ValidationFailed`` lists the
    errors (up to ``max_reported_errors``). With ``skip_invalid`` valid rows are written and invalid
    ones go to a reject file. Events already stored (same ``event_id``) are skipped, so re-importing
    is a no-op. With ``screener``, products are screened before they are written: rejected ones are
    stored as ``rejected``, those needing review as ``pending`` and queued for review (audited).
    """
    path = Path(path)
    plan = plan_import(path, kind)
    if skip_invalid:
        check_output_file(rejects_path or default_rejects_path(path), "--rejects")
    store.init()
    rejects = _Rejects(rejects_path or default_rejects_path(path)) if skip_invalid else None
    settings = settings or Settings.declared()
    run = _Run(store, settings, progress, rejects, screener=screener, window=settings.time_window())
    run.lake = store.lake.appender() if store.lake is not None else None
    if run.lake is not None and store.threads_share_connections:
        run.merges = WriteBehind("xingqu-rollups")
    committed = False
    with _timed(run.report):
        try:
            with store.writing() as conn:
                try:
                    known = _KnownKeys(store, conn)
                    for fkind, group in itertools.groupby(plan, key=lambda pk: pk[1]):
                        files = [file for file, _ in group]
                        # one index rebuild for all of a kind's files (a month of daily event files)
                        incoming = sum(estimated_rows(f, progress_total(f)) for f in files)
                        if fkind == "events" and run.lake is not None:
                            incoming = 0  # the events table is not written
                        with store.bulk_load(conn, fkind, incoming):
                            for file in files:
                                run.import_file(conn, known, file, kind_spec(fkind))
                    if run.failed:
                        raise ValidationFailed(str(path), run.shown, run.total_errors)
                    _publish(run)
                finally:
                    if run.merges is not None:  # the transaction ends with no merge running on it
                        run.merges.stop()
            committed = True
        finally:
            if run.lake is not None and not committed:
                run.lake.abort()
            if rejects is not None:
                rejects.close(committed)
        written = sum(f.written for f in run.report.files if f.kind == "events")
        if run.lake is None and written >= REFRESH_AFTER_EVENTS:
            store.refresh_statistics()
    if rejects is not None and run.report.rejected:
        run.report.rejects_path = str(rejects.path)
    return run.report


def import_items(
    store: Store,
    batches: dict[str, list[Any]],
    *,
    settings: Settings | None = None,
    screener: Screener | None = None,
    source: str = "request",
) -> ImportReport:
    """Import records already parsed from JSON (an HTTP request's body), kinds in dependency order, in
    one transaction, by the rules of ``import_path``: every item valid or nothing written
    (``ValidationFailed`` names each bad item by its kind and 0-based position, and the field), events
    deduplicated by ``event_id``, products screened when ``screener`` is given. Only the keys the items
    name are looked up, so a small batch costs a few indexed reads, not a scan of the catalogue."""
    unknown = [k for k in batches if k not in KINDS]
    if unknown:
        raise UserError(f"unknown kind(s) {', '.join(map(repr, unknown))}; known kinds: {', '.join(KINDS)}")
    if not store.seen_ready:  # then checked again inside the import's transaction
        store.require_ready()
    settings = settings or Settings.declared()
    window = settings.time_window()
    # a request names every bad item, not the first few
    settings = settings.model_copy(update={"max_reported_errors": max(settings.max_reported_errors, 10_000)})
    run = _Run(store, settings, None, None, screener=screener, window=window)
    run.lake = store.lake.appender() if store.lake is not None and batches.get("events") else None
    try:
        _import_items(store, batches, run, source)
    except BaseException:
        if run.lake is not None:
            run.lake.abort()
        raise
    return run.report


def _publish(run: _Run) -> None:
    """Publish the event lake files of an import, last, inside the database transaction, once every
    rollup merge has succeeded: when it fails the transaction rolls back (and the files are removed).
    Only the database failing to commit in the moment after it would leave published events whose
    rollups were not written."""
    if run.lake is not None:
        run.lake.write_held()  # the last rows are written while the last rollups merge
        run.idle()
        run.lake.publish()


def _import_items(store: Store, batches: dict[str, list[Any]], run: _Run, source: str) -> None:
    """The transaction of ``import_items``; events posted alone are validated before it."""
    with _timed(run.report):
        ready: dict[str, _Prepared] = {}
        if [k for k, v in batches.items() if v] == ["events"]:
            # events alone are validated before the write lock, so that other writers go on meanwhile:
            # the catalogue keys they name, once committed, stay (catalogue rows are never deleted), so
            # each is asked in a read of its own, and keys remembered as committed not at all
            known = _KnownKeys(store, None, scoped=True)
            spec = kind_spec("events")
            where = f"{source}.events"
            raw = records_batch(spec, batches["events"], where)
            ready["events"] = _prepare(store, spec, raw, where, known, None, None, run.window)
            known.committed()  # what the read found was committed by others before
        with store.writing() as conn:
            store.require_ready(conn)  # current when the import began; still so, in this transaction
            known = _KnownKeys(store, conn, scoped=True)
            for kind in IMPORT_ORDER:
                items = batches.get(kind)
                if not items:
                    continue
                spec = kind_spec(kind)
                where = f"{source}.{kind}"
                screening = run.screening(conn, spec)
                fr = FileReport(where, kind, screened=screening.counts if screening else None)
                item = ready.get(kind) or _prepare(
                    store, spec, records_batch(spec, items, where), where, known, None, screening, run.window
                )
                rollups = None
                if kind == "events":  # the catalogue rows these events name, not the whole catalogue
                    rollups = RollupBuilder(Lookups.load(conn, item.storage, store.dialect))
                    item.partial = rollups.partial(item.storage)
                run.write_batches(conn, known, fr, spec, [item], rollups)
                run.report.accepted[kind] = item.records
            if run.failed:
                raise ValidationFailed(source, run.shown, run.total_errors)
            _publish(run)
    known.committed()


__all__ = [
    "FileError",
    "FileReport",
    "ImportReport",
    "import_items",
    "import_path",
    "kind_from_name",
    "plan_import",
]
