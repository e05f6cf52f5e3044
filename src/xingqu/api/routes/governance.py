"""Operators' governance: screening, the review queue, takedowns, the audit log, penalty points and
store monitoring. Every change is audited with the key that made it."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request

from xingqu.api.access import Caller, require_subject
from xingqu.api.schemas.governance import (
    AuditEntries,
    ChainsOut,
    NoteIn,
    PointsIn,
    ReasonIn,
    Resolved,
    ReviewEntries,
    ScreenIn,
    ScreenOut,
    StandingOut,
    StatusChange,
    StoreCheckOut,
)
from xingqu.domain.records import MAX_ID_LENGTH
from xingqu.ingest.listings import check_listing
from xingqu.services import governance, monitoring, screening
from xingqu.services.keys import Principal

router = APIRouter(tags=["governance"])

Id = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)]


def plain(report: dict[str, object]) -> dict[str, object]:
    """A report with its evidence as plain JSON values (dates and numbers as the CLI's JSON has them)."""
    return json.loads(json.dumps(report, default=str))  # type: ignore[no-any-return]


def actor(caller: Principal) -> str:
    """Who a change is audited as: the key's name and id."""
    return f"api:{caller.name} ({caller.key_id})"


@router.post("/governance/screen", response_model=ScreenOut)
def screen_listings(body: ScreenIn, caller: Caller, request: Request) -> dict[str, object]:
    """Screen listings in order (each later one compared with the earlier ones): each decided approve,
    review or reject, with the rules that fired; with queue, those decided review are queued. A
    malformed listing is refused naming its position and field."""
    listings = [check_listing(x, f"listings[{i}]") for i, x in enumerate(body.listings)]
    decisions, summary = screening.screen_listings(request.app.state.runtime, listings, queue=body.queue)
    return {**summary.to_dict(), "decisions": [d.to_dict() for d in decisions]}


@router.get("/governance/review", response_model=ReviewEntries)
def review_queue(
    caller: Caller,
    request: Request,
    status: Literal["open", "approved", "rejected", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> dict[str, object]:
    """Review queue entries, oldest first."""
    rows = screening.review_queue(request.app.state.runtime, None if status == "all" else status, limit)
    return {"entries": rows}


@router.post("/governance/review/{listing_id}/approve", response_model=Resolved)
def approve_listing(listing_id: Id, body: NoteIn, caller: Caller, request: Request) -> dict[str, object]:
    """Approve a queued listing: a product of that id is listed."""
    runtime = request.app.state.runtime
    return governance.resolve_review(runtime, listing_id, True, note=body.note, actor=actor(caller))


@router.post("/governance/review/{listing_id}/reject", response_model=Resolved)
def reject_listing(listing_id: Id, body: NoteIn, caller: Caller, request: Request) -> dict[str, object]:
    """Reject a queued listing: a product of that id is rejected."""
    runtime = request.app.state.runtime
    return governance.resolve_review(runtime, listing_id, False, note=body.note, actor=actor(caller))


@router.post("/products/{product_id}/takedown", response_model=StatusChange)
def take_down_product(product_id: Id, body: ReasonIn, caller: Caller, request: Request) -> dict[str, str]:
    """Take a product down (下架): out of every output of every process from its next request."""
    runtime = request.app.state.runtime
    return governance.take_down(runtime, product_id, reason=body.reason, actor=actor(caller))


@router.post("/products/{product_id}/reinstate", response_model=StatusChange)
def reinstate_product(product_id: Id, body: ReasonIn, caller: Caller, request: Request) -> dict[str, str]:
    """List a taken-down or rejected product again."""
    runtime = request.app.state.runtime
    return governance.reinstate(runtime, product_id, reason=body.reason, actor=actor(caller))


@router.get("/governance/audit", response_model=AuditEntries)
def audit_log(
    caller: Caller,
    request: Request,
    subject: Annotated[str | None, Query(min_length=1, max_length=MAX_ID_LENGTH)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
) -> dict[str, object]:
    """The audit log of governance changes, newest first."""
    return {"entries": governance.audit_log(request.app.state.runtime, subject, limit)}


@router.get("/governance/audit/verify", response_model=ChainsOut)
def verify_audit(caller: Caller, request: Request) -> dict[str, object]:
    """Check the hash chains of the audit log and the penalty ledger."""
    reports = governance.verify_audit(request.app.state.runtime)
    return {"ok": all(r.ok for r in reports), "tables": [r.to_dict() for r in reports]}


@router.get("/shops/{shop_id}/points", response_model=StandingOut)
def shop_points(shop_id: Id, caller: Caller, request: Request) -> dict[str, object]:
    """A shop's penalty points in the 12-month window, the action they call for, and its penalties."""
    runtime = request.app.state.runtime
    require_subject(runtime, caller, "shop", shop_id)
    return governance.shop_standing(runtime, shop_id).to_dict()


@router.post("/shops/{shop_id}/points", response_model=StandingOut)
def give_points(shop_id: Id, body: PointsIn, caller: Caller, request: Request) -> dict[str, object]:
    """Give a shop penalty points; reaching a threshold warns, restricts or suspends it (audited)."""
    result = governance.penalise(
        request.app.state.runtime,
        shop_id,
        body.violation,
        reason=body.reason,
        actor=actor(caller),
        points=body.points,
        product_id=body.product,
    )
    return result.to_dict()


@router.get("/governance/stores", response_model=StoreCheckOut)
def check_stores(
    caller: Caller, request: Request, window_days: Annotated[int, Query(ge=1, le=366)] = 7
) -> dict[str, object]:
    """Refund spikes, order brushing and review collapses flagged with evidence; experience scores."""
    return plain(monitoring.check(request.app.state.runtime, window_days).to_dict())


@router.post("/governance/stores/scores", response_model=StoreCheckOut)
def update_store_scores(
    caller: Caller, request: Request, window_days: Annotated[int, Query(ge=1, le=366)] = 7
) -> dict[str, object]:
    """Check the stores and write every shop's experience score (audited)."""
    runtime = request.app.state.runtime
    return plain(monitoring.check(runtime, window_days, update_scores=True, actor=actor(caller)).to_dict())
