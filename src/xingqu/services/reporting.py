"""Every ``xingqu report`` as a use case returning plain rows (for JSON and CSV answers), thin over
``xingqu.analytics``; each names its shop (None: the whole marketplace)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from xingqu.analytics import gmv_report, load_orders
from xingqu.analytics.channels import channel_growth, private_domain_share
from xingqu.analytics.compass import compass_page
from xingqu.analytics.customers import customer_metrics
from xingqu.analytics.funnel import event_counts, funnel_by_surface, gpm
from xingqu.analytics.gmv import period_of
from xingqu.analytics.live import live_sessions
from xingqu.runtime import Runtime
from xingqu.store import Store

Period = Literal["day", "week", "month"]


def _store(runtime: Runtime, shop: str | None) -> Store:
    store = runtime.store
    store.require_ready()
    if shop is not None:
        store.require_known("shops", shop)
    return store


def gmv(
    runtime: Runtime, period: Period = "day", by: str | None = None, top: int = 20, shop: str | None = None
) -> dict[str, Any]:
    """GMV placed, paid, refunded, net and quality GMV per period (and slice), and the total."""
    rows, total = gmv_report(_store(runtime, shop), period, by, shop, top=top)
    return {"period": period, "shop": shop, "total": total.to_dict(), "rows": rows}


def funnel(runtime: Runtime, shop: str | None = None) -> dict[str, Any]:
    """Impression → click → order → pay by surface, with live, video and product GPM."""
    store = _store(runtime, shop)
    counts = event_counts(store, shop)
    return {"shop": shop, **gpm(store, counts, shop), "rows": funnel_by_surface(counts)}


def customers(runtime: Runtime, period: Period = "week", shop: str | None = None) -> dict[str, Any]:
    """New vs returning buyers and GMV per period, and the repeat-purchase rate."""
    orders = load_orders(_store(runtime, shop), shop)
    paid = orders.paid > 0
    keys = period_of(np.where(paid, orders.paid_ts, orders.placed_ts), period)
    rows = [{"period": k, **customer_metrics(orders, keys == k)} for k in sorted(set(keys[paid].tolist()))]
    return {"period": period, "shop": shop, "rows": rows}


def live(
    runtime: Runtime, shop: str | None = None, top: int = 20, creator: str | None = None
) -> dict[str, Any]:
    """Per live session, best-selling first: GMV in the session and within 7 days, viewers, watch time,
    conversion, GPM (of one creator's sessions when ``creator`` is given)."""
    store = _store(runtime, shop)
    if creator is not None:
        store.require_known("creators", creator)
    rows = live_sessions(store, load_orders(store, shop), shop)
    if creator is not None:
        rows = [r for r in rows if r["creator"] == creator]
    rows = rows[:top]
    for r in rows:
        r.pop("start_ms")
    return {"shop": shop, "creator": creator, "rows": rows}


def channels(runtime: Runtime, period: Period = "week", shop: str | None = None) -> dict[str, Any]:
    """Self-broadcast vs creator GMV per period with growth, and the private-domain share."""
    store = _store(runtime, shop)
    share = private_domain_share(store, load_orders(store, shop))
    return {"period": period, "shop": shop, **share, "rows": channel_growth(store, period, shop)}


def compass(runtime: Runtime, shop: str, days: int = 30) -> dict[str, Any]:
    """One shop's compass page (罗盘): GMV and quality GMV, funnel, customers, channels, live sessions."""
    return compass_page(_store(runtime, shop), shop, days)
