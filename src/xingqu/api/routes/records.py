"""What apps send: behaviour events and catalogue changes, through the ingest path of ``xingqu import``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from xingqu.api.access import Caller
from xingqu.api.compute import compute
from xingqu.api.schemas.records import CatalogueIn, CatalogueOut, EventsIn, EventsOut
from xingqu.services import ingest

router = APIRouter(tags=["records"])

#: Batches of more events than this wait behind feeds (``compute``'s bulk work).
BULK_EVENTS = 100


@router.post("/events", response_model=EventsOut)
async def post_events(body: EventsIn, caller: Caller, request: Request) -> EventsOut:
    """A batch of up to 1,000 events: all valid or none written (422 naming each bad item and field);
    idempotent by event_id (a retried batch writes nothing twice); the next feed reflects them."""
    bulk = len(body.events) > BULK_EVENTS  # a few events cost what a feed does: they keep their turn
    report = await compute(request, ingest.post_events, request.app.state.runtime, body.events, bulk=bulk)
    f = report.files[0]
    return EventsOut(received=len(body.events), written=f.written, duplicates=f.duplicates)


@router.post("/catalogue", response_model=CatalogueOut)
def upsert_catalogue(body: CatalogueIn, caller: Caller, request: Request) -> CatalogueOut:
    """Insert or update brands, shops, creators, users, products, content and relations (up to 1,000
    records in all, in one transaction); products are screened first: rejected ones are stored as
    rejected, those needing review as pending and queued."""
    batches = body.batches()
    report = ingest.upsert_catalogue(request.app.state.runtime, batches)
    return CatalogueOut(
        kinds={
            f.kind: {"received": len(batches[f.kind]), "written": f.written, "screened": f.screened}
            for f in report.files
        }
    )
