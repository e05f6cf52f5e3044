"""Screening at import time: products are decided before they are written, so a violating listing never
goes live — rejected ones are stored as ``rejected``, those needing a person as ``pending`` and queued
for review, each with an audit entry naming the rules that fired."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa

from xingqu.governance.context import ScreeningContext
from xingqu.governance.review import enqueue_in
from xingqu.governance.screening import Decision
from xingqu.store import Connection, Store

#: The status a product gets for each decision (approved products keep the status they came with).
STATUS_FOR = {"reject": "rejected", "review": "pending"}


def listing_of(record: dict[str, Any]) -> dict[str, Any]:
    """A product record (as stored or imported) as the listing screening reads."""
    return {
        "id": record["product_id"],
        "shop": record["shop_id"],
        "title": record.get("title"),
        "description": record.get("description"),
        "category": record.get("category"),
        "brand": record.get("brand_id"),
        "price": record.get("price"),
        "reference_price": record.get("reference_price"),
        "qualifications": record.get("qualifications"),
    }


def screen_products(
    context: ScreeningContext, records: pa.Table
) -> tuple[pa.Table, list[tuple[Decision, dict[str, Any]]]]:
    """Screen a batch of canonical product records in order; return them with the status each decision
    sets, and the decisions that were not approvals (with their listings)."""
    status = records.column("status").to_pylist()
    flagged = []
    for i, record in enumerate(
        records.select(
            [
                "product_id",
                "shop_id",
                "title",
                "description",
                "category",
                "brand_id",
                "price",
                "reference_price",
                "qualifications",
            ]
        ).to_pylist()
    ):
        listing = listing_of(record)
        decision = context.screen(listing)
        if decision.decision in STATUS_FOR:
            status[i] = STATUS_FOR[decision.decision]
            flagged.append((decision, listing))
    i = records.schema.get_field_index("status")
    return records.set_column(
        i, records.schema.field(i), pa.array(status, records.schema.field(i).type)
    ), flagged


def record_screening(store: Store, conn: Connection, flagged: list[tuple[Decision, dict[str, Any]]]) -> None:
    """Queue the review decisions and audit every flagged listing, inside the import's transaction."""
    enqueue_in(store, conn, flagged)
    now = int(time.time() * 1000)
    for decision, _ in flagged:
        store.append_audit(
            conn,
            actor="import",
            action="screen",
            subject_kind="product",
            subject_id=decision.id,
            reason="; ".join(r.message for r in decision.reasons),
            before=None,
            after={
                "status": STATUS_FOR[decision.decision],
                "decision": decision.decision,
                "ruleset": decision.ruleset,
                "rules": [r.rule for r in decision.reasons],
            },
            at_ms=now,
        )
