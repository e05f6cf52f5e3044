"""Funnels and GPM (``domain.md`` §7.2).

- per surface: impressions → clicks → orders → paid orders; CTR = clicks ÷ impressions,
  click→order = orders ÷ clicks, order→pay = paid orders ÷ orders, impression→pay = paid ÷ impressions
- live GPM = GMV paid through live sessions ÷ room entries × 1000; video GPM = GMV paid through videos
  ÷ plays × 1000; product GPM = GMV paid ÷ product impressions × 1000 (all in yuan)
"""

from __future__ import annotations

from xingqu.store import Store

STEPS = ("impression", "click", "order", "pay", "live_enter", "video_play")


def event_counts(
    store: Store, shop_id: str | None = None, since_ms: int | None = None
) -> dict[str, dict[str, int]]:
    """Events per surface and type from the daily rollups (surface "unknown" where the event has none);
    ``since_ms`` counts whole marketplace days from the one it falls in."""
    out: dict[str, dict[str, int]] = {}
    for surface, kind, n in store.rollups.event_counts(STEPS, shop_id, since_ms):
        out.setdefault(surface or "unknown", {})[kind] = n
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
    live_gmv, video_gmv, gmv = (v / 100 for v in store.rollups.paid_by_content_kind(shop_id, since_ms))
    total = lambda k: sum(c.get(k, 0) for c in counts.values())  # noqa: E731
    per_k = lambda g, v: g / v * 1000 if v else None  # noqa: E731
    return {
        "live_gpm": per_k(live_gmv, total("live_enter")),
        "video_gpm": per_k(video_gmv, total("video_play")),
        "product_gpm": per_k(gmv, total("impression")),
    }
