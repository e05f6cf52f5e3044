"""Reports as use cases: every ``xingqu report …`` and the shop compass, as plain data (dataclasses of
rows and figures) that the CLI renders and an HTTP API can serialise as JSON, or as CSV.

Amounts are integer fen, times ISO dates of the marketplace calendar (UTC+8); the figures come from
``xingqu.analytics`` over the store's rollups.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import IO, Any

import numpy as np

from xingqu.analytics import gmv_report, load_orders
from xingqu.analytics.channels import channel_growth, private_domain_share
from xingqu.analytics.compass import compass_page
from xingqu.analytics.customers import customer_metrics
from xingqu.analytics.funnel import event_counts, funnel_by_surface, gpm
from xingqu.analytics.gmv import PERIODS, SLICES, GmvSummary, Period, period_label, period_of
from xingqu.analytics.live import live_sessions
from xingqu.analytics.orders import OrderFacts
from xingqu.errors import UserError
from xingqu.runtime import Runtime
from xingqu.store import Store
from xingqu.store.rollup_reads import daily_event_totals
from xingqu.store.rollups import DAY_MS, MARKET_UTC_OFFSET_MS


@dataclass
class GmvReport:
    """GMV and quality GMV per period (and slice), and over everything."""

    period: str
    by: str | None
    shop: str | None
    rows: list[dict[str, object]]
    total: GmvSummary

    def to_dict(self) -> dict[str, object]:
        """The report as one JSON document (``xingqu report gmv --json``)."""
        return {"period": self.period, "shop": self.shop, "total": self.total.to_dict(), "rows": self.rows}


@dataclass
class RowsReport:
    """A report of rows (one table), with figures over all of them in ``extra``."""

    title: str
    rows: list[dict[str, object]]
    extra: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """The report as one JSON document: the figures, then the rows."""
        return {**self.extra, "rows": self.rows}


def check_period(period: str) -> Period:
    """``period`` if it is day, week or month; else a bad-input error naming it."""
    if period not in PERIODS:
        raise UserError(f"period {period!r}: use day, week or month")
    return period  # type: ignore[return-value]


def _store(runtime: Runtime, shop: str | None) -> Store:
    """The ready store, once ``shop`` (when given) is known to it: an unknown shop is not found."""
    store = runtime.store
    store.require_ready()
    if shop is not None:
        store.catalogue.require_known("shops", shop)
    return store


def gmv(
    runtime: Runtime, period: str = "day", by: str | None = None, shop: str | None = None, top: int = 20
) -> GmvReport:
    """GMV placed, paid, refunded, net and quality GMV per period (and per slice value, the ``top``
    values with most GMV paid), with the gap and GPM."""
    checked = check_period(period)
    if by is not None and by not in SLICES:
        raise UserError(f"cannot slice by {by!r}; use one of {', '.join(SLICES)}")
    rows, total = gmv_report(_store(runtime, shop), checked, by, shop, top=top)
    return GmvReport(period, by, shop, rows, total)


def funnel(runtime: Runtime, shop: str | None = None) -> RowsReport:
    """Impression → click → order → pay by surface, with live, video and product GPM."""
    store = _store(runtime, shop)
    counts = event_counts(store, shop)
    extra = gpm(store, counts, shop)
    return RowsReport("Funnel by surface", funnel_by_surface(counts), dict(extra))


def customers(runtime: Runtime, period: str = "week", shop: str | None = None) -> RowsReport:
    """New vs returning buyers and GMV per period, and the repeat-purchase rate."""
    checked = check_period(period)
    orders = load_orders(_store(runtime, shop), shop)
    paid = orders.paid > 0
    keys = period_of(np.where(paid, orders.paid_ts, orders.placed_ts), checked)
    rows: list[dict[str, object]] = [
        {"period": k, **customer_metrics(orders, keys == k)} for k in sorted(set(keys[paid].tolist()))
    ]
    return RowsReport(f"Customers per {period}", rows)


def live(runtime: Runtime, shop: str | None = None, top: int = 20, creator: str | None = None) -> RowsReport:
    """Per live session, best-selling first: GMV in the session and within 7 days, viewers, watch
    time, conversion, GPM (of one creator's sessions when ``creator`` is given)."""
    store = _store(runtime, shop)
    if creator is not None:
        store.catalogue.require_known("creators", creator)
    rows = live_sessions(store, load_orders(store, shop), shop)
    rows = [r for r in rows if creator is None or r["creator"] == creator][:top]
    for r in rows:
        r.pop("start_ms")
    return RowsReport("Live sessions (best-selling first)", rows)


def channels(runtime: Runtime, period: str = "week", shop: str | None = None) -> RowsReport:
    """Self-broadcast vs creator GMV per period with growth, and the private-domain share."""
    checked = check_period(period)
    store = _store(runtime, shop)
    rows = channel_growth(store, checked, shop)
    share = private_domain_share(store, load_orders(store, shop))
    return RowsReport(f"Channels per {period}", rows, dict(share))


def compass(runtime: Runtime, shop: str, days: int = 30) -> dict[str, Any]:
    """One shop's compass page (罗盘) over its last ``days`` marketplace days: GMV and quality GMV,
    GPM, funnel, customers, channels, private-domain share, top live sessions."""
    return compass_page(_store(runtime, shop), shop, days)


#: Figures of a period that add up over its days (the rest are ratios of them).
_DAY_SUMS = ("gmv_paid", "refunded", "violating", "net_gmv", "quality_gmv", "paid_orders")
#: The overview's funnel, in order: event types counted in the rollups, then paid orders kept.
FUNNEL_STEPS = ("impression", "click", "add_to_cart", "order", "pay")


def _kpis(
    day_rows: list[dict[str, Any]],
    views: dict[str, int],
    orders: OrderFacts,
    when: np.ndarray,
    days: set[str],
) -> dict[str, Any]:
    """The overview's figures over the marketplace days ``days``: sums of the daily GMV rows and of
    the daily impressions, GPM of their sums, distinct buyers and the new-customer share of the orders
    paid on those days."""
    sums = {k: sum(int(r[k] or 0) for r in day_rows if r["period"] in days) for k in _DAY_SUMS}
    sums["impressions"] = sum(n for d, n in views.items() if d in days)
    mask = np.isin(when, list(days)) if days else np.zeros(len(when), dtype=bool)
    paid = mask & (orders.paid > 0)
    buyers = len(np.unique(orders.user_id[paid].astype(str)))
    share = customer_metrics(orders, mask)["new_share_by_count"]
    gpm_ = sums["gmv_paid"] / 100 / sums["impressions"] * 1000 if sums["impressions"] else None
    return {
        **sums,
        "gap": sums["gmv_paid"] - sums["quality_gmv"],
        "gpm": gpm_,
        "buyers": buyers,
        "new_customer_share": share,
    }


#: The calendar an overview's span may end in (so that every day of it and of the span before it is
#: a date).
_END_RANGE = (date(1971, 1, 1), date(9998, 12, 31))


def overview(
    runtime: Runtime, shop: str | None = None, days: int = 7, end: date | None = None
) -> dict[str, Any]:
    """The overview (罗盘 首页) of a shop or of the platform: GMV, quality GMV and the gap's parts, GPM,
    paid orders, buyers and the new-customer share over ``days`` marketplace days ending on ``end``
    (default: the latest day with events) and over the ``days`` before them; and the funnel
    impression → click → cart → order → pay → kept (paid minus refunded) over the span."""
    if not 1 <= days <= 366:
        raise UserError(f"days {days}: give 1 to 366")
    if end is not None and not _END_RANGE[0] <= end <= _END_RANGE[1]:
        raise UserError(f"end {end.isoformat()}: give a day from 1971 to 9998")
    store = _store(runtime, shop)
    last = store.rollups.last_day() if end is None else (end - date(1970, 1, 1)).days
    day_rows, _ = gmv_report(store, "day", None, shop)
    views = {
        period_label(d): n
        for (d, _), n in store.rollups.impressions("day", None, shop).items()
        if d is not None
    }
    orders = load_orders(store, shop)
    when = period_of(np.where(orders.paid > 0, orders.paid_ts, orders.placed_ts), "day")
    current = {period_label(last - i) for i in range(days)} if last is not None else set()
    before = {period_label(last - days - i) for i in range(days)} if last is not None else set()
    since = until = None
    if last is not None:
        since = (last - days + 1) * DAY_MS - MARKET_UTC_OFFSET_MS
        until = last * DAY_MS - MARKET_UTC_OFFSET_MS
    counts: dict[str, int] = {}
    for _surface, kind, n in store.rollups.event_counts((*FUNNEL_STEPS, "refund"), shop, since, until):
        counts[kind] = counts.get(kind, 0) + n
    funnel_rows = [{"step": k, "count": counts.get(k, 0)} for k in FUNNEL_STEPS]
    funnel_rows.append({"step": "kept", "count": max(0, counts.get("pay", 0) - counts.get("refund", 0))})
    span = lambda s: [min(s), max(s)] if s else None  # noqa: E731
    return {
        "shop": shop,
        "days": days,
        "current_days": span(current),
        "previous_days": span(before),
        "current": _kpis(day_rows, views, orders, when, current),
        "previous": _kpis(day_rows, views, orders, when, before),
        "funnel": funnel_rows,
    }


def write_csv(rows: list[dict[str, object]], fh: IO[str]) -> None:
    """Rows as CSV with a header of their keys (a lone ``empty`` header when there are none)."""
    writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["empty"])
    writer.writeheader()
    writer.writerows(rows)


def daily(runtime: Runtime, engine: Any = None) -> RowsReport:
    """Events per marketplace day and event type: from the rollups kept at import, or (with a Spark
    engine) recounted from the event lake in Spark SQL — the same rows either way."""
    runtime.store.require_ready()
    if engine is None:
        found = daily_event_totals(runtime.store)
        source = "rollups"
    else:
        from xingqu.distributed.reports import daily_event_totals as on_spark

        found = on_spark(engine, runtime.store)
        source = f"{engine.name} over the event lake"
    rows: list[dict[str, object]] = []
    for day, kind, n in found:
        rows.append({"day": day_label(day), "event_type": kind, "events": n})
    return RowsReport("Events per day", rows, {"source": source, "events": sum(n for _, _, n in found)})


def day_label(day: int) -> str:
    """A marketplace day number (days since 1970-01-01, UTC+8) as its date."""
    return (date(1970, 1, 1) + timedelta(days=day)).isoformat()
