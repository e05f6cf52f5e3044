"""Governance's own tables: the review queue and the penalty ledger (the audit log is ``Store``'s).

The rules (what a decision sets, when points act) stay in ``xingqu.governance``; these are its reads
and writes. Methods that change something take the caller's ``conn``, so that a change and its audit
entry commit together.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from xingqu.store import ledger
from xingqu.store.repository import Repository
from xingqu.store.schema import penalties_table, review_table


class Governance(Repository):
    """The review queue and the penalty ledger."""

    # -- review queue -----------------------------------------------------------------------------

    def put_review(self, conn: Connection, row: dict[str, Any]) -> None:
        """Queue a listing (a full ``review_queue`` row): an open entry of the listing is replaced, a
        resolved one is overwritten (the listing is screened again)."""
        q = review_table
        conn.execute(sa.delete(q).where(q.c.listing_id == row["listing_id"], q.c.status == "open"))
        found = conn.execute(sa.select(q.c.listing_id).where(q.c.listing_id == row["listing_id"])).first()
        if found is not None:
            conn.execute(sa.update(q).where(q.c.listing_id == row["listing_id"]).values(**row))
        else:
            conn.execute(sa.insert(q).values(**row))

    def review_entries(self, status: str | None = "open", limit: int = 100) -> list[dict[str, Any]]:
        """Queue rows, oldest first (of one status when given); reasons as stored (JSON text)."""
        q = (
            sa.select(review_table)
            .order_by(review_table.c.submitted_at, review_table.c.listing_id)
            .limit(limit)
        )
        if status is not None:
            q = q.where(review_table.c.status == status)
        with self._conn(None) as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def review_status(self, conn: Connection, listing_id: str) -> str | None:
        """The status of a listing's queue entry (None when it has none)."""
        q = review_table
        row = conn.execute(sa.select(q.c.status).where(q.c.listing_id == listing_id)).first()
        return None if row is None else str(row[0])

    def resolve_review(
        self, conn: Connection, listing_id: str, status: str, at_ms: int, actor: str, note: str
    ) -> None:
        """Close a listing's queue entry as ``status``, by whom, when and why."""
        q = review_table
        conn.execute(
            sa.update(q)
            .where(q.c.listing_id == listing_id)
            .values(status=status, resolved_at=at_ms, resolver=actor, note=note)
        )

    # -- penalty ledger ---------------------------------------------------------------------------

    def add_penalty(self, conn: Connection, values: dict[str, Any]) -> None:
        """Append a penalty (a ``penalties`` row without its chain columns) to the hash-chained ledger."""
        ledger.append(conn, self._store.dialect, penalties_table, values)

    def penalties(
        self, shop_id: str, after_ms: int, until_ms: int, conn: Connection | None = None
    ) -> list[dict[str, Any]]:
        """A shop's penalties given after ``after_ms`` and up to ``until_ms``, newest first."""
        t = penalties_table
        with self._conn(conn) as c:
            rows = c.execute(
                sa.select(t)
                .where(t.c.shop_id == shop_id, t.c.at > after_ms, t.c.at <= until_ms)
                .order_by(t.c.at.desc(), t.c.seq.desc())
            )
            return [{k: v for k, v in r._mapping.items() if k not in ("prev_hash", "hash")} for r in rows]
