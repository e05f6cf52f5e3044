"""GMV and quality GMV with their parts (``domain.md`` §7.1, §7.3). Amounts in fen.

Definitions, over a set of orders:
- GMV placed  = Σ order amounts, paid or not
- GMV paid    = Σ paid amounts (成交金额)
- refunded    = Σ refunded amounts of those orders (cohort-matched to the order, whenever refunded)
- net GMV     = GMV paid − refunded
- violating   = net GMV of orders whose product is no longer listed (rejected or taken down) or whose
                shop is suspended or closed: sales later found to break the rules
- quality GMV = net GMV − violating (有质量的GMV, proposal of §7.3)
- quality GMV, experience-weighted = Σ_shops quality GMV_shop × min(1, score_shop / 4.7)
- gap         = GMV paid − quality GMV
- refund rate = refunded orders ÷ paid orders; quality refund rate counts only refunds for quality
                or not-as-described; refund share = refunded ÷ GMV paid
- AOV (客单价) = GMV paid ÷ paying users; units = items in paid orders
- GPM         = GMV paid ÷ product impressions × 1000
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import sqlalchemy as sa

from xingqu.analytics.orders import CHANNELS, OrderFacts
from xingqu.store import Store
from xingqu.store.schema import TABLES

DAY_MS = 86_400_000
SCORE_BAR = 4.7
Period = Literal["day", "week", "month"]


@dataclass(frozen=True)
class GmvSummary:
    orders: int
    paid_orders: int
    paying_users: int
    units: int
    gmv_placed: int
    gmv_paid: int
    refunded: int
    net_gmv: int
    violating: int
    quality_gmv: int
    quality_gmv_weighted: float
    gap: int
    refund_rate: float
    quality_refund_rate: float
    refund_share: float
    aov: float
    impressions: int | None = None

    @property
    def gpm(self) -> float | None:
        """GMV paid (yuan) per 1,000 product impressions."""
        if not self.impressions:
            return None
        return self.gmv_paid / 100 / self.impressions * 1000

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "gpm": self.gpm}


def gmv_summary(o: OrderFacts, impressions: int | None = None) -> GmvSummary:
    """The module's definitions applied to a set of orders."""
    paid = o.paid > 0
    net = o.paid - o.refunded
    violating = int(net[paid & ~o.product_ok].sum())
    quality = int(net[paid].sum()) - violating
    good = paid & o.product_ok
    weights = np.minimum(1.0, np.nan_to_num(o.shop_score, nan=SCORE_BAR) / SCORE_BAR)
    n_paid = int(paid.sum())
    paying_users = len(set(o.user_id[paid].tolist()))
    gmv_paid = int(o.paid.sum())
    return GmvSummary(
        orders=len(o),
        paid_orders=n_paid,
        paying_users=paying_users,
        units=int(o.units[paid].sum()),
        gmv_placed=int(o.placed.sum()),
        gmv_paid=gmv_paid,
        refunded=int(o.refunded.sum()),
        net_gmv=int(net[paid].sum()),
        violating=violating,
        quality_gmv=quality,
        quality_gmv_weighted=float((net[good] * weights[good]).sum()),
        gap=gmv_paid - quality,
        refund_rate=float((o.refunded[paid] > 0).sum() / n_paid) if n_paid else 0.0,
        quality_refund_rate=float((o.quality_refunded[paid] > 0).sum() / n_paid) if n_paid else 0.0,
        refund_share=float(o.refunded.sum() / gmv_paid) if gmv_paid else 0.0,
        aov=gmv_paid / paying_users if paying_users else 0.0,
        impressions=impressions,
    )


def period_of(ts_ms: np.ndarray, period: Period, utc_offset_hours: float = 8.0) -> np.ndarray:
    """Each time's period start (local date, ISO text), in the marketplace's time zone (UTC+8 default)."""
    local = (ts_ms + int(utc_offset_hours * 3_600_000)).astype("datetime64[ms]")
    day = local.astype("datetime64[D]")
    if period == "day":
        start = day
    elif period == "week":
        days = day.astype(np.int64)
        start = (days - (days + 3) % 7).astype("datetime64[D]")  # back to Monday (1970-01-01 was a Thursday)
    elif period == "month":
        start = local.astype("datetime64[M]").astype("datetime64[D]")
    else:
        raise ValueError(f"unknown period {period!r}; use day, week or month")
    return start.astype(str)


def impressions_by_period(
    store: Store, period: Period, utc_offset_hours: float = 8.0, shop_id: str | None = None
) -> dict[str, int]:
    """Product impressions per period (counted per local day in SQL, then rolled up)."""
    e, p = TABLES["events"], TABLES["products"]
    offset = int(utc_offset_hours * 3_600_000)
    day = sa.cast((e.c.ts + offset) / DAY_MS, sa.BigInteger)
    q = sa.select(day, sa.func.count()).where(e.c.event_type == "impression", e.c.product_id.is_not(None))
    if shop_id is not None:
        q = q.join(p, p.c.product_id == e.c.product_id).where(p.c.shop_id == shop_id)
    with store.reading() as conn:
        rows = conn.execute(q.group_by(day)).all()
    out: dict[str, int] = {}
    for d, n in rows:
        key = str(period_of(np.array([int(d) * DAY_MS - offset]), period, utc_offset_hours)[0])
        out[key] = out.get(key, 0) + int(n)
    return out


def gmv_by_period(
    o: OrderFacts,
    period: Period = "day",
    by_channel: bool = False,
    impressions: dict[str, int] | None = None,
    utc_offset_hours: float = 8.0,
) -> list[dict[str, object]]:
    """One summary per period of payment (and per channel), orders never paid by placing time."""
    when = np.where(o.paid_ts > 0, o.paid_ts, o.placed_ts)
    keys = period_of(when, period, utc_offset_hours)
    rows: list[dict[str, object]] = []
    for key in sorted(set(keys.tolist())):
        in_period = keys == key
        for channel in CHANNELS if by_channel else (None,):
            mask = in_period if channel is None else in_period & (o.channel == channel)
            if channel is not None and not mask.any():
                continue
            views = impressions.get(key) if impressions is not None and channel is None else None
            s = gmv_summary(o.where(mask), views)
            rows.append({"period": key, **({"channel": channel} if channel else {}), **s.to_dict()})
    return rows
