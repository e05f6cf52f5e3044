"""Records arriving as they happen (an app's events, a catalogue's changes) as use cases: through the
same ingest path as files — validated by the same rules, all or nothing, events idempotent by
``event_id``, products screened — and then told to the online state, so that the next request of every
process reflects them."""

from __future__ import annotations

from typing import Any

from xingqu.governance import Screener
from xingqu.ingest import ImportReport
from xingqu.ingest.importer import import_items
from xingqu.runtime import Runtime

#: Largest batch of records one call takes (per request: events, or catalogue records of all kinds).
MAX_BATCH = 1_000


def _screener(runtime: Runtime) -> Screener:
    return runtime.shared(("screener", "default"), Screener.default)


def post_events(runtime: Runtime, events: list[Any]) -> ImportReport:
    """Store a batch of events (all or none; repeats of a stored ``event_id`` are skipped) and put every
    valid one into the online state (which keeps each event once, so a retried batch changes nothing)."""
    report = import_items(runtime.store, {"events": events}, settings=runtime.settings)
    accepted = report.accepted.get("events")
    if accepted is not None and accepted.num_rows:
        runtime.online.recent.record(accepted)
    return report


def upsert_catalogue(runtime: Runtime, batches: dict[str, list[Any]]) -> ImportReport:
    """Insert or update catalogue records of several kinds in one transaction (dependency order);
    products are screened first as ``xingqu import --screen`` does: rejected ones stored as rejected,
    those needing review as pending and queued. Servability is re-asked for what may have changed."""
    report = import_items(runtime.store, batches, settings=runtime.settings, screener=_screener(runtime))
    accepted = report.accepted
    if "shops" in accepted:  # a shop's status moves all its goods
        runtime.online.servability.changed(None)
    elif "products" in accepted:
        runtime.online.servability.changed(accepted["products"].column("product_id").to_pylist())
    if "events" in accepted:
        runtime.online.recent.record(accepted["events"])
    return report
