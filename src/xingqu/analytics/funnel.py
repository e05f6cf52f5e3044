"""Funnels and GPM (``domain.md`` §7.2).

- per surface: impressions → clicks → orders → paid orders; CTR = clicks ÷ impressions,
  click→order = orders ÷ clicks, order→pay = paid orders ÷ orders, impression→pay = paid ÷ impressions
- live GPM = GMV paid through live sessions ÷ room entries × 1000; video GPM = GMV paid through videos
  ÷ plays × 1000; product GPM = GMV paid ÷ product impressions × 1000 (all in yuan)
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from xingqu.analytics.orders import OrderFacts
from xingqu.store import Store
from xingqu.store.schema import TABLES

STEPS = ("impression", "click", "order", "pay", "live_enter", "video_play")


def event_counts(
    store: Store, shop_id: str | None = None, since_ms: int | None = None
) -> dict[str, dict[str, int]]:
    """Events per surface and type (surface "unknown" where the event has none)."""
    e, p = TABLES["events"], TABLES["products"]
    q = sa.select(e.c.surface, e.c.event_type, sa.func.count()).where(e.c.event_type.in_(STEPS))
    if shop_id is not None:
        q = q.join(p, p.c.product_id == e.c.product_id).where(p.c.shop_id == shop_id)
    if since_ms is not None:
        q = q.where(e.c.ts >= since_ms)
    with store.reading() as conn:
        rows = conn.execute(q.group_by(e.c.surface, e.c.event_type)).all()
    out: dict[str, dict[str, int]] = {}
    for surface, kind, n in rows:
        out.setdefault(surface or "unknown", {})[kind] = int(n)
    return out


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def funnel_by_surface(counts: dict[str, dict[str, int]]) -> list[dict[str, object]]:
    """The funnel's counts and rates per surface, plus a total row."""
    rows = []
    total: dict[str, int] = {}
    for surface in sorted(counts):
        c = counts[surface]
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
        rows.append(_funnel_row(surface, c))
    rows.append(_funnel_row("all", total))
    return rows


def _funnel_row(surface: str, c: dict[str, int]) -> dict[str, object]:
    imp, clk, order, pay = (c.get(k, 0) for k in ("impression", "click", "order", "pay"))
    return {
        "surface": surface,
        "impressions": imp,
        "clicks": clk,
        "orders": order,
        "paid_orders": pay,
        "ctr": _ratio(clk, imp),
        "click_to_order": _ratio(order, clk),
        "order_to_pay": _ratio(pay, order),
        "impression_to_pay": _ratio(pay, imp),
    }


def gpm(
    orders: OrderFacts, counts: dict[str, dict[str, int]], live_content: set[str]
) -> dict[str, float | None]:
    """Live, video and product GPM in yuan per 1,000 views (see the module docstring)."""
    total = lambda k: sum(c.get(k, 0) for c in counts.values())  # noqa: E731
    paid = orders.paid > 0
    via_content = np.array([c is not None for c in orders.content_id], dtype=bool)
    is_live = np.array([c in live_content for c in orders.content_id], dtype=bool)
    live_gmv = orders.paid[paid & is_live].sum() / 100
    video_gmv = orders.paid[paid & via_content & ~is_live].sum() / 100
    per_k = lambda g, v: g / v * 1000 if v else None  # noqa: E731
    return {
        "live_gpm": per_k(live_gmv, total("live_enter")),
        "video_gpm": per_k(video_gmv, total("video_play")),
        "product_gpm": per_k(orders.paid[paid].sum() / 100, total("impression")),
    }


def live_content_ids(store: Store) -> set[str]:
    c = TABLES["content"]
    with store.reading() as conn:
        return set(conn.execute(sa.select(c.c.content_id).where(c.c.kind == "live")).scalars())
