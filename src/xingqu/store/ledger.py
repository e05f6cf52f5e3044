"""Hash-chained append-only tables (the audit log, the penalty ledger): tamper-evident history.

Each row stores ``prev_hash``, the hash of the row before it, and ``hash``, the SHA-256 of that and of
the row's own canonical content. Changing, removing, inserting or reordering any row breaks the chain at
that row, which ``verify`` names, even when the database's own refusals (triggers) were bypassed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from xingqu.store.dialects import Dialect
from xingqu.store.schema import audit_table, penalties_table

#: The ``prev_hash`` of a table's first row.
GENESIS = "0" * 64
#: The columns of the chain itself (left out of the hashed content and of displayed rows).
CHAIN_COLUMNS = ("seq", "prev_hash", "hash")
#: The chained tables.
CHAINED: dict[str, sa.Table] = {"audit_log": audit_table, "penalties": penalties_table}


def content_columns(table: sa.Table) -> list[str]:
    """The columns a row's hash covers: every column but the chain's."""
    return [c.name for c in table.columns if c.name not in CHAIN_COLUMNS]


def entry_hash(table: sa.Table, prev_hash: str, row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the previous hash and the row's content as canonical JSON."""
    content = {c: row.get(c) for c in content_columns(table)}
    text = json.dumps(
        [table.name, prev_hash, content], ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def append(conn: Connection, dialect: Dialect, table: sa.Table, values: dict[str, Any]) -> str:
    """Insert one row at the end of ``table``'s chain inside ``conn``'s transaction; return its hash.

    Writers are serialised for the moment of the append, so two transactions never chain onto the same
    row (SQLite's write lock is taken at BEGIN; PostgreSQL takes an advisory lock)."""
    dialect.lock_for_write(conn)
    prev = conn.execute(sa.select(table.c.hash).order_by(table.c.seq.desc()).limit(1)).scalar_one_or_none()
    prev = prev or GENESIS
    digest = entry_hash(table, prev, values)
    conn.execute(sa.insert(table).values(**values, prev_hash=prev, hash=digest))
    return digest


@dataclass(frozen=True)
class ChainReport:
    """The result of checking one table's chain."""

    table: str
    entries: int
    head: str  # hash of the last entry (GENESIS when empty): keep it elsewhere to detect a rewrite
    broken_seq: int | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_seq is None and self.problem is None

    def to_dict(self) -> dict[str, object]:
        return {
            "table": self.table,
            "entries": self.entries,
            "ok": self.ok,
            "head": self.head,
            "broken_seq": self.broken_seq,
            "problem": self.problem,
        }


def verify(conn: Connection, table: sa.Table, page_rows: int = 10_000) -> ChainReport:
    """Walk ``table``'s rows in ``seq`` order and report the first whose links or content do not match."""
    prev = GENESIS
    entries = 0
    last_seq: int | None = None
    while True:
        q = sa.select(table).order_by(table.c.seq).limit(page_rows)
        if last_seq is not None:
            q = q.where(table.c.seq > last_seq)
        rows = [dict(r._mapping) for r in conn.execute(q)]
        if not rows:
            return ChainReport(table.name, entries, prev)
        for row in rows:
            entries += 1
            seq = int(row["seq"])
            if row["prev_hash"] != prev:
                why = "its link to the entry before does not match: an entry was removed, added or changed"
                return ChainReport(table.name, entries, prev, seq, why)
            if row["hash"] != entry_hash(table, prev, row):
                why = "its content was changed after it was written"
                return ChainReport(table.name, entries, prev, seq, why)
            prev = row["hash"]
            last_seq = seq


def fill_chain(conn: Connection, table: sa.Table) -> int:
    """Compute the chain of rows written before the table was chained (a migration step); return the
    rows filled. The caller lifts the table's update refusal around this."""
    prev = GENESIS
    n = 0
    for row in [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.seq))]:
        digest = entry_hash(table, prev, row)
        conn.execute(sa.update(table).where(table.c.seq == row["seq"]).values(prev_hash=prev, hash=digest))
        prev = digest
        n += 1
    return n
