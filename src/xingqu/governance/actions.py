"""Takedown (下架) and reinstatement: a product's status changes and its audit entry, in one transaction.

A product that is not ``listed`` is filtered out of every output at request time
(``Store.catalogue.servable_products``), so a takedown takes effect on the next call, with no retraining.
"""

from __future__ import annotations

import time

from xingqu.errors import NotFoundError, UserError
from xingqu.store import Store


def set_product_status(
    store: Store, product_id: str, status: str, *, reason: str, actor: str, action: str
) -> dict[str, str]:
    """Move a product to ``status`` and audit the change; refuse unknown products and no-op changes."""
    if not reason.strip():
        raise UserError(f"{action}: a reason is required")
    with store.writing() as conn:
        before = store.catalogue.product_status(conn, product_id)
        if before is None:
            raise NotFoundError(f"unknown product {product_id!r}")
        if before == status:
            raise UserError(f"product {product_id!r} is already {status}")
        store.catalogue.set_product_status(conn, product_id, status)
        store.append_audit(
            conn,
            actor=actor,
            action=action,
            subject_kind="product",
            subject_id=product_id,
            reason=reason,
            before={"status": before},
            after={"status": status},
            at_ms=int(time.time() * 1000),
        )
    return {"product": product_id, "before": before, "after": status}


def take_down(store: Store, product_id: str, *, reason: str, actor: str) -> dict[str, str]:
    """Take a product down (下架) everywhere from the next request on."""
    return set_product_status(store, product_id, "taken_down", reason=reason, actor=actor, action="takedown")


def reinstate(store: Store, product_id: str, *, reason: str, actor: str) -> dict[str, str]:
    """List a taken-down or rejected product again."""
    return set_product_status(store, product_id, "listed", reason=reason, actor=actor, action="reinstate")
