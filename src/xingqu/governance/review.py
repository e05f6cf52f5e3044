"""The review queue: listings screened to "review" wait here until a person approves or rejects them.

Resolving an entry whose listing is a product in the store also sets the product's status (approved →
listed, rejected → rejected); every resolution is written to the audit log in the same transaction.
"""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from xingqu.errors import NotFoundError, UserError
from xingqu.governance.screening import Decision
from xingqu.store import Store
from xingqu.store.schema import TABLES, review_table


def _now_ms() -> int:
    return int(time.time() * 1000)


def enqueue(store: Store, decisions: list[tuple[Decision, dict[str, Any]]]) -> int:
    """Queue every ``review`` decision (re-screening replaces a listing's open entry); returns how many."""
    with store.writing() as conn:
        return enqueue_in(conn, decisions)


def enqueue_in(conn: Connection, decisions: list[tuple[Decision, dict[str, Any]]]) -> int:
    """``enqueue`` inside an open transaction (an import queues what it screened with its rows)."""
    queued = 0
    for decision, listing in decisions:
        if decision.decision != "review":
            continue
        row = {
            "listing_id": decision.id,
            "shop_id": listing.get("shop") or listing.get("shop_id"),
            "title": listing.get("title"),
            "ruleset": decision.ruleset,
            "reasons": json.dumps(decision.to_dict()["reasons"], ensure_ascii=False),
            "status": "open",
            "submitted_at": _now_ms(),
            "resolved_at": None,
            "resolver": None,
            "note": None,
        }
        conn.execute(
            sa.delete(review_table).where(
                review_table.c.listing_id == decision.id, review_table.c.status == "open"
            )
        )
        if (
            conn.execute(
                sa.select(review_table.c.listing_id).where(review_table.c.listing_id == decision.id)
            ).first()
            is not None
        ):
            conn.execute(
                sa.update(review_table).where(review_table.c.listing_id == decision.id).values(**row)
            )
        else:
            conn.execute(sa.insert(review_table).values(**row))
        queued += 1
    return queued


def entries(store: Store, status: str | None = "open", limit: int = 100) -> list[dict[str, Any]]:
    """Queue entries, oldest first (open ones by default)."""
    q = sa.select(review_table).order_by(review_table.c.submitted_at, review_table.c.listing_id).limit(limit)
    if status is not None:
        q = q.where(review_table.c.status == status)
    with store.reading() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    for r in rows:
        r["reasons"] = json.loads(r["reasons"])
    return rows


def resolve(store: Store, listing_id: str, approve: bool, *, note: str, actor: str) -> dict[str, Any]:
    """Approve or reject an open entry; a product of that id is listed or rejected accordingly."""
    if not note.strip():
        raise UserError("a note saying why is required")
    status = "approved" if approve else "rejected"
    p = TABLES["products"]
    with store.writing() as conn:
        entry = conn.execute(
            sa.select(review_table.c.status).where(review_table.c.listing_id == listing_id)
        ).first()
        if entry is None:
            raise NotFoundError(f"no review entry for {listing_id!r}")
        if entry.status != "open":
            raise UserError(f"the review of {listing_id!r} is already {entry.status}")
        now = _now_ms()
        conn.execute(
            sa.update(review_table)
            .where(review_table.c.listing_id == listing_id)
            .values(status=status, resolved_at=now, resolver=actor, note=note)
        )
        before = conn.execute(sa.select(p.c.status).where(p.c.product_id == listing_id)).scalar_one_or_none()
        after = None
        if before is not None:
            after = "listed" if approve else "rejected"
            conn.execute(sa.update(p).where(p.c.product_id == listing_id).values(status=after))
        store.append_audit(
            conn,
            actor=actor,
            action=f"review_{status}",
            subject_kind="listing",
            subject_id=listing_id,
            reason=note,
            before={"review": "open", "product_status": before},
            after={"review": status, "product_status": after},
            at_ms=now,
        )
    return {"listing": listing_id, "review": status, "product_status": after}
