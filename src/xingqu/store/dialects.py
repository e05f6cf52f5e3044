"""Everything that differs between SQLite and PostgreSQL, in one class per backend."""

from __future__ import annotations

import io
from collections.abc import Hashable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from xingqu.domain.records import KindSpec
from xingqu.store.schema import SERVABILITY_COLUMNS, SERVABILITY_LOG_ROWS

WRITE_OPTION = "xingqu_write"
#: Rows from which a SQLite merge writes in key order.
_SORTED_MERGE_ROWS = 256
#: Keys per ``IN (…)`` list of a raw lookup (below every driver's limit of bound parameters).
IN_CHUNK = 5_000


class Add(str):
    """A merge update that adds the new value to the stored one (``Add("n")``): rendered by each
    dialect so that an integer sum that no longer fits 64 bits fails instead of turning REAL."""

    __slots__ = ()


class Dialect:
    """Backend-specific behaviour: connection set-up, write locking and bulk writes."""

    name = "generic"
    #: The driver's positional parameter marker (``Store.read_small`` takes raw SQL).
    placeholder = "%s"
    #: Whether large loads go faster with secondary indexes rebuilt once at the end.
    defers_indexes = False

    def configure(self, engine: Engine, busy_timeout_s: float) -> None:
        """Install connection hooks (pragmas, transaction start)."""

    def lock_for_write(self, conn: Connection) -> None:
        """Serialise writers that must not interleave (schema changes)."""

    def protect_append_only(self, conn: Connection, table: str) -> None:
        """Make the database itself refuse updates, deletes and replacements of rows on ``table``."""
        raise NotImplementedError

    def create_app_role(
        self, conn: Connection, name: str, append_only: tuple[str, ...], read_only: tuple[str, ...]
    ) -> list[str]:
        """Create a least-privilege application role (PostgreSQL only)."""
        raise NotImplementedError

    def unprotect_append_only(self, conn: Connection, table: str) -> None:
        """Lift ``protect_append_only`` for a migration that must fill new columns (restored after)."""
        raise NotImplementedError

    #: Whether triggers log servability changes (``track_servability``), so that a serving process may
    #: keep the servable set in memory; only where writers are serialised, so the log's order is the
    #: commit order.
    logs_servability = False

    #: Whether rows of the event log are appended in commit order and never removed, so that a reader
    #: may follow the log past the last row it saw (``SqlEventLog.tail``): writers are serialised.
    appends_in_order = False

    def track_servability(self, conn: Connection) -> None:
        """Install the triggers that log servability changes (where ``logs_servability``)."""

    def approx_rows(self, conn: Connection, spec: KindSpec) -> int:
        """A cheap estimate of a table's row count (exact counts are slow on large tables)."""
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {spec.table}").scalar_one())

    def drop_secondary_indexes(self, conn: Connection, spec: KindSpec) -> list[str]:
        """Drop a table's secondary indexes inside the transaction; return statements that rebuild them.

        Backends that gain nothing from this return an empty list and drop nothing.
        """
        return []

    def prepare(self, spec: KindSpec, table: pa.Table) -> Any:
        """Turn a batch in storage form into what ``write`` sends (pure; may run on another thread)."""
        raise NotImplementedError

    def write(self, conn: Connection, spec: KindSpec, prepared: Any) -> int:
        """Insert a prepared batch; append-only kinds skip existing keys, others upsert.

        Returns the number of rows inserted or updated (for append-only kinds: newly inserted).
        """
        raise NotImplementedError

    def append(
        self, conn: Connection, spec: KindSpec, prepared: Any, rows: int
    ) -> tuple[int, list[str] | None]:
        """Append a prepared batch of ``rows`` rows of an append-only kind, skipping stored keys.

        Returns the rows inserted and, only when some were skipped, the keys that were inserted (so
        that whatever is derived from the batch counts each row once).
        """
        raise NotImplementedError

    def merge(self, conn: Connection, table: sa.Table, rows: pa.Table, updates: dict[str, str]) -> None:
        """Insert ``rows`` into ``table``; on a primary-key conflict set each column of ``updates`` to
        its SQL expression (``{t}`` is the stored row, ``excluded`` the new one), or keep the stored row
        when ``updates`` is empty. ``rows`` must hold each key once."""
        raise NotImplementedError

    def merge_select(
        self,
        conn: Connection,
        table: sa.Table,
        select: sa.Select[Any],
        updates: dict[str, str],
        key: Hashable | None = None,
    ) -> None:
        """``merge`` of the rows of ``select`` (its columns in the table's order, each key once); a
        ``key`` names a statement that never changes, compiled once per backend and then reused."""
        sql = _STATEMENTS.get((self.name, key)) if key is not None else None
        if sql is None:
            sql = _merge_sql(table, _compiled(conn, select), self.render(updates))
            if key is not None:
                _STATEMENTS[(self.name, key)] = sql
        conn.exec_driver_sql(sql)

    def render(self, updates: dict[str, str]) -> dict[str, str]:
        """Merge updates as SQL of this backend: ``Add`` markers become exact additions."""
        return {c: self.exact_add(c) if isinstance(e, Add) else e for c, e in updates.items()}

    def exact_add(self, column: str) -> str:
        """The stored value plus the new one; an integer overflow is an error (PostgreSQL: bigint)."""
        return f"{{t}}.{column} + excluded.{column}"

    def stage_keys(self, conn: Connection, name: str, keys: pa.Array | pa.ChunkedArray) -> None:
        """Fill the transaction's temporary one-column table ``name`` (order_id) with ``keys``."""
        raise NotImplementedError

    def among_sql(self, table: str, key: str, columns: Sequence[str], n: int) -> str:
        """A raw read (``placeholder`` markers) of ``columns`` of the rows of ``table`` whose ``key`` is
        one of ``n`` values."""
        marks = ", ".join([self.placeholder] * n)
        return f"SELECT {', '.join(columns)} FROM {table} WHERE {key} IN ({marks})"

    def rows_among(
        self, conn: Connection, table: str, key: str, columns: Sequence[str], keys: Sequence[str]
    ) -> list[tuple[Any, ...]]:
        """``columns`` of the rows of ``table`` whose ``key`` is one of ``keys``, read through the driver
        in ``conn``'s transaction: a request's few lookups, without SQLAlchemy's statement machinery."""
        out: list[tuple[Any, ...]] = []
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            for lo in range(0, len(keys), IN_CHUNK):
                chunk = tuple(keys[lo : lo + IN_CHUNK])
                cursor.execute(self.among_sql(table, key, columns, len(chunk)), chunk)
                out.extend(cursor.fetchall())
        finally:
            cursor.close()
        return out

    def column_values(self, conn: Connection, table: str, *columns: str) -> list[pa.Array]:
        """Every row's values of text ``columns`` of ``table``, one array per column, read through the
        driver in ``conn``'s transaction (a million keys: 0.3 s, against 1.0 s through SQLAlchemy's
        result rows)."""
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(f"SELECT {', '.join(columns)} FROM {table}")
            if len(columns) == 1:
                return [pa.array([v for (v,) in cursor], type=pa.string())]
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return [pa.array([r[i] for r in rows], type=pa.string()) for i in range(len(columns))]

    def refresh_statistics(self, engine: Engine, vacuum: list[str], analyze: list[str]) -> None:
        """After a large load: give the planner fresh statistics (and PostgreSQL's index-only scans a
        current visibility map) instead of waiting for the background workers."""


#: Statements ``merge_select`` compiled once, by backend and key.
_STATEMENTS: dict[tuple[str, Hashable], str] = {}


def _compiled(conn: Connection, select: sa.Select[Any]) -> str:
    return str(select.compile(conn, compile_kwargs={"literal_binds": True}))


def _merge_sql(table: sa.Table, source: str, updates: dict[str, str]) -> str:
    cols = ", ".join(c.name for c in table.columns)
    key = ", ".join(c.name for c in table.primary_key.columns)
    if updates:
        sets = ", ".join(f"{c} = {expr.format(t=table.name)}" for c, expr in updates.items())
        action = f"DO UPDATE SET {sets}"
    else:
        action = "DO NOTHING"
    return f"INSERT INTO {table.name} ({cols}) {source} ON CONFLICT ({key}) {action}"


def _conflict_clause(spec: KindSpec, excluded: str) -> str:
    key = ", ".join(spec.key)
    if spec.append_only:
        return f"ON CONFLICT ({key}) DO NOTHING"
    updates = ", ".join(f"{c} = {excluded}.{c}" for c in spec.columns if c not in spec.key)
    return f"ON CONFLICT ({key}) DO UPDATE SET {updates}"


class SQLiteDialect(Dialect):
    """SQLite: WAL journal, writers take the lock at BEGIN (BEGIN IMMEDIATE) and wait for each other."""

    name = "sqlite"
    placeholder = "?"
    defers_indexes = True

    def configure(self, engine: Engine, busy_timeout_s: float) -> None:
        timeout_ms = int(busy_timeout_s * 1000)

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA cache_size = -262144")  # up to 256 MB of pages: reports re-read rollups
            cur.execute("PRAGMA temp_store = MEMORY")
            cur.execute("PRAGMA wal_autocheckpoint = 16384")  # 64 MB of WAL: hot index pages copied back once
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get(WRITE_OPTION, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    def approx_rows(self, conn: Connection, spec: KindSpec) -> int:
        return int(conn.exec_driver_sql(f"SELECT coalesce(max(rowid), 0) FROM {spec.table}").scalar_one())

    def exact_add(self, column: str) -> str:
        # SQLite turns an overflowing integer sum into REAL silently; abs() of the smallest integer is
        # its own "integer overflow" error, raised only on that branch
        total = f"{{t}}.{column} + excluded.{column}"
        return (
            f"CASE WHEN typeof({total}) = 'real' AND typeof({{t}}.{column}) = 'integer' "
            f"AND typeof(excluded.{column}) = 'integer' THEN abs(-9223372036854775807 - 1) ELSE {total} END"
        )

    def protect_append_only(self, conn: Connection, table: str) -> None:
        for op in ("UPDATE", "DELETE"):
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
        # INSERT OR REPLACE deletes the old row without firing delete triggers: refuse any insert that
        # names an existing row (a BEFORE INSERT trigger runs before the conflict is resolved)
        conn.exec_driver_sql(
            f"CREATE TRIGGER IF NOT EXISTS {table}_no_replace BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE seq = NEW.seq) "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: entries are never replaced'); END"
        )

    def unprotect_append_only(self, conn: Connection, table: str) -> None:
        for name in ("no_update", "no_delete", "no_replace"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_{name}")

    logs_servability = True  # one writer at a time: the log's sequence is the commit order
    appends_in_order = True  # and the event log's rowids likewise (events are never deleted)

    def track_servability(self, conn: Connection) -> None:
        for table, columns in SERVABILITY_COLUMNS.items():
            key = "product_id" if table == "products" else "shop_id"
            values = "(NEW.product_id, NULL)" if table == "products" else "(NULL, NEW.shop_id)"
            log = f"INSERT INTO servability_changes (product_id, shop_id) VALUES {values}"
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS {table}_servability_insert AFTER INSERT ON {table} "
                f"BEGIN {log}; END"
            )
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS {table}_servability_update "
                f"AFTER UPDATE OF {', '.join(columns)}, {key} ON {table} BEGIN {log}; END"
            )
        # the log keeps its newest SERVABILITY_LOG_ROWS rows; a reader further behind rereads the set
        conn.exec_driver_sql(
            "CREATE TRIGGER IF NOT EXISTS servability_changes_prune AFTER INSERT ON servability_changes "
            f"WHEN NEW.seq % {SERVABILITY_LOG_ROWS // 10} = 0 "
            f"BEGIN DELETE FROM servability_changes WHERE seq <= NEW.seq - {SERVABILITY_LOG_ROWS}; END"
        )

    def drop_secondary_indexes(self, conn: Connection, spec: KindSpec) -> list[str]:
        found = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (spec.table,),
        ).all()
        for name, _sql in found:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
        return [sql for _name, sql in found]

    def prepare(self, spec: KindSpec, table: pa.Table) -> list[tuple[Any, ...]]:
        return list(zip(*(table.column(c).to_pylist() for c in spec.columns), strict=True))

    def write(self, conn: Connection, spec: KindSpec, prepared: list[tuple[Any, ...]]) -> int:
        cols = ", ".join(spec.columns)
        marks = ", ".join("?" for _ in spec.columns)
        sql = f"INSERT INTO {spec.table} ({cols}) VALUES ({marks}) {_conflict_clause(spec, 'excluded')}"
        rows = prepared
        if not rows:
            return 0
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, rows)
            return max(cursor.rowcount, 0)
        finally:
            cursor.close()

    def append(
        self, conn: Connection, spec: KindSpec, prepared: list[tuple[Any, ...]], rows: int
    ) -> tuple[int, list[str] | None]:
        # rows are appended after the largest rowid (append-only tables never lose their last row)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            (marker,) = cursor.execute(f"SELECT coalesce(max(rowid), 0) FROM {spec.table}").fetchone()
        finally:
            cursor.close()
        written = self.write(conn, spec, prepared)
        if written == rows:
            return written, None
        (key,) = spec.key
        new = conn.exec_driver_sql(f"SELECT {key} FROM {spec.table} WHERE rowid > ?", (marker,))
        return written, list(new.scalars())

    def merge(self, conn: Connection, table: sa.Table, rows: pa.Table, updates: dict[str, str]) -> None:
        if rows.num_rows == 0:
            return
        names = [c.name for c in table.columns]
        marks = ", ".join("?" for _ in names)
        # in key order, each B-tree page is visited once instead of once per row landing on it (each key
        # comes once, so the order changes nothing else; a few rows are not worth sorting)
        if rows.num_rows > _SORTED_MERGE_ROWS:
            rows = rows.take(
                pc.sort_indices(rows, [(c.name, "ascending") for c in table.primary_key.columns])
            )
        data = list(zip(*(rows.column(c).to_pylist() for c in names), strict=True))
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(_merge_sql(table, f"VALUES ({marks})", self.render(updates)), data)
        finally:
            cursor.close()

    def stage_keys(self, conn: Connection, name: str, keys: pa.Array | pa.ChunkedArray) -> None:
        conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {name} (order_id VARCHAR PRIMARY KEY)")
        conn.exec_driver_sql(f"DELETE FROM {name}")
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(f"INSERT OR IGNORE INTO {name} VALUES (?)", [(k,) for k in keys.to_pylist()])
        finally:
            cursor.close()


class PostgresDialect(Dialect):
    """PostgreSQL: COPY into a transaction-scoped staging table, then one INSERT … ON CONFLICT."""

    name = "postgresql"

    def lock_for_write(self, conn: Connection) -> None:
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7301)")

    def protect_append_only(self, conn: Connection, table: str) -> None:
        conn.exec_driver_sql(
            "CREATE OR REPLACE FUNCTION xingqu_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION '%% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql"
        )
        for name, when in (
            ("no_change", "BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW"),
            ("no_truncate", "BEFORE TRUNCATE ON {t} FOR EACH STATEMENT"),
        ):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_{name} ON {table}")
            conn.exec_driver_sql(
                f"CREATE TRIGGER {table}_{name} {when.format(t=table)} EXECUTE FUNCTION xingqu_append_only()"
            )

    def unprotect_append_only(self, conn: Connection, table: str) -> None:
        for name in ("no_change", "no_truncate"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_{name} ON {table}")

    def create_app_role(
        self, conn: Connection, name: str, append_only: tuple[str, ...], read_only: tuple[str, ...]
    ) -> list[str]:
        """Create the login role ``name`` (if absent) with the least grants the application needs in the
        current schema: read all, write the data tables, only append to ``append_only`` tables, only read
        ``read_only`` ones. It owns nothing, so it cannot drop or disable the append-only triggers."""
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
        database = conn.exec_driver_sql("SELECT current_database()").scalar_one()
        tables = sorted(
            conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            ).scalars()
        )
        writable = [t for t in tables if t not in append_only and t not in read_only]
        statements = [
            f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO {name}',
            f'GRANT USAGE ON SCHEMA "{schema}" TO {name}',
            f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM {name}',
            f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {name}',
            f"GRANT INSERT, UPDATE, DELETE ON {', '.join(writable)} TO {name}",
            f"GRANT INSERT ON {', '.join(append_only)} TO {name}",
            f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO {name}',
        ]
        exists = conn.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).first()
        if exists is None:
            statements.insert(0, f"CREATE ROLE {name} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS")
        for statement in statements:
            conn.exec_driver_sql(statement)
        return statements

    def prepare(self, spec: KindSpec, table: pa.Table) -> bytes | None:
        if table.num_rows == 0:
            return None
        buf = io.BytesIO()
        pacsv.write_csv(table.select(list(spec.columns)), buf, pacsv.WriteOptions(include_header=False))
        return buf.getvalue()

    def write(self, conn: Connection, spec: KindSpec, prepared: bytes | None) -> int:
        return self._insert(conn, spec, prepared, returning=False)[0]

    def append(
        self, conn: Connection, spec: KindSpec, prepared: bytes | None, rows: int
    ) -> tuple[int, list[str] | None]:
        return self._insert(conn, spec, prepared, returning=True, rows=rows)

    def _stage(self, conn: Connection, table: str, cols: str, data: bytes) -> str:
        """COPY CSV ``data`` into a transaction-scoped staging copy of ``table``; return its name."""
        stage = f"_xingqu_stage_{table}"
        conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DROP")
        conn.exec_driver_sql(f"TRUNCATE {stage}")
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {stage} ({cols}) FROM STDIN (FORMAT csv)") as copy:  # type: ignore[union-attr]
            copy.write(data)
        return stage

    def _insert(
        self, conn: Connection, spec: KindSpec, prepared: bytes | None, *, returning: bool, rows: int = 0
    ) -> tuple[int, list[str] | None]:
        if prepared is None:
            return 0, None
        cols = ", ".join(spec.columns)
        stage = self._stage(conn, spec.table, cols, prepared)
        tail = f" RETURNING {spec.key[0]}" if returning else ""
        with conn.connection.driver_connection.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(
                f"INSERT INTO {spec.table} ({cols}) SELECT {cols} FROM {stage} "
                f"{_conflict_clause(spec, 'EXCLUDED')}{tail}"
            )
            written = max(cur.rowcount, 0)
            if not returning or written == rows:
                return written, None
            return written, [r[0] for r in cur.fetchall()]

    def refresh_statistics(self, engine: Engine, vacuum: list[str], analyze: list[str]) -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in vacuum:
                conn.exec_driver_sql(f"VACUUM (ANALYZE) {table}")
            for table in analyze:
                conn.exec_driver_sql(f"ANALYZE {table}")

    def stage_keys(self, conn: Connection, name: str, keys: pa.Array | pa.ChunkedArray) -> None:
        conn.exec_driver_sql(
            f"CREATE TEMP TABLE IF NOT EXISTS {name} (order_id VARCHAR PRIMARY KEY) ON COMMIT DROP"
        )
        conn.exec_driver_sql(f"TRUNCATE {name}")
        buf = io.BytesIO()
        pacsv.write_csv(pa.table({"order_id": keys}), buf, pacsv.WriteOptions(include_header=False))
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {name} (order_id) FROM STDIN (FORMAT csv)") as copy:  # type: ignore[union-attr]
            copy.write(buf.getvalue())

    def merge(self, conn: Connection, table: sa.Table, rows: pa.Table, updates: dict[str, str]) -> None:
        if rows.num_rows == 0:
            return
        names = [c.name for c in table.columns]
        buf = io.BytesIO()
        pacsv.write_csv(rows.select(names), buf, pacsv.WriteOptions(include_header=False))
        stage = self._stage(conn, table.name, ", ".join(names), buf.getvalue())
        sql = _merge_sql(table, f"SELECT {', '.join(names)} FROM {stage}", self.render(updates))
        conn.exec_driver_sql(sql)


def dialect_for(engine: Engine) -> Dialect:
    """The dialect object for an engine's backend."""
    name = engine.dialect.name
    if name == "sqlite":
        return SQLiteDialect()
    if name == "postgresql":
        return PostgresDialect()
    raise ValueError(f"unsupported database backend {name!r}: use SQLite or PostgreSQL")
