"""Self-broadcast vs creators (号店一体 / 商家自播 vs 达人带货) and private-domain share (§7.3, §5).

Per period: GMV paid through the shop's own accounts (self), through creators, and elsewhere; the self
share; each channel's growth over the previous period (GMV_t ÷ GMV_t−1 − 1). Private-domain share =
GMV paid by buyers who follow the account they bought through, are in its fan group, or are members of
the product's shop (relations as stored, plus follow events) ÷ GMV paid.
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from xingqu.analytics.gmv import Period, period_of
from xingqu.analytics.orders import CHANNELS, OrderFacts
from xingqu.store import Store
from xingqu.store.schema import TABLES


def channel_growth(orders: OrderFacts, period: Period = "week") -> list[dict[str, object]]:
    paid = orders.paid > 0
    keys = period_of(orders.paid_ts[paid], period)
    rows: list[dict[str, object]] = []
    prev: dict[str, int] | None = None
    for key in sorted(set(keys.tolist())):
        m = keys == key
        gmv = {ch: int(orders.paid[paid][m & (orders.channel[paid] == ch)].sum()) for ch in CHANNELS}
        total = sum(gmv.values())
        row: dict[str, object] = {
            "period": key,
            **{f"gmv_{ch}": v for ch, v in gmv.items()},
            "gmv_paid": total,
            "self_share": gmv["self"] / total if total else 0.0,
        }
        for ch in CHANNELS:
            row[f"growth_{ch}"] = (gmv[ch] / prev[ch] - 1) if prev and prev[ch] else None
        rows.append(row)
        prev = gmv
    return rows


def private_domain_share(store: Store, orders: OrderFacts) -> dict[str, float | int]:
    """Share of GMV paid by followers / fan-group members of the selling account or members of the shop."""
    r, e, s = TABLES["relations"], TABLES["events"], TABLES["shops"]
    with store.reading() as conn:
        rel = set(conn.execute(sa.select(r.c.user_id, r.c.target_id)).all())
        rel |= set(
            conn.execute(
                sa.select(e.c.user_id, e.c.creator_id).where(
                    e.c.event_type.in_(("follow", "join_fan_group")), e.c.creator_id.is_not(None)
                )
            ).all()
        )
        rel |= set(
            conn.execute(
                sa.select(e.c.user_id, e.c.shop_id).where(
                    e.c.event_type == "join_membership", e.c.shop_id.is_not(None)
                )
            ).all()
        )
        official = dict(conn.execute(sa.select(s.c.shop_id, s.c.official_account_id)).all())
    paid = np.flatnonzero(orders.paid > 0)
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
