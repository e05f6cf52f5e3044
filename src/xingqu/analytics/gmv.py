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

from xingqu.analytics.orders import OrderFacts
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


#: Order attributes a report can be sliced by.
SLICES = ("channel", "shop", "brand", "category", "creator", "content", "surface")


def slice_values(o: OrderFacts, by: str) -> np.ndarray:
    """Each order's value of a slicing dimension (category: its level-1 category); "none" when absent."""
    if by not in SLICES:
        raise ValueError(f"cannot slice by {by!r}; use one of {', '.join(SLICES)}")
    column = {
        "shop": o.shop_id,
        "brand": o.brand_id,
        "creator": o.creator_id,
        "content": o.content_id,
        "surface": o.surface,
        "channel": o.channel,
        "category": o.category,
    }[by]
    if by == "category":
        return np.array([c.split(">")[0] if c else "none" for c in column], dtype=object)
    return np.array(["none" if v is None else str(v) for v in column], dtype=object)


def gmv_by_period(
    o: OrderFacts,
    period: Period = "day",
    by: str | None = None,
    impressions: dict[str, int] | None = None,
    utc_offset_hours: float = 8.0,
    top: int | None = None,
) -> list[dict[str, object]]:
    """One summary per period of payment (orders never paid: of placing), and per slice value when
    ``by`` names a dimension (``top`` keeps the slice values with the most GMV paid overall)."""
    when = np.where(o.paid_ts > 0, o.paid_ts, o.placed_ts)
    keys = period_of(when, period, utc_offset_hours)
    values = slice_values(o, by) if by else None
    kept: list[object] = [None]
    if values is not None:
        totals: dict[str, int] = {}
        for v, amount in zip(values.tolist(), o.paid.tolist(), strict=True):
            totals[v] = totals.get(v, 0) + amount
        kept = sorted(totals, key=lambda v: (-totals[v], v))[: top or None]
    rows: list[dict[str, object]] = []
    for key in sorted(set(keys.tolist())):
        in_period = keys == key
        for value in kept:
            mask = in_period if values is None else in_period & (values == value)
            if value is not None and not mask.any():
                continue
            views = impressions.get(key) if impressions is not None and value is None else None
            row: dict[str, object] = {"period": key}
            if by:
                row[by] = value
            rows.append({**row, **gmv_summary(o.where(mask), views).to_dict()})
    return rows
