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
import sqlalchemy as sa

from xingqu.domain.vocab import BLOCKED_SHOP_STATUSES
from xingqu.store import Store
from xingqu.store.rollups import day_number, order_day, order_placed
from xingqu.store.schema import (
    TABLES,
    buyer_days_table,
    daily_counts_table,
    daily_totals_table,
    order_days_table,
    order_facts_table,
)

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


def period_start(day: Any, period: Period) -> Any:
    """The first day of the day's period: itself, its Monday, or the 1st of its month, for SQL
    expressions and numpy arrays of day numbers alike.

    Integer arithmetic only (the civil-from-days algorithm for months), so SQLite, PostgreSQL and numpy
    agree.
    """
    if period == "day":
        return day
    if period == "week":
        return day - (day + 3) % 7  # 1970-01-01 was a Thursday
    if period != "month":
        raise ValueError(f"unknown period {period!r}; use day, week or month")
    z = day + 719_468
    doe = z - (z // 146_097) * 146_097  # day of the 400-year era
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)  # day of the March-based year
    mp = (5 * doy + 2) // 153
    return day - doy + (153 * mp + 2) // 5


def period_of(ts_ms: np.ndarray, period: Period) -> np.ndarray:
    """Each UTC time's period start in marketplace time, as ISO dates (the labels reports use)."""
    days = day_number(np.asarray(ts_ms, dtype=np.int64))
    return (np.datetime64("1970-01-01") + period_start(days, period).astype("timedelta64[D]")).astype(str)


def _slice_column(store: Store, by: str) -> sa.ColumnElement[Any]:
    o, p = order_facts_table, TABLES["products"]
    if by == "category":  # level-1 category
        find = sa.func.instr if store.dialect.name == "sqlite" else sa.func.strpos
        cut = find(p.c.category, ">")
        col: sa.ColumnElement[Any] = sa.case(
            (cut > 0, sa.func.substr(p.c.category, 1, cut - 1)), else_=p.c.category
        )
    else:
        col = {
            "channel": o.c.channel,
            "shop": o.c.shop_id,
            "brand": p.c.brand_id,
            "creator": o.c.creator_id,
            "content": o.c.content_id,
            "surface": o.c.surface,
        }[by]
    return sa.func.coalesce(col, "none")


def _not_in_good_standing() -> sa.ColumnElement[bool]:
    """An order's product is no longer listed or its shop is suspended or closed: by membership in those
    (few) products and shops, far cheaper than a join per order."""
    o, p, s = order_facts_table, TABLES["products"], TABLES["shops"]
    not_listed = sa.select(p.c.product_id).where(sa.or_(p.c.status.is_(None), p.c.status != "listed"))
    blocked = sa.select(s.c.shop_id).where(s.c.status.in_(BLOCKED_SHOP_STATUSES))
    return sa.or_(
        o.c.product_id.in_(not_listed.scalar_subquery()), o.c.shop_id.in_(blocked.scalar_subquery())
    )


def _weight() -> sa.ColumnElement[float]:
    """The experience weight of the joined shop: min(1, score ÷ 4.7), 1 when unscored."""
    s = TABLES["shops"]
    return sa.case(
        (sa.or_(s.c.experience_score.is_(None), s.c.experience_score >= SCORE_BAR), 1.0),
        else_=s.c.experience_score / SCORE_BAR,
    )


def _summary_columns() -> list[sa.ColumnElement[Any]]:
    o = order_facts_table
    paid = o.c.paid > 0
    bad = _not_in_good_standing()
    ok = sa.not_(bad)
    net = o.c.paid - o.c.refunded
    weight = _weight()
    total = lambda cond, value=1: sa.func.coalesce(sa.func.sum(sa.case((cond, value), else_=0)), 0)  # noqa: E731
    return [
        sa.func.count().label("orders"),
        total(paid).label("paid_orders"),
        sa.func.count(sa.distinct(sa.case((paid, o.c.user_id)))).label("paying_users"),
        total(paid, sa.func.coalesce(o.c.units, 1)).label("units"),
        sa.func.coalesce(sa.func.sum(o.c.placed), 0).label("gmv_placed"),
        sa.func.coalesce(sa.func.sum(o.c.paid), 0).label("gmv_paid"),
        sa.func.coalesce(sa.func.sum(o.c.refunded), 0).label("refunded"),
        total(paid, net).label("net_gmv"),
        total(sa.and_(paid, bad), net).label("violating"),
        sa.func.coalesce(sa.func.sum(sa.case((sa.and_(paid, ok), net * weight), else_=0.0)), 0.0).label(
            "weighted"
        ),
        total(sa.and_(paid, o.c.refunded > 0)).label("refunded_orders"),
        total(sa.and_(paid, o.c.quality_refunded > 0)).label("quality_refunded_orders"),
    ]


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


def _order_query(
    columns: list[sa.ColumnElement[Any]], shop_id: str | None, since_ms: int | None, products: bool = False
) -> sa.Select[Any]:
    """Orders joined to their shop (for its score) and, when a slice needs them, their product."""
    o, p, s = order_facts_table, TABLES["products"], TABLES["shops"]
    source = o.outerjoin(s, s.c.shop_id == o.c.shop_id)
    if products:
        source = source.outerjoin(p, p.c.product_id == o.c.product_id)
    q = sa.select(*columns).select_from(source)
    if shop_id is not None:
        q = q.where(o.c.shop_id == shop_id)
    if since_ms is not None:
        q = q.where(order_placed() >= since_ms)
    return q


def impressions(
    store: Store,
    period: Period | None = None,
    by: str | None = None,
    shop_id: str | None = None,
    since_ms: int | None = None,
    event_type: str = "impression",
) -> dict[tuple[int | None, str | None], int]:
    """Product impressions (or another event type) per (period start day, slice value) from the daily
    rollups; the slice is channel, surface or shop (other slices are not counted per day)."""
    table = daily_counts_table if shop_id is not None or by == "shop" else daily_totals_table
    day = table.c.day
    key_period = period_start(day, period) if period else sa.literal(None)
    column = {"channel": "channel", "surface": "surface", "shop": "shop_id"}.get(by or "")
    key_slice = table.c[column] if column else sa.literal(None)
    q = sa.select(key_period, key_slice, sa.func.sum(table.c.n)).where(table.c.event_type == event_type)
    if shop_id is not None:
        q = q.where(table.c.shop_id == shop_id)
    if since_ms is not None:
        q = q.where(day >= day_number(since_ms))
    q = q.group_by(key_period, key_slice)
    with store.reading() as conn:
        return {
            (None if d is None else int(d), None if v is None else (v or "none")): int(n)
            for d, v, n in conn.execute(q)
        }


def gmv_summary(store: Store, shop_id: str | None = None, since_ms: int | None = None) -> GmvSummary:
    """The module's definitions over every order (or one shop's, or those placed since a time), with
    product impressions over the same span."""
    q = _order_query(_summary_columns(), shop_id, since_ms)
    with store.reading() as conn:
        m = dict(conn.execute(q).one()._mapping)
    views = impressions(store, shop_id=shop_id, since_ms=since_ms).get((None, None))
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
    o = order_facts_table
    key = period_start(order_day(), period).label("period_day")
    cols = [key]
    value = None
    if by is not None:
        value = _slice_column(store, by).label("slice")
        cols.append(value)
    products = by in ("brand", "category")
    q = _order_query([*cols, *_summary_columns()], shop_id, since_ms, products)
    buyers = sa.select(o.c.user_id).where(o.c.paid > 0).group_by(o.c.user_id)  # on the buyer index
    if shop_id is not None:
        buyers = buyers.where(o.c.shop_id == shop_id)
    if since_ms is not None:
        buyers = buyers.where(order_placed() >= since_ms)
    users_q = sa.select(sa.func.count()).select_from(buyers.subquery())
    if day_rollups and shop_id is None and since_ms is None and by in (None, "channel"):
        rows = _day_rollup_rows(store, period, by)
        with store.reading() as conn:
            paying_users = int(conn.execute(users_q).scalar_one())
        return _report(store, rows, period, by, None, None, top, paying_users)
    filtered = value is not None and bool(top) and by not in FEW_VALUES
    with store.reading() as conn:
        if filtered:
            ranked = (
                _order_query([value, sa.func.sum(o.c.paid).label("g")], shop_id, since_ms, products)
                .group_by(value)
                .order_by(sa.desc("g"), value)
                .limit(top)
            )
            q = q.where(value.in_([v for v, _ in conn.execute(ranked)]))
        rows = [dict(r._mapping) for r in conn.execute(q.group_by(*cols))]
        paying_users = int(conn.execute(users_q).scalar_one())
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
    views = impressions(store, period, by if by in COUNTED else None, shop_id, since_ms)
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
    rollups: additive parts from ``order_days``, buyers from ``buyer_days``, and the parts that hang on
    today's standing (violating; experience weights) from the few orders of goods and shops not in good
    standing plus one weight per shop — the same definitions as the scan of ``order_facts``."""
    d, b, o, s = order_days_table, buyer_days_table, order_facts_table, TABLES["shops"]
    weight = _weight()
    key = period_start(d.c.day, period).label("period_day")
    keys: list[sa.ColumnElement[Any]] = [key] + ([d.c.channel.label("slice")] if by else [])
    sums = [sa.func.sum(d.c[c]).label(c) for c in ("orders", "paid_orders", "units")]
    sums += [
        sa.func.sum(d.c.placed).label("gmv_placed"),
        sa.func.sum(d.c.paid).label("gmv_paid"),
        sa.func.sum(d.c.refunded).label("refunded"),
        sa.func.sum(d.c.net).label("net_gmv"),
        sa.func.sum(d.c.net * weight).label("weighted_all"),
        sa.func.sum(d.c.refunded_orders).label("refunded_orders"),
        sa.func.sum(d.c.quality_refunded_orders).label("quality_refunded_orders"),
    ]
    main = (
        sa.select(*keys, *sums)
        .select_from(d.outerjoin(s, s.c.shop_id == d.c.shop_id))
        .where(d.c.orders != 0)
        .group_by(*keys)
    )
    bkey = period_start(b.c.day, period).label("period_day")
    bkeys: list[sa.ColumnElement[Any]] = [bkey] + ([b.c.channel.label("slice")] if by else [])
    # a buyer has one row a day and channel: counting rows is counting buyers, unless days are pooled
    n_rows = sa.func.count() if period == "day" and by else sa.func.count(sa.distinct(b.c.user_id))
    buyers = sa.select(*bkeys, n_rows).where(b.c.paid_orders > 0).group_by(*bkeys)
    okey = period_start(order_day(), period).label("period_day")
    okeys: list[sa.ColumnElement[Any]] = [okey] + ([o.c.channel.label("slice")] if by else [])
    net = o.c.paid - o.c.refunded
    bad = (
        sa.select(*okeys, sa.func.sum(net), sa.func.sum(net * weight))
        .select_from(o.outerjoin(s, s.c.shop_id == o.c.shop_id))
        .where(o.c.paid > 0, _not_in_good_standing())
        .group_by(*okeys)
    )
    with store.reading() as conn:
        rows = [dict(r._mapping) for r in conn.execute(main)]
        n_buyers = {tuple(r[:-1]): int(r[-1]) for r in conn.execute(buyers)}
        violating = {tuple(r[:-2]): (int(r[-2]), float(r[-1])) for r in conn.execute(bad)}
    for r in rows:
        k = (r["period_day"], r["slice"]) if by else (r["period_day"],)
        v_net, v_weighted = violating.get(k, (0, 0.0))
        r["paying_users"] = n_buyers.get(k, 0)
        r["violating"] = v_net
        r["weighted"] = float(r.pop("weighted_all")) - v_weighted
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
