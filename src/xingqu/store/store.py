"""The store: one SQLAlchemy URL selects SQLite (default, embedded) or PostgreSQL (production)."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DataError, NoSuchModuleError, OperationalError

from xingqu.config import Settings
from xingqu.domain.records import KINDS, kind_spec
from xingqu.domain.vocab import EventType
from xingqu.errors import (
    ConfigError,
    MissingDependencyError,
    StoreError,
    UnavailableError,
    UserError,
    XingquError,
)
from xingqu.store import ledger
from xingqu.store.catalogue import Catalogue
from xingqu.store.convert import from_storage_rows, to_storage
from xingqu.store.dialects import WRITE_OPTION, Dialect, dialect_for
from xingqu.store.events import EventLog, SqlEventLog
from xingqu.store.experiments import Experiments
from xingqu.store.governance import Governance
from xingqu.store.lake import LakeEventLog
from xingqu.store.migrations import APPEND_ONLY_TABLES, LATEST_VERSION, MIGRATIONS
from xingqu.store.rollup_reads import Rollups
from xingqu.store.rollups import RollupBuilder
from xingqu.store.schema import TABLES, audit_table, daily_totals_table, meta_table, metadata

_VERSION_KEY = "schema_version"
_VERSION_SQL = f"SELECT value FROM {meta_table.name} WHERE key = '{_VERSION_KEY}'"
#: The first bytes of every SQLite database file.
_SQLITE_HEADER = b"SQLite format 3\x00"
#: Backends xingqu runs on, by SQLAlchemy backend name.
_BACKENDS = ("sqlite", "postgresql")
#: Below this many incoming rows a write never rebuilds indexes (see ``Store.bulk_load``).
BULK_LOAD_MIN_ROWS = 200_000
#: How long a SQLite writer waits for another's write, when not told (``Settings.sqlite_busy_timeout_s``).
DEFAULT_BUSY_TIMEOUT_S: float = Settings.model_fields["sqlite_busy_timeout_s"].default


def normalise_url(url: str) -> str:
    """Give a bare ``postgresql://`` URL the psycopg 3 driver; leave other URLs as they are."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _psycopg_importable() -> bool:
    """Whether the PostgreSQL driver imports (SQLAlchemy may report its absence as an unknown dialect)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return False
    return True


def _check_sqlite_file(path: Path) -> None:
    """Refuse a path that exists but is not a SQLite database (a folder, a CSV file…)."""
    if not path.exists():
        return
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a SQLite database file")
    try:
        with path.open("rb") as fh:
            head = fh.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(f"cannot read the store {path}: {exc.strerror}") from None
    if head and head != _SQLITE_HEADER:
        raise StoreError(f"{path} is not a SQLite database (was another file given as --db?)")


def _is_overflow(exc: Exception) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "integer overflow" in text or "out of range" in text


def _raw_db_errors() -> tuple[type[Exception], ...]:
    """The drivers' own error classes: bulk writes go through raw cursors, past SQLAlchemy's wrapping."""
    errors: list[type[Exception]] = [sqlite3.Error]
    try:
        import psycopg

        errors.append(psycopg.Error)
    except ImportError:
        pass
    return tuple(errors)


_RAW_DB_ERRORS = _raw_db_errors()


def connection_errors() -> tuple[type[BaseException], ...]:
    """Errors of a database server that does not answer, as they may surface past the store's own
    mapping (a connection dropped mid-query, a pool that timed out): the edges answer them "retry later"."""
    return (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


_UNREACHABLE = (
    "connection refused",
    "could not connect",
    "connection failed",
    "timeout expired",
    "could not translate host",
    "name or service not known",
    "server closed the connection",
    "connection timed out",
    "no route to host",
    "connection is bad",
)


class Store:
    """Catalog, relations and the event log behind one connection URL."""

    def __init__(self, url: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> None:
        self.url = normalise_url(url)
        try:
            parsed = make_url(self.url)
        except ArgumentError as exc:
            raise StoreError(f"XINGQU_DB is not a database URL: {url!r} ({exc})") from None
        backend = parsed.get_backend_name()
        if backend not in _BACKENDS:
            raise StoreError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://…")
        if backend == "postgresql" and not _psycopg_importable():
            raise MissingDependencyError("psycopg", "postgres", "A PostgreSQL store")
        #: The database file of a SQLite store (None for PostgreSQL and in-memory SQLite).
        self.sqlite_path: Path | None = None
        if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
            self.sqlite_path = Path(parsed.database).expanduser()
            _check_sqlite_file(self.sqlite_path)
        self._creating = False
        #: The schema's metadata table was found: it is never dropped, so it need not be looked for again
        self._has_meta = False
        #: The schema was found current: later checks may run inside the caller's own transaction
        self.seen_ready = False
        self._small: Any = None  # the DBAPI connection of ``read_small``
        self._small_lock = threading.Lock()
        #: SQLite has one writer at a time: this process's writers wait for each other here
        self._writers: AbstractContextManager[object] = (
            threading.RLock() if backend == "sqlite" else nullcontext()
        )
        try:
            # a PostgreSQL connection is checked before use, so that after the server went away and came
            # back the first request does not get a dead connection from the pool
            ping = {"pool_pre_ping": True} if backend == "postgresql" else {}
            self.engine: Engine = sa.create_engine(self.url, future=True, **ping)
        except NoSuchModuleError:
            if parsed.get_backend_name() == "postgresql" and not _psycopg_importable():
                raise MissingDependencyError("psycopg", "postgres", "A PostgreSQL store") from None
            raise StoreError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://") from None
        except ModuleNotFoundError as exc:
            if "psycopg" in str(exc):
                raise MissingDependencyError("psycopg", "postgres", "A PostgreSQL store") from None
            raise
        try:
            self.dialect: Dialect = dialect_for(self.engine)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        self.dialect.configure(self.engine, busy_timeout_s)
        if self.sqlite_path is not None:
            self._open_existing_only(self.sqlite_path)

    def _open_existing_only(self, path: Path) -> None:
        """Connections open the SQLite file read-write without creating it; only ``init`` creates the
        file (and its folder), so a mistyped path on a read command leaves nothing behind."""

        @sa.event.listens_for(self.engine, "do_connect")
        def _no_create(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
            if self._creating:
                return
            if not path.exists():
                raise StoreError(f"no xingqu store at {path}: run 'xingqu init' (or check --db)")
            cargs[0] = f"file:{quote(str(path.resolve()))}?mode=rw"
            cparams["uri"] = True

    def _failure(self, verb: str, exc: Exception) -> XingquError:
        """The named error for a database error on opening, reading or writing (a SQLAlchemy error, or the
        driver's own from a bulk write through the raw connection)."""
        text = str(getattr(exc, "orig", exc))
        low = text.lower()
        if "file is not a database" in low or "file is encrypted" in low:
            return StoreError(f"{self.sqlite_path or self!r} is not a SQLite database")
        if self.dialect.name == "postgresql" and any(s in low for s in _UNREACHABLE):
            first = text.strip().splitlines()[0] if text.strip() else type(exc.orig).__name__
            return UnavailableError(f"the PostgreSQL store {self!r} does not answer: {first}")
        return StoreError(f"cannot {verb} the store {self!r}: {text.strip()}")

    @classmethod
    def open(cls, settings: Settings) -> Store:
        """Open the store the settings name (``XINGQU_DB``, else the default SQLite file)."""
        store = cls(settings.db, busy_timeout_s=settings.sqlite_busy_timeout_s)
        if settings.events:
            store.use_lake(LakeEventLog(settings.events))
        return store

    def use_lake(self, lake: LakeEventLog) -> None:
        """Keep events in ``lake`` instead of the ``events`` table: every reader of ``events`` and
        every import of events go there; catalogue, governance and rollups stay in the database."""
        self.__dict__["events"] = lake

    @property
    def threads_share_connections(self) -> bool:
        """Whether a connection opened by one thread may be used by another (in turn, never at once):
        not an in-memory SQLite database's."""
        return self.dialect.name != "sqlite" or self.sqlite_path is not None

    @property
    def lake(self) -> LakeEventLog | None:
        """The event lake events are kept in, or None when they are kept in the database."""
        log = self.events
        return log if isinstance(log, LakeEventLog) else None

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        with self._small_lock:
            self._drop_small()
        self.engine.dispose()

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One write transaction: committed if the block succeeds, rolled back entirely if not.

        On SQLite the write lock is taken at the start, so concurrent writers queue instead of failing;
        the threads of one process queue on a lock of their own first (woken the moment the writer
        before them commits, where SQLite's busy handler would sleep and poll).
        """
        try:
            with (
                self._writers,
                self.engine.connect().execution_options(**{WRITE_OPTION: True}) as conn,
                conn.begin(),
            ):
                yield conn
        except (OperationalError, DataError, DatabaseError, *_RAW_DB_ERRORS) as exc:
            if _is_overflow(exc):
                reason = getattr(exc, "orig", exc)
                raise StoreError(
                    f"nothing was written: a total would exceed the exact 64-bit integer range ({reason})"
                ) from None
            raise self._failure("write to", exc) from None

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only connection with one consistent snapshot."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except (OperationalError, DatabaseError, *_RAW_DB_ERRORS) as exc:
            raise self._failure("read", exc) from None

    def read_small(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Rows of one small, frequent read (``sql`` with ``dialect.placeholder`` markers) on a
        connection kept for such reads, without the pool's checkout and transaction round trip: what a
        serving process asks at every request. One statement is its own consistent snapshot."""
        with self._small_lock:
            try:
                if self._small is None:
                    self._small = self.engine.raw_connection()
                cur = self._small.cursor()
                try:
                    cur.execute(sql, params)
                    return list(cur.fetchall())
                finally:
                    cur.close()
                    self._small.rollback()  # no transaction (nor its locks) stays open between reads
            except (OperationalError, DatabaseError, *_RAW_DB_ERRORS) as exc:
                self._drop_small()
                raise self._failure("read", exc) from None

    def _drop_small(self) -> None:
        small, self._small = self._small, None
        if small is not None:
            with suppress(Exception):
                small.close()

    # -- schema -------------------------------------------------------------------------------

    def schema_version(self, conn: Connection | None = None) -> int | None:
        """The stored schema version, or None for an empty database (or a SQLite file not made yet)."""
        if conn is None:
            if self.sqlite_path is not None and not self.sqlite_path.exists() and not self._creating:
                return None
            with self.reading() as c:
                return self.schema_version(c)
        if not self._has_meta and not sa.inspect(conn).has_table(meta_table.name):
            return None
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:  # through the driver: asked inside every posted batch's transaction
            cursor.execute(_VERSION_SQL)
            row = cursor.fetchone()
        finally:
            cursor.close()
        value = None if row is None else row[0]
        self._has_meta = True
        if value is None:
            return None
        text = str(value).strip()
        if not text.isascii() or not text.isdigit() or len(text) > 6:
            raise StoreError(
                f"the store {self!r} has schema version {text[:20]!r}, not a version number xingqu "
                "writes: the database is damaged or not a xingqu store"
            )
        return int(text)

    def init(self) -> int:
        """Create the schema, or step an older one up to the current version. Safe to repeat."""
        if self.sqlite_path is not None:
            try:
                self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder of {self.sqlite_path}: {exc.strerror}") from None
            self._creating = True
        try:
            return self._init()
        finally:
            self._creating = False

    def _init(self) -> int:
        with self.writing() as conn:
            self.dialect.lock_for_write(conn)
            version = self.schema_version(conn)
            if version is None:
                metadata.create_all(conn)
                self._protect(conn)
                conn.execute(sa.insert(meta_table).values(key=_VERSION_KEY, value=str(LATEST_VERSION)))
                return LATEST_VERSION
            self._check_not_newer(version)
            if version == LATEST_VERSION:
                return version  # nothing to do: no DDL, so a role that may not change the schema can run it
            for migration in MIGRATIONS:
                if migration.version > version:
                    migration.apply(conn)
            self._protect(conn)
            conn.execute(
                sa.update(meta_table)
                .where(meta_table.c.key == _VERSION_KEY)
                .values(value=str(LATEST_VERSION))
            )
            return LATEST_VERSION

    def create_app_role(self, name: str) -> list[str]:
        """Create (or update) the PostgreSQL role the application should connect as: not the owner, not a
        superuser, able to read everything and to write data, only to append to the audit log and the
        penalty ledger (so it can neither change them nor disable their triggers). Returns the grants."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ConfigError(f"role name {name!r}: use lower-case letters, digits and '_' (at most 63)")
        if self.dialect.name != "postgresql":
            raise ConfigError("--create-role applies to a PostgreSQL store; a SQLite file has no roles")
        self.require_ready()
        with self.writing() as conn:
            return self.dialect.create_app_role(conn, name, APPEND_ONLY_TABLES, (meta_table.name,))

    def _protect(self, conn: Connection) -> None:
        for table in APPEND_ONLY_TABLES:
            self.dialect.protect_append_only(conn, table)
        self.dialect.track_servability(conn)

    # -- audit ----------------------------------------------------------------------------------

    def append_audit(
        self,
        conn: Connection,
        *,
        actor: str,
        action: str,
        subject_kind: str,
        subject_id: str,
        reason: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        at_ms: int,
    ) -> None:
        """Record one governance change inside ``conn``'s transaction (committed with the change)."""
        ledger.append(
            conn,
            self.dialect,
            audit_table,
            {
                "at": at_ms,
                "actor": actor,
                "action": action,
                "subject_kind": subject_kind,
                "subject_id": subject_id,
                "reason": reason,
                "before": None if before is None else json.dumps(before, ensure_ascii=False),
                "after": None if after is None else json.dumps(after, ensure_ascii=False),
            },
        )

    def verify_chains(self) -> list[ledger.ChainReport]:
        """Check the hash chains of the audit log and the penalty ledger (``xingqu audit verify``)."""
        with self.reading() as conn:
            return [ledger.verify(conn, table) for table in ledger.CHAINED.values()]

    def audit_entries(self, subject_id: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest audit entries first (optionally for one subject)."""
        q = sa.select(audit_table).order_by(audit_table.c.seq.desc()).limit(limit)
        if subject_id is not None:
            q = q.where(audit_table.c.subject_id == subject_id)
        with self.reading() as conn:
            rows = [
                {k: v for k, v in r._mapping.items() if k not in ("prev_hash", "hash")}
                for r in conn.execute(q)
            ]
        for r in rows:
            r["before"] = json.loads(r["before"]) if r["before"] else None
            r["after"] = json.loads(r["after"]) if r["after"] else None
        return rows

    def meta(self, key: str) -> str | None:
        """A value of the store's own metadata (None when unset, or when the store has no schema)."""
        if self.schema_version() is None:
            return None
        with self.reading() as conn:
            return conn.execute(  # type: ignore[no-any-return]
                sa.select(meta_table.c.value).where(meta_table.c.key == key)
            ).scalar_one_or_none()

    def set_meta(self, key: str, value: str) -> None:
        """Set a value of the store's own metadata (not the schema version: ``init`` keeps that)."""
        if key == _VERSION_KEY:
            raise StoreError("the schema version is set by 'xingqu init' only")
        with self.writing() as conn:
            conn.execute(sa.delete(meta_table).where(meta_table.c.key == key))
            conn.execute(sa.insert(meta_table).values(key=key, value=value))

    def require_ready(self, conn: Connection | None = None) -> None:
        """Raise a StoreError that says what to do when the schema is missing or not current (checked
        inside ``conn``'s transaction when given: one indexed read once the schema has been seen)."""
        version = self.schema_version(conn)
        if version is None:
            raise StoreError(f"the store {self!r} has no xingqu schema yet: run 'xingqu init'")
        self._check_not_newer(version)
        if version < LATEST_VERSION:
            raise StoreError(
                f"the store {self!r} has schema version {version}; run 'xingqu init' to migrate "
                f"it to {LATEST_VERSION}"
            )
        self.seen_ready = True

    def _check_not_newer(self, version: int) -> None:
        if version > LATEST_VERSION:
            raise StoreError(
                f"the store {self!r} has schema version {version}, newer than this xingqu "
                f"understands ({LATEST_VERSION}); upgrade xingqu"
            )

    # -- writes -------------------------------------------------------------------------------

    def write_records(self, conn: Connection, kind: str, records: pa.Table) -> int:
        """Write canonical records of one kind inside ``conn``'s transaction.

        Events are appended and a repeated ``event_id`` is skipped; other kinds are upserted by key.
        Returns the rows inserted (events) or inserted-or-updated (other kinds).
        """
        return self.write_prepared(conn, kind, self.prepare_records(kind, records))

    @contextmanager
    def bulk_load(self, conn: Connection, kind: str, incoming_rows: int) -> Iterator[None]:
        """Around a large write: when it at least doubles the table, build secondary indexes once at
        the end instead of row by row (SQLite). Inside the caller's transaction, so a failure rolls
        the dropped indexes back too."""
        spec = kind_spec(kind)
        rebuild: list[str] = []
        if (
            self.dialect.defers_indexes
            and incoming_rows >= BULK_LOAD_MIN_ROWS
            and incoming_rows >= self.dialect.approx_rows(conn, spec)
        ):
            rebuild = self.dialect.drop_secondary_indexes(conn, spec)
        yield
        for statement in rebuild:
            conn.exec_driver_sql(statement)

    def prepare_records(self, kind: str, records: pa.Table) -> Any:
        """The CPU-bound half of a write (encoding for the backend); safe to run on another thread."""
        return self.prepare_storage(kind, to_storage(kind, records))

    def prepare_storage(self, kind: str, storage: pa.Table) -> Any:
        """``prepare_records`` for records already in storage form (see ``convert.to_storage``)."""
        return self.dialect.prepare(kind_spec(kind), storage)

    def write_prepared(self, conn: Connection, kind: str, prepared: Any) -> int:
        """The database half of a write, inside ``conn``'s transaction."""
        return self.dialect.write(conn, kind_spec(kind), prepared)

    def append_prepared(
        self, conn: Connection, kind: str, prepared: Any, rows: int
    ) -> tuple[int, list[str] | None]:
        """Append a prepared batch of an append-only kind: the rows inserted and, when some were
        already stored, the keys of those inserted."""
        return self.dialect.append(conn, kind_spec(kind), prepared, rows)

    def refresh_statistics(self) -> None:
        """After a large import: vacuum and analyze the rollups, analyze the event log (PostgreSQL)."""
        rollups = ["order_facts", "order_days", "buyer_days", "daily_counts", "daily_totals", "live_viewers"]
        # only an optimisation: where it is refused (a role that may not vacuum) the background catches up
        with suppress(sa.exc.DBAPIError):
            self.dialect.refresh_statistics(self.engine, rollups, ["events", "relations", "products"])

    def flush_rollups(self, conn: Connection, builder: RollupBuilder) -> None:
        """Merge what ``builder`` has folded into the rollup tables, inside ``conn``'s transaction."""
        builder.flush(conn, self.dialect)

    # -- repositories -------------------------------------------------------------------------

    @cached_property
    def events(self) -> EventLog:
        """The event log (``xingqu.store.events.EventLog``): scans by columns and time range."""
        return SqlEventLog(self)

    @cached_property
    def catalogue(self) -> Catalogue:
        """Catalogue reads and governance's catalogue writes (``xingqu.store.catalogue``)."""
        return Catalogue(self)

    @cached_property
    def governance(self) -> Governance:
        """The review queue and the penalty ledger (``xingqu.store.governance``)."""
        return Governance(self)

    @cached_property
    def experiments(self) -> Experiments:
        """Online experiments and their exposure log (``xingqu.store.experiments``)."""
        return Experiments(self)

    @cached_property
    def rollups(self) -> Rollups:
        """Reads of the rollups that reports and monitoring make (``xingqu.store.rollup_reads``)."""
        return Rollups(self)

    # -- reads --------------------------------------------------------------------------------

    def iter_records(
        self, kind: str, batch_rows: int = 100_000, columns: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Stream every record of a kind in key order, as canonical Arrow batches (of ``columns`` only,
        when given: what a reader of the whole event log needs, read and held at a fraction of the cost)."""
        if kind == "events":
            yield from self.events.scan(columns, ordered=True, batch_rows=batch_rows)
            return
        table = TABLES[kind]
        spec = kind_spec(kind)
        names = list(spec.columns if columns is None else columns)
        unknown = [c for c in names if c not in spec.columns]
        if unknown:
            raise UserError(f"{kind} have no column(s) {', '.join(unknown)}")
        query = sa.select(*(table.c[c] for c in names)).order_by(*(table.c[k] for k in spec.key))
        with self.reading() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(query)
            for part in result.partitions(batch_rows):
                yield from_storage_rows(kind, part, None if columns is None else names)

    def events_since(self, ts_ms: int, user_ids: list[str] | None = None) -> pa.Table:
        """Shorthand for ``events.since``: the events after ``ts_ms`` (of ``user_ids`` only)."""
        return self.events.since(ts_ms, user_ids)

    def event_time_range(self) -> tuple[int, int] | None:
        """Shorthand for ``events.time_range``: earliest and latest event time (UTC ms), or None."""
        return self.events.time_range()

    def servable_products(self, product_ids: list[str]) -> set[str]:
        """Shorthand for ``catalogue.servable_products``: which of ``product_ids`` may be shown now."""
        return self.catalogue.servable_products(product_ids)

    def product_titles(self, product_ids: list[str]) -> dict[str, tuple[str, int]]:
        """Shorthand for ``catalogue.product_titles``: title and price (fen) of known products."""
        return self.catalogue.product_titles(product_ids)

    def count(self, kind: str, conn: Connection | None = None) -> int:
        if conn is None:
            with self.reading() as c:
                return self.count(kind, c)
        return int(conn.execute(sa.select(sa.func.count()).select_from(TABLES[kind])).scalar_one())

    def counts(self) -> dict[str, int]:
        """Rows per kind."""
        with self.reading() as conn:
            counts = {kind: self.count(kind, conn) for kind in KINDS if kind != "events" or self.lake is None}
        if self.lake is not None:
            counts["events"] = self.lake.count()
        return {kind: counts[kind] for kind in KINDS}

    def event_type_counts(self) -> dict[str, int]:
        """Events per event type, every known type listed (zero when absent), from the daily rollup."""
        totals = daily_totals_table
        with self.reading() as conn:
            rows = conn.execute(
                sa.select(totals.c.event_type, sa.func.sum(totals.c.n)).group_by(totals.c.event_type)
            ).all()
        found = {str(t): int(n) for t, n in rows}
        return {t.value: found.get(t.value, 0) for t in EventType}
