"""Governance actions as use cases: each changes the store through ``xingqu.governance`` (audited, in
one transaction) and then tells the online state, so that every serving process honours it from its
next request."""

from __future__ import annotations

from typing import Any

from xingqu.governance import actions, review
from xingqu.governance.points import Standing, give_points, standing
from xingqu.runtime import Runtime
from xingqu.store import ChainReport


def take_down(runtime: Runtime, product_id: str, *, reason: str, actor: str) -> dict[str, str]:
    """下架: the product leaves every output from the next request of every process."""
    runtime.store.require_ready()
    change = actions.take_down(runtime.store, product_id, reason=reason, actor=actor)
    runtime.online.servability.changed([change["product"]])
    return change


def reinstate(runtime: Runtime, product_id: str, *, reason: str, actor: str) -> dict[str, str]:
    """The product is listed again (and servable again if in stock and its shop in good standing)."""
    runtime.store.require_ready()
    change = actions.reinstate(runtime.store, product_id, reason=reason, actor=actor)
    runtime.online.servability.changed([change["product"]])
    return change


def resolve_review(
    runtime: Runtime, listing_id: str, approve: bool, *, note: str, actor: str
) -> dict[str, Any]:
    """Approve or reject a queued listing; a product of that id becomes listed or rejected."""
    runtime.store.require_ready()
    result = review.resolve(runtime.store, listing_id, approve, note=note, actor=actor)
    runtime.online.servability.changed([listing_id])
    return result


def penalise(
    runtime: Runtime,
    shop: str,
    violation: str,
    *,
    reason: str,
    actor: str,
    points: int | None = None,
    product_id: str | None = None,
) -> Standing:
    """Penalty points for a shop; a suspension takes all its goods out of every output at once."""
    runtime.store.require_ready()
    result = give_points(
        runtime.store, shop, violation, reason=reason, actor=actor, points=points, subject_id=product_id
    )
    runtime.online.servability.changed(None)
    return result


def shop_standing(runtime: Runtime, shop: str) -> Standing:
    """A shop's penalty points within the window, the action they call for, and its penalties."""
    runtime.store.require_ready()
    runtime.store.catalogue.require_known("shops", shop)
    return standing(runtime.store, shop)


def audit_log(runtime: Runtime, subject: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest audit entries first (about one subject id, when given)."""
    runtime.store.require_ready()
    return runtime.store.audit_entries(subject, limit)


def verify_audit(runtime: Runtime) -> list[ChainReport]:
    """The check of the audit log's and the penalty ledger's hash chains (the first broken entry of
    each, if any)."""
    runtime.store.require_ready()
    return runtime.store.verify_chains()


def catalogue_changed(runtime: Runtime) -> None:
    """After an import or a score update: any product's servability may have changed."""
    runtime.online.servability.changed(None)
