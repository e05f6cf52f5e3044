"""New and returning customers, repeat purchase (``domain.md`` §7.1, §7.3).

An order is a new customer's when it is the user's first paid order in that shop in the whole log;
later paid orders in the shop are returning customers'. Over a window:
- new-customer share by count = new (user, shop) buyers ÷ all (user, shop) buyers
- new-customer share by GMV  = GMV paid of new customers' first orders ÷ GMV paid
- repeat-purchase rate       = users with ≥ 2 paid orders ÷ users with ≥ 1
"""

from __future__ import annotations

import numpy as np

from xingqu.analytics.orders import OrderFacts


def first_order_flags(orders: OrderFacts) -> np.ndarray:
    """True for each paid order that is its user's first paid order in its shop."""
    paid = np.flatnonzero(orders.paid > 0)
    keys = [f"{u}\x00{s}" for u, s in zip(orders.user_id[paid], orders.shop_id[paid], strict=True)]
    order = np.lexsort((orders.order_id[paid].astype(str), orders.paid_ts[paid]))
    seen: set[str] = set()
    flags = np.zeros(len(orders), dtype=bool)
    for k in order:
        if keys[k] not in seen:
            seen.add(keys[k])
            flags[paid[k]] = True
    return flags


def customer_metrics(orders: OrderFacts, window: np.ndarray | None = None) -> dict[str, float | int]:
    """New vs returning buyers and GMV, and the repeat-purchase rate, over ``window`` (a mask of orders;
    first orders are judged against the whole log)."""
    first = first_order_flags(orders)
    mask = (orders.paid > 0) if window is None else (orders.paid > 0) & window
    pairs = {(u, s) for u, s in zip(orders.user_id[mask], orders.shop_id[mask], strict=True)}
    new_pairs = {
        (u, s) for u, s in zip(orders.user_id[mask & first], orders.shop_id[mask & first], strict=True)
    }
    gmv = int(orders.paid[mask].sum())
    gmv_new = int(orders.paid[mask & first].sum())
    users, counts = np.unique(orders.user_id[mask].astype(str), return_counts=True)
    return {
        "buyers": len(pairs),
        "new_buyers": len(new_pairs),
        "returning_buyers": len(pairs) - len(new_pairs),
        "new_share_by_count": len(new_pairs) / len(pairs) if pairs else 0.0,
        "gmv_paid": gmv,
        "gmv_new": gmv_new,
        "gmv_returning": gmv - gmv_new,
        "new_share_by_gmv": gmv_new / gmv if gmv else 0.0,
        "repeat_purchase_rate": float((counts >= 2).sum() / len(users)) if len(users) else 0.0,
    }
