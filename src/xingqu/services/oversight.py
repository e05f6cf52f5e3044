"""Operators' reads and checks as use cases — screening listings on request, the review queue, the audit
log and its chains, a shop's penalty standing, store monitoring — thin over ``xingqu.governance``; the
actions that change what may be shown are in ``services.governance``."""

from __future__ import annotations

import json
from typing import Any

from xingqu.governance import Screener, review
from xingqu.governance.context import ScreeningContext
from xingqu.governance.monitoring import MonitorSettings, check_stores, store_scores
from xingqu.governance.points import standing
from xingqu.ingest.listings import check_listing
from xingqu.runtime import Runtime


def screen_listings(runtime: Runtime, listings: list[Any], *, queue: bool = False) -> dict[str, Any]:
    """Decisions (approve / review / reject, with reasons) on listings, against the store's shops,
    brands, listings and prices as ``xingqu screen`` makes them; with ``queue`` those decided review
    join the review queue. A malformed listing is refused naming its position and field."""
    checked = [check_listing(x, f"listings[{i}]") for i, x in enumerate(listings)]
    screener = runtime.shared(("screener", "default"), Screener.default)
    context = ScreeningContext.from_store(runtime.store, screener)
    decisions = [(context.screen(listing), listing) for listing in checked]
    queued = 0
    if queue:
        runtime.store.require_ready()
        queued = review.enqueue(runtime.store, [(d, x) for d, x in decisions if d.decision == "review"])
    return {
        "ruleset": screener.version,
        "counts": dict(context.counts),
        "queued": queued,
        "decisions": [d.to_dict() for d, _ in decisions],
    }


def review_queue(runtime: Runtime, status: str | None = "open", limit: int = 100) -> list[dict[str, Any]]:
    """Review queue entries, oldest first (``status`` None: every entry)."""
    runtime.store.require_ready()
    return review.entries(runtime.store, status, limit)


def audit_log(runtime: Runtime, subject: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Audit entries, newest first (of one subject when given)."""
    runtime.store.require_ready()
    return runtime.store.audit_entries(subject, limit)


def verify_audit(runtime: Runtime) -> dict[str, Any]:
    """The hash chains of the audit log and the penalty ledger checked (``ok`` False names the break)."""
    runtime.store.require_ready()
    reports = runtime.store.verify_chains()
    return {"ok": all(r.ok for r in reports), "tables": [r.to_dict() for r in reports]}


def shop_standing(runtime: Runtime, shop: str) -> dict[str, Any]:
    """A shop's penalty points within the window, the action they call for, its penalties."""
    runtime.store.require_ready()
    runtime.store.require_known("shops", shop)
    return standing(runtime.store, shop).to_dict()


def store_check(
    runtime: Runtime, window_days: int = 7, *, update_scores: bool = False, actor: str = "api"
) -> dict[str, Any]:
    """Refund spikes, order brushing and review collapses flagged with evidence, every shop's experience
    score; with ``update_scores`` the scores are written to the shops (audited)."""
    runtime.store.require_ready()
    report = check_stores(runtime.store, MonitorSettings(window_days=window_days))
    written = store_scores(runtime.store, report, actor) if update_scores else 0
    out = json.loads(json.dumps(report.to_dict(), default=str))  # evidence as plain JSON values
    return {**out, "scores_written": written}
