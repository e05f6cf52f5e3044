"""Funnels and GPM (``domain.md`` §7.2).

- per surface: impressions → clicks → orders → paid orders; CTR = clicks ÷ impressions,
  click→order = orders ÷ clicks, order→pay = paid orders ÷ orders, impression→pay = paid ÷ impressions
- live GPM = GMV paid through live sessions ÷ room entries × 1000; video GPM = GMV paid through videos
  ÷ plays × 1000; product GPM = GMV paid ÷ product impressions × 1000 (all in yuan)
"""

from __future__ import annotations

import sqlalchemy as sa

from xingqu.store import Store
from xingqu.store.rollups import day_number, order_placed
from xingqu.store.schema import daily_counts_table, daily_totals_table, order_facts_table

STEPS = ("impression", "click", "order", "pay", "live_enter", "video_play")


def event_counts(
    store: Store, shop_id: str | None = None, since_ms: int | None = None
) -> dict[str, dict[str, int]]:
    """Events per surface and type from the daily rollups (surface "unknown" where the event has none);
    ``since_ms`` counts whole marketplace days from the one it falls in."""
    t = daily_counts_table if shop_id is not None else daily_totals_table
    q = sa.select(t.c.surface, t.c.event_type, sa.func.sum(t.c.n)).where(t.c.event_type.in_(STEPS))
    if shop_id is not None:
        q = q.where(t.c.shop_id == shop_id)
    if since_ms is not None:
        q = q.where(t.c.day >= day_number(since_ms))
    with store.reading() as conn:
        rows = conn.execute(q.group_by(t.c.surface, t.c.event_type)).all()
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
    store: Store, counts: dict[str, dict[str, int]], shop_id: str | None = None, since_ms: int | None = None
) -> dict[str, float | None]:
    """Live, video and product GPM in yuan per 1,000 views (see the module docstring); ``counts`` as
    from ``event_counts`` over the same shop and span."""
    o = order_facts_table
    paid = lambda cond: sa.func.coalesce(sa.func.sum(sa.case((cond, o.c.paid), else_=0)), 0)  # noqa: E731
    q = sa.select(paid(o.c.content_kind == "live"), paid(o.c.content_kind == "video"), paid(o.c.paid > 0))
    if shop_id is not None:
        q = q.where(o.c.shop_id == shop_id)
    if since_ms is not None:
        q = q.where(order_placed() >= since_ms)
    with store.reading() as conn:
        live_gmv, video_gmv, gmv = (int(v) / 100 for v in conn.execute(q).one())
    total = lambda k: sum(c.get(k, 0) for c in counts.values())  # noqa: E731
    per_k = lambda g, v: g / v * 1000 if v else None  # noqa: E731
    return {
        "live_gpm": per_k(live_gmv, total("live_enter")),
        "video_gpm": per_k(video_gmv, total("video_play")),
        "product_gpm": per_k(gmv, total("impression")),
    }
