"""The event log: one small interface (``EventLog``) every reader of events goes through, and its SQL
implementation over the store's ``events`` table.

Readers ask for columns and a time range (and, optionally, event types) and get canonical Arrow record
batches, so that another implementation (a partitioned Parquet lake) can stand in without touching them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pyarrow as pa
import sqlalchemy as sa

from xingqu.domain.arrow import arrow_schema
from xingqu.domain.records import kind_spec
from xingqu.errors import UserError
from xingqu.store.convert import from_storage_rows
from xingqu.store.schema import TABLES

if TYPE_CHECKING:
    from xingqu.store.store import Store

#: Rows per batch a scan yields unless told otherwise.
SCAN_BATCH_ROWS = 100_000

#: What serving follows of each event (``SqlEventLog.tail`` and ``user_tail``), after its row number.
TAIL_COLUMNS = ("ts", "event_id", "user_id", "event_type", "product_id", "order_id", "content_id")
_TAIL = f"SELECT rowid, {', '.join(TAIL_COLUMNS)} FROM events"
_TAIL_SQL = f"{_TAIL} WHERE rowid > ? ORDER BY rowid LIMIT ?"
_USER_TAIL_SQL = f"{_TAIL} WHERE user_id = ? AND ts > ? AND rowid <= ?"
_LAST_ROW_SQL = "SELECT coalesce(max(rowid), 0) FROM events"


@runtime_checkable
class EventLog(Protocol):
    """The append-only log of events, read by columns and time range as Arrow record batches.

    Times are UTC milliseconds; ``start_ms`` is inclusive, ``end_ms`` exclusive. Batches carry the
    canonical Arrow types of ``xingqu.domain.arrow`` (times as UTC timestamps)."""

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
        """Stream the events in the range (of ``event_types`` only, when given) as batches of
        ``columns`` (every column when None); in event-id order when ``ordered`` (a log partitioned by
        day: in event-id order within each day, days in order), else in the order it reads fastest."""
        ...

    def count(self, start_ms: int | None = None, end_ms: int | None = None) -> int:
        """How many events lie in the range."""
        ...

    def time_range(self) -> tuple[int, int] | None:
        """Earliest and latest event time (UTC ms), or None with no events."""
        ...

    def since(self, ts_ms: int, user_ids: list[str] | None = None) -> pa.Table:
        """Every column of the events strictly after ``ts_ms`` (of ``user_ids`` only, when given), in
        time order: what serving folds in on top of a trained model."""
        ...


def checked_columns(columns: Sequence[str] | None) -> list[str]:
    """``columns`` (every event column when None), refusing names the log does not have."""
    spec = kind_spec("events")
    names = list(spec.columns if columns is None else columns)
    unknown = [c for c in names if c not in spec.columns]
    if unknown:
        raise UserError(f"events have no column(s) {', '.join(unknown)}")
    return names


class SqlEventLog:
    """``EventLog`` over the store's ``events`` table (SQLite or PostgreSQL)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._table = TABLES["events"]

    def _where(
        self, start_ms: int | None, end_ms: int | None, event_types: Sequence[str] | None = None
    ) -> list[sa.ColumnElement[bool]]:
        e = self._table
        out: list[sa.ColumnElement[bool]] = []
        if start_ms is not None:
            out.append(e.c.ts >= start_ms)
        if end_ms is not None:
            out.append(e.c.ts < end_ms)
        if event_types is not None:
            out.append(e.c.event_type.in_(list(event_types)))
        return out

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
        names = checked_columns(columns)
        e = self._table
        query = sa.select(*(e.c[c] for c in names)).where(*self._where(start_ms, end_ms, event_types))
        if ordered:
            query = query.order_by(e.c.event_id)
        with self._store.reading() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(query)
            for part in result.partitions(batch_rows):
                yield from_storage_rows("events", part, None if columns is None else names)

    def count(self, start_ms: int | None = None, end_ms: int | None = None) -> int:
        q = sa.select(sa.func.count()).select_from(self._table).where(*self._where(start_ms, end_ms))
        with self._store.reading() as conn:
            return int(conn.execute(q).scalar_one())

    def time_range(self) -> tuple[int, int] | None:
        e = self._table
        with self._store.reading() as conn:
            lo, hi = conn.execute(sa.select(sa.func.min(e.c.ts), sa.func.max(e.c.ts))).one()
        return None if lo is None else (int(lo), int(hi))

    @property
    def appends_in_order(self) -> bool:
        """Whether rows are appended in commit order and never removed (the embedded store), so that a
        serving process may keep what it read and follow the log past it (``tail``)."""
        return self._store.dialect.appends_in_order

    def last_row(self) -> int:
        """The row number of the newest event (0 with none); only where ``appends_in_order``."""
        return int(self._store.read_small(_LAST_ROW_SQL, ())[0][0])

    def tail(self, after: int, limit: int) -> list[tuple[Any, ...]]:
        """Up to ``limit`` events appended after row ``after``, in commit order: row number then
        ``TAIL_COLUMNS`` (one indexed read on a kept connection: asked at every request)."""
        return self._store.read_small(_TAIL_SQL, (after, limit))

    def user_tail(self, user_id: str, since_ms: int, upto: int) -> list[tuple[Any, ...]]:
        """The events of ``user_id`` after ``since_ms`` up to row ``upto``, as ``tail`` gives them."""
        return self._store.read_small(_USER_TAIL_SQL, (user_id, since_ms, upto))

    def since(self, ts_ms: int, user_ids: list[str] | None = None) -> pa.Table:
        table = self._table
        spec = kind_spec("events")
        query = sa.select(*(table.c[c] for c in spec.columns)).where(table.c.ts > ts_ms)
        batches = []
        with self._store.reading() as conn:
            chunks = (
                [None] if user_ids is None else [user_ids[i : i + 500] for i in range(0, len(user_ids), 500)]
            )
            for chunk in chunks:
                q = query if chunk is None else query.where(table.c.user_id.in_(chunk))
                rows = conn.execute(q.order_by(table.c.ts, table.c.event_id)).all()
                if rows:
                    batches.append(from_storage_rows("events", rows))
        if not batches:
            return arrow_schema("events").empty_table()
        return pa.Table.from_batches(batches)
