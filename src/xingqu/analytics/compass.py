"""One shop's compass page (罗盘): every shop metric of this package over its last N marketplace days."""

from __future__ import annotations

from xingqu.analytics.channels import channel_growth, private_domain_share
from xingqu.analytics.customers import customer_metrics
from xingqu.analytics.funnel import event_counts, funnel_by_surface, gpm
from xingqu.analytics.gmv import gmv_summary
from xingqu.analytics.live import live_sessions
from xingqu.analytics.orders import load_orders
from xingqu.store import Store
from xingqu.store.rollups import DAY_MS, MARKET_UTC_OFFSET_MS


def window_start(store: Store, days: int) -> int | None:
    """UTC ms at which the last ``days`` marketplace days with events begin (None with no events)."""
    last = store.rollups.last_day()
    return None if last is None else (last - days + 1) * DAY_MS - MARKET_UTC_OFFSET_MS


def compass_page(store: Store, shop_id: str, days: int = 30) -> dict[str, object]:
    """GMV and quality GMV with GPM, funnel by surface, new vs returning customers (first orders judged
    against the shop's whole history), channels per week, private-domain share and top live sessions."""
    since = window_start(store, days)
    history = load_orders(store, shop_id)
    window = history.placed_ts >= since if since is not None else None
    orders = history if window is None else history.where(window)
    counts = event_counts(store, shop_id, since)
    return {
        "shop": shop_id,
        "days": days,
        "gmv": gmv_summary(store, shop_id, since).to_dict(),
        "gpm": gpm(store, counts, shop_id, since),
        "funnel": funnel_by_surface(counts),
        "customers": customer_metrics(history, window),
        "channels": channel_growth(store, "week", shop_id, since),
        "private_domain": private_domain_share(store, orders),
        "live": [
            {k: v for k, v in r.items() if k != "start_ms"}
            for r in live_sessions(store, orders, shop_id)[:10]
        ],
    }
