"""Reports, as ``xingqu report`` makes them: JSON, or the rows as CSV where the command writes CSV; and
a shop's compass page. A merchant key sees its own shops' figures only, a creator key its own live
sessions."""

from __future__ import annotations

import io
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from xingqu.analytics.gmv import SLICES
from xingqu.api.access import CREATOR, Caller, require_shop_scope, require_subject
from xingqu.api.schemas.reports import OverviewOut, ReportOut
from xingqu.domain.records import MAX_ID_LENGTH
from xingqu.errors import ForbiddenError
from xingqu.services import reports

router = APIRouter(prefix="/reports", tags=["reports"])
shops = APIRouter(tags=["reports"])

Shop = Annotated[str | None, Query(min_length=1, max_length=MAX_ID_LENGTH, description="Only this shop.")]
Format = Annotated[Literal["json", "csv"], Query(description="json: the whole report; csv: its rows.")]
PeriodQ = Annotated[Literal["day", "week", "month"], Query(description="UTC+8 calendar periods.")]
CSV = {200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}


def _answer(report: reports.GmvReport | reports.RowsReport, fmt: str) -> Any:
    """The report as JSON, or its rows as CSV (as ``xingqu report … --json`` / ``--csv`` write them)."""
    if fmt == "json":
        return report.to_dict()
    out = io.StringIO()
    reports.write_csv(report.rows, out)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")


@router.get("/gmv", response_model=ReportOut, responses=CSV)
def gmv_report(
    caller: Caller,
    request: Request,
    period: PeriodQ = "day",
    by: Annotated[
        Literal[SLICES] | None, Query(description="Slice by a dimension.")  # type: ignore[valid-type]
    ] = None,
    top: Annotated[int, Query(ge=1, le=1_000_000)] = 20,
    shop: Shop = None,
    format: Format = "json",
) -> Any:
    """GMV placed, paid, refunded, net and quality GMV per period (and slice), with the gap."""
    require_shop_scope(caller, shop)
    return _answer(reports.gmv(request.app.state.runtime, period, by, shop, top), format)


@router.get("/funnel", response_model=ReportOut, responses=CSV)
def funnel_report(caller: Caller, request: Request, shop: Shop = None, format: Format = "json") -> Any:
    """Impression → click → order → pay by surface, with live, video and product GPM."""
    require_shop_scope(caller, shop)
    return _answer(reports.funnel(request.app.state.runtime, shop), format)


@router.get("/customers", response_model=ReportOut, responses=CSV)
def customers_report(
    caller: Caller, request: Request, period: PeriodQ = "week", shop: Shop = None, format: Format = "json"
) -> Any:
    """New vs returning buyers and GMV per period, and the repeat-purchase rate."""
    require_shop_scope(caller, shop)
    return _answer(reports.customers(request.app.state.runtime, period, shop), format)


@router.get("/live", response_model=ReportOut, responses=CSV)
def live_report(
    caller: Caller,
    request: Request,
    shop: Shop = None,
    creator: Annotated[
        str | None, Query(min_length=1, max_length=MAX_ID_LENGTH, description="Only this creator's sessions.")
    ] = None,
    top: Annotated[int, Query(ge=1, le=1_000_000)] = 20,
    format: Format = "json",
) -> Any:
    """Per live session: GMV in the session and within 7 days, viewers, watch time, conversion, GPM. A
    creator key sees its own sessions (give no shop)."""
    runtime = request.app.state.runtime
    if caller.role is CREATOR:
        if shop is not None:
            raise ForbiddenError("a creator key sees its own live sessions, not a shop's")
        creator = creator or caller.creator
        require_subject(runtime, caller, "creator", str(creator))
    else:
        require_shop_scope(caller, shop)
    return _answer(reports.live(runtime, shop, top, creator), format)


@router.get("/channels", response_model=ReportOut, responses=CSV)
def channels_report(
    caller: Caller, request: Request, period: PeriodQ = "week", shop: Shop = None, format: Format = "json"
) -> Any:
    """Self-broadcast vs creator GMV per period with growth, and the private-domain share."""
    require_shop_scope(caller, shop)
    return _answer(reports.channels(request.app.state.runtime, period, shop), format)


@router.get("/overview", response_model=OverviewOut)
def overview_report(
    caller: Caller,
    request: Request,
    shop: Shop = None,
    days: Annotated[int, Query(ge=1, le=366, description="Days in the span.")] = 7,
    end: Annotated[
        date | None,
        Query(description="Last marketplace day of the span (UTC+8); by default the latest with events."),
    ] = None,
) -> dict[str, Any]:
    """Key figures over ``days`` marketplace days ending on ``end`` beside the ``days`` before them, and
    the funnel impression → click → cart → order → pay → kept over the span."""
    require_shop_scope(caller, shop)
    return reports.overview(request.app.state.runtime, shop, days, end)


@shops.get("/shops/{shop_id}/compass", response_model=dict[str, Any])
def shop_compass(
    shop_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)],
    caller: Caller,
    request: Request,
    days: Annotated[int, Query(ge=1, le=3_660, description="Days back from the latest event.")] = 30,
) -> dict[str, Any]:
    """One shop's compass page (罗盘): GMV and quality GMV, funnel, customers, channels, live sessions."""
    runtime = request.app.state.runtime
    require_subject(runtime, caller, "shop", shop_id)
    return reports.compass(runtime, shop_id, days)
