"""Self-broadcast vs creators (号店一体 / 商家自播 vs 达人带货) and private-domain share (§7.3, §5).

Per period: GMV paid through the shop's own accounts (self), through creators, and elsewhere; the self
share; each channel's growth over the previous period (GMV_t ÷ GMV_t−1 − 1). Private-domain share =
GMV paid by buyers who follow the account they bought through, are in its fan group, or are members of
the product's shop (relations as stored, plus those follow events created) ÷ GMV paid.
"""

from __future__ import annotations

import numpy as np

from xingqu.analytics.gmv import Period, gmv_by_period
from xingqu.analytics.orders import CHANNELS, OrderFacts
from xingqu.store import Store


def channel_growth(
    store: Store, period: Period = "week", shop_id: str | None = None, since_ms: int | None = None
) -> list[dict[str, object]]:
    """GMV paid per period and channel, the self-broadcast share, and each channel's growth."""
    gmv: dict[str, dict[str, int]] = {}
    for r in gmv_by_period(store, period, "channel", shop_id, since_ms):
        gmv.setdefault(str(r["period"]), dict.fromkeys(CHANNELS, 0))[str(r["channel"])] = int(r["gmv_paid"])  # type: ignore[call-overload]
    rows: list[dict[str, object]] = []
    prev: dict[str, int] | None = None
    for key in sorted(gmv):
        cur = gmv[key]
        total = sum(cur.values())
        row: dict[str, object] = {
            "period": key,
            **{f"gmv_{ch}": v for ch, v in cur.items()},
            "gmv_paid": total,
            "self_share": cur["self"] / total if total else 0.0,
        }
        for ch in CHANNELS:
            row[f"growth_{ch}"] = (cur[ch] / prev[ch] - 1) if prev and prev[ch] else None
        rows.append(row)
        prev = cur
    return rows


def private_domain_share(store: Store, orders: OrderFacts) -> dict[str, float | int]:
    """Share of GMV paid by followers / fan-group members of the selling account (or of the shop's
    official account) or members of the shop, per the relations table (which follow events extend)."""
    paid = np.flatnonzero(orders.paid > 0)
    buyers = sorted({str(u) for u in orders.user_id[paid]})
    shops = sorted({str(x) for x in orders.shop_id[paid] if x is not None})
    rel = store.catalogue.relations_of(buyers)
    official = store.catalogue.official_accounts(shops)
    private = np.array(
        [
            (u, c) in rel or (u, sh) in rel or (u, official.get(sh)) in rel
            for u, c, sh in zip(
                orders.user_id[paid], orders.creator_id[paid], orders.shop_id[paid], strict=True
            )
        ],
        dtype=bool,
    )
    gmv = int(orders.paid[paid].sum())
    gmv_private = int(orders.paid[paid][private].sum()) if len(paid) else 0
    return {"gmv_paid": gmv, "gmv_private": gmv_private, "private_share": gmv_private / gmv if gmv else 0.0}
