"""GMV and quality GMV with their parts (``domain.md`` §7.1, §7.3). Amounts in fen.

Definitions, over a set of orders (the ``order_facts`` rollup, joined to the current catalogue):
- GMV placed  = Σ order amounts, paid or not
- GMV paid    = Σ paid amounts (成交金额)
- refunded    = Σ refunded amounts of those orders (cohort-matched to the order, whenever refunded)
- net GMV     = GMV paid − refunded, over paid orders
- violating   = net GMV of orders whose product is no longer listed (rejected or taken down) or whose
                shop is suspended or closed: sales later found to break the rules
- quality GMV = net GMV − violating (有质量的GMV, proposal of §7.3)
- quality GMV, experience-weighted = Σ_orders net × min(1, score_shop / 4.7) over non-violating orders
- gap         = GMV paid − quality GMV
- refund rate = refunded orders ÷ paid orders; quality refund rate counts only refunds for quality
                or not-as-described; refund share = refunded ÷ GMV paid
- AOV (客单价) = GMV paid ÷ paying users; units = items in paid orders
- GPM         = GMV paid (yuan) ÷ product impressions × 1000

An order belongs to the period of its payment (never paid: of its placing), in marketplace time (UTC+8).
Everything is one SQL aggregate over the rollups, so a report never reads the event log.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any, Literal

import numpy as np

from xingqu.store import Store
from xingqu.store.rollups import day_number, period_start

SCORE_BAR = 4.7
Period = Literal["day", "week", "month"]
PERIODS = ("day", "week", "month")
#: Order attributes a report can be sliced by.
SLICES = ("channel", "shop", "brand", "category", "creator", "content", "surface")
_EPOCH = date(1970, 1, 1)


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


def period_label(day: int) -> str:
    """A period's start day as an ISO date."""
    return (_EPOCH + timedelta(days=int(day))).isoformat()


def period_of(ts_ms: np.ndarray, period: Period) -> np.ndarray:
    """Each UTC time's period start in marketplace time, as ISO dates (the labels reports use)."""
    days = day_number(np.asarray(ts_ms, dtype=np.int64))
    return (np.datetime64("1970-01-01") + period_start(days, period).astype("timedelta64[D]")).astype(str)


def _summary(m: dict[str, Any], impressions: int | None) -> GmvSummary:
    n_paid, gmv_paid, users = int(m["paid_orders"]), int(m["gmv_paid"]), int(m["paying_users"])
    net, violating = int(m["net_gmv"]), int(m["violating"])
    return GmvSummary(
        orders=int(m["orders"]),
        paid_orders=n_paid,
        paying_users=users,
        units=int(m["units"]),
        gmv_placed=int(m["gmv_placed"]),
        gmv_paid=gmv_paid,
        refunded=int(m["refunded"]),
        net_gmv=net,
        violating=violating,
        quality_gmv=net - violating,
        quality_gmv_weighted=float(m["weighted"]),
        gap=gmv_paid - (net - violating),
        refund_rate=int(m["refunded_orders"]) / n_paid if n_paid else 0.0,
        quality_refund_rate=int(m["quality_refunded_orders"]) / n_paid if n_paid else 0.0,
        refund_share=int(m["refunded"]) / gmv_paid if gmv_paid else 0.0,
        aov=gmv_paid / users if users else 0.0,
        impressions=impressions,
    )


def gmv_summary(store: Store, shop_id: str | None = None, since_ms: int | None = None) -> GmvSummary:
    """The module's definitions over every order (or one shop's, or those placed since a time), with
    product impressions over the same span."""
    m = store.rollups.order_summary(shop_id, since_ms, SCORE_BAR)
    views = store.rollups.impressions(shop_id=shop_id, since_ms=since_ms).get((None, None))
    return _summary(m, views)


#: Slices with a handful of values: ranked for ``top`` in Python, from the rows already read.
FEW_VALUES = ("channel", "surface")
#: Slices whose impressions the daily rollups count (so their rows get a GPM).
COUNTED = ("channel", "surface", "shop")
_ADDITIVE = (
    "orders",
    "paid_orders",
    "units",
    "gmv_placed",
    "gmv_paid",
    "refunded",
    "net_gmv",
    "violating",
    "weighted",
    "refunded_orders",
    "quality_refunded_orders",
)


def gmv_report(
    store: Store,
    period: Period = "day",
    by: str | None = None,
    shop_id: str | None = None,
    since_ms: int | None = None,
    top: int | None = None,
    day_rollups: bool = True,
) -> tuple[list[dict[str, object]], GmvSummary]:
    """One summary per period (and per slice value when ``by`` names a dimension; ``top`` keeps the
    slice values with the most GMV paid overall), in period order, with GPM where impressions are
    counted for that slice; and the summary over everything, from the same scan of the orders (only
    its distinct paying users are counted apart). The whole marketplace by period, or by period and
    channel, is read from the day rollups unless ``day_rollups`` is false (same figures, from a scan)."""
    if period not in PERIODS:
        raise ValueError(f"unknown period {period!r}; use day, week or month")
    if by is not None and by not in SLICES:
        raise ValueError(f"cannot slice by {by!r}; use one of {', '.join(SLICES)}")
    if day_rollups and shop_id is None and since_ms is None and by in (None, "channel"):
        rows = _day_rollup_rows(store, period, by)
        return _report(store, rows, period, by, None, None, top, store.rollups.paying_users())
    filtered = by is not None and bool(top) and by not in FEW_VALUES
    rows = store.rollups.order_period_rows(
        period, by, shop_id, since_ms, SCORE_BAR, top if filtered else None
    )
    paying_users = store.rollups.paying_users(shop_id, since_ms)
    if filtered:  # the rows hold the top values only: the total needs a scan of its own
        out = _report(store, rows, period, by, shop_id, since_ms, top, paying_users)[0]
        return out, gmv_summary(store, shop_id, since_ms)
    return _report(store, rows, period, by, shop_id, since_ms, top, paying_users)


def _report(
    store: Store,
    rows: list[dict[str, Any]],
    period: Period,
    by: str | None,
    shop_id: str | None,
    since_ms: int | None,
    top: int | None,
    paying_users: int,
) -> tuple[list[dict[str, object]], GmvSummary]:
    """Aggregated rows (keyed by period_day and slice) → report rows with GPM, and their total."""
    total = {k: sum(r[k] for r in rows) for k in _ADDITIVE}
    if by is not None and top and by in FEW_VALUES:
        by_value: dict[object, int] = {}
        for r in rows:
            by_value[r["slice"]] = by_value.get(r["slice"], 0) + int(r["gmv_paid"])
        kept = set(sorted(by_value, key=lambda v: (-by_value[v], str(v)))[:top])
        rows = [r for r in rows if r["slice"] in kept]
    counted = by is None or by in COUNTED
    views = store.rollups.impressions(period, by if by in COUNTED else None, shop_id, since_ms)
    out: list[dict[str, object]] = []
    for r in sorted(rows, key=lambda r: (r["period_day"], str(r.get("slice", "")))):
        slice_value = r.get("slice")
        n = views.get((int(r["period_day"]), slice_value)) if counted else None
        row: dict[str, object] = {"period": period_label(r["period_day"])}
        if by:
            row[by] = slice_value
        out.append({**row, **_summary(r, n).to_dict()})
    all_views = sum(views.values()) if views else None
    return out, _summary({**total, "paying_users": paying_users}, all_views)


def _day_rollup_rows(store: Store, period: Period, by: str | None) -> list[dict[str, Any]]:
    """``gmv_report``'s aggregates for the whole marketplace by period (and channel) from the day
    rollups (``Rollups.day_rollup_rows``): the same definitions as the scan of the orders."""
    rows = store.rollups.day_rollup_rows(period, by, SCORE_BAR)
    for r in rows:
        for c in _ADDITIVE:
            r[c] = int(r[c]) if c != "weighted" else r[c]
    return rows


def gmv_by_period(
    store: Store,
    period: Period = "day",
    by: str | None = None,
    shop_id: str | None = None,
    since_ms: int | None = None,
    top: int | None = None,
) -> list[dict[str, object]]:
    """The rows of ``gmv_report``."""
    return gmv_report(store, period, by, shop_id, since_ms, top)[0]
