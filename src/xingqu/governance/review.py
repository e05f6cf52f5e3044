"""The review queue: listings screened to "review" wait here until a person approves or rejects them.

Resolving an entry whose listing is a product in the store also sets the product's status (approved →
listed, rejected → rejected); every resolution is written to the audit log in the same transaction.
"""

from __future__ import annotations

import json
import time
from typing import Any

from xingqu.errors import NotFoundError, UserError
from xingqu.governance.screening import Decision
from xingqu.store import Connection, Store


def _now_ms() -> int:
    return int(time.time() * 1000)


def enqueue(store: Store, decisions: list[tuple[Decision, dict[str, Any]]]) -> int:
    """Queue every ``review`` decision (re-screening replaces a listing's open entry); returns how many."""
    with store.writing() as conn:
        return enqueue_in(store, conn, decisions)


def enqueue_in(store: Store, conn: Connection, decisions: list[tuple[Decision, dict[str, Any]]]) -> int:
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
        store.governance.put_review(conn, row)
        queued += 1
    return queued


def entries(store: Store, status: str | None = "open", limit: int = 100) -> list[dict[str, Any]]:
    """Queue entries, oldest first (open ones by default)."""
    rows = store.governance.review_entries(status, limit)
    for r in rows:
        r["reasons"] = json.loads(r["reasons"])
    return rows


def resolve(store: Store, listing_id: str, approve: bool, *, note: str, actor: str) -> dict[str, Any]:
    """Approve or reject an open entry; a product of that id is listed or rejected accordingly."""
    if not note.strip():
        raise UserError("a note saying why is required")
    status = "approved" if approve else "rejected"
    with store.writing() as conn:
        entry = store.governance.review_status(conn, listing_id)
        if entry is None:
            raise NotFoundError(f"no review entry for {listing_id!r}")
        if entry != "open":
            raise UserError(f"the review of {listing_id!r} is already {entry}")
        now = _now_ms()
        store.governance.resolve_review(conn, listing_id, status, now, actor, note)
        before = store.catalogue.product_status(conn, listing_id)
        after = None
        if before is not None:
            after = "listed" if approve else "rejected"
            store.catalogue.set_product_status(conn, listing_id, after)
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
