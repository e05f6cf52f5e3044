"""Reads of the rollups (``xingqu.store.rollups``) that reports and governance make: order facts and
their aggregates, daily event counts, live viewers. Every one is SQL over the rollups (joined to the
current catalogue where a figure hangs on today's standing), so no report scans the event log.

What the figures mean (GMV, quality GMV, GPM…) is defined in ``xingqu.analytics``; these queries compute
the sums those definitions are made of, under the same names.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from xingqu.domain.vocab import BLOCKED_SHOP_STATUSES, SERVABLE_PRODUCT_STATUSES
from xingqu.store.catalogue import listed_in_good_standing
from xingqu.store.repository import Repository
from xingqu.store.rollups import day_number, order_day, order_placed, period_start
from xingqu.store.schema import (
    TABLES,
    buyer_days_table,
    daily_counts_table,
    daily_totals_table,
    live_viewers_table,
    order_days_table,
    order_facts_table,
)

#: Ids per ``IN (…)`` list of a chunked lookup.
_CHUNK = 5_000


def _not_in_good_standing() -> sa.ColumnElement[bool]:
    """An order's product is no longer listed or its shop is suspended or closed: by membership in those
    (few) products and shops, far cheaper than a join per order."""
    o, p, s = order_facts_table, TABLES["products"], TABLES["shops"]
    not_listed = sa.select(p.c.product_id).where(
        sa.or_(p.c.status.is_(None), p.c.status.not_in(SERVABLE_PRODUCT_STATUSES))
    )
    blocked = sa.select(s.c.shop_id).where(s.c.status.in_(BLOCKED_SHOP_STATUSES))
    return sa.or_(
        o.c.product_id.in_(not_listed.scalar_subquery()), o.c.shop_id.in_(blocked.scalar_subquery())
    )


def _weight(score_bar: float) -> sa.ColumnElement[float]:
    """The experience weight of the joined shop: min(1, score ÷ ``score_bar``), 1 when unscored."""
    s = TABLES["shops"]
    return sa.case(
        (sa.or_(s.c.experience_score.is_(None), s.c.experience_score >= score_bar), 1.0),
        else_=s.c.experience_score / score_bar,
    )


def _summary_columns(score_bar: float) -> list[sa.ColumnElement[Any]]:
    o = order_facts_table
    paid = o.c.paid > 0
    bad = _not_in_good_standing()
    ok = sa.not_(bad)
    net = o.c.paid - o.c.refunded
    weight = _weight(score_bar)
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


class Rollups(Repository):
    """Aggregates over the rollup tables; ``score_bar`` is the experience score at which an order's
    quality GMV counts in full (``xingqu.analytics.gmv.SCORE_BAR``)."""

    def _slice_column(self, by: str) -> sa.ColumnElement[Any]:
        o, p = order_facts_table, TABLES["products"]
        if by == "category":  # level-1 category
            find = sa.func.instr if self._store.dialect.name == "sqlite" else sa.func.strpos
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

    # -- order aggregates -------------------------------------------------------------------------

    def order_summary(self, shop_id: str | None, since_ms: int | None, score_bar: float) -> dict[str, Any]:
        """The summary sums over every order (or one shop's, or those placed since a time): orders,
        paid_orders, paying_users, units, gmv_placed, gmv_paid, refunded, net_gmv, violating, weighted,
        refunded_orders, quality_refunded_orders."""
        q = _order_query(_summary_columns(score_bar), shop_id, since_ms)
        with self._conn(None) as conn:
            return dict(conn.execute(q).one()._mapping)

    def paying_users(self, shop_id: str | None = None, since_ms: int | None = None) -> int:
        """Distinct users with a paid order (of one shop, placed since a time)."""
        o = order_facts_table
        buyers = sa.select(o.c.user_id).where(o.c.paid > 0).group_by(o.c.user_id)  # on the buyer index
        if shop_id is not None:
            buyers = buyers.where(o.c.shop_id == shop_id)
        if since_ms is not None:
            buyers = buyers.where(order_placed() >= since_ms)
        with self._conn(None) as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(buyers.subquery())).scalar_one())

    def order_period_rows(
        self,
        period: str,
        by: str | None,
        shop_id: str | None,
        since_ms: int | None,
        score_bar: float,
        top: int | None = None,
    ) -> list[dict[str, Any]]:
        """``order_summary``'s sums per period start day (``period_day``) and slice value (``slice``,
        when ``by`` names one), from a scan of the orders; with ``top``, of the ``top`` slice values with
        the most GMV paid only."""
        o = order_facts_table
        key = period_start(order_day(), period).label("period_day")
        cols: list[sa.ColumnElement[Any]] = [key]
        value = None
        if by is not None:
            value = self._slice_column(by).label("slice")
            cols.append(value)
        products = by in ("brand", "category")
        q = _order_query([*cols, *_summary_columns(score_bar)], shop_id, since_ms, products)
        with self._conn(None) as conn:
            if value is not None and top:
                ranked = (
                    _order_query([value, sa.func.sum(o.c.paid).label("g")], shop_id, since_ms, products)
                    .group_by(value)
                    .order_by(sa.desc("g"), value)
                    .limit(top)
                )
                q = q.where(value.in_([v for v, _ in conn.execute(ranked)]))
            return [dict(r._mapping) for r in conn.execute(q.group_by(*cols))]

    def day_rollup_rows(self, period: str, by: str | None, score_bar: float) -> list[dict[str, Any]]:
        """``order_period_rows`` for the whole marketplace by period (and channel when ``by`` is set)
        from the day rollups: additive parts from ``order_days``, buyers from ``buyer_days``, and the
        parts that hang on today's standing (violating; experience weights) from the few orders of goods
        and shops not in good standing plus one weight per shop — the same sums as the scan of
        ``order_facts``, with ``violating`` and ``weighted`` and ``paying_users``."""
        d, b, o, s = order_days_table, buyer_days_table, order_facts_table, TABLES["shops"]
        weight = _weight(score_bar)
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
        with self._conn(None) as conn:
            rows = [dict(r._mapping) for r in conn.execute(main)]
            n_buyers = {tuple(r[:-1]): int(r[-1]) for r in conn.execute(buyers)}
            violating = {tuple(r[:-2]): (int(r[-2]), float(r[-1])) for r in conn.execute(bad)}
        for r in rows:
            k = (r["period_day"], r["slice"]) if by else (r["period_day"],)
            v_net, v_weighted = violating.get(k, (0, 0.0))
            r["paying_users"] = n_buyers.get(k, 0)
            r["violating"] = v_net
            r["weighted"] = float(r.pop("weighted_all")) - v_weighted
        return rows

    def paid_by_content_kind(
        self, shop_id: str | None = None, since_ms: int | None = None
    ) -> tuple[int, int, int]:
        """GMV paid (fen) through live sessions, through videos, and in all (of one shop, of orders
        placed since a time)."""
        o = order_facts_table
        paid = lambda cond: sa.func.coalesce(sa.func.sum(sa.case((cond, o.c.paid), else_=0)), 0)  # noqa: E731
        q = sa.select(paid(o.c.content_kind == "live"), paid(o.c.content_kind == "video"), paid(o.c.paid > 0))
        if shop_id is not None:
            q = q.where(o.c.shop_id == shop_id)
        if since_ms is not None:
            q = q.where(order_placed() >= since_ms)
        with self._conn(None) as conn:
            live, video, total = conn.execute(q).one()
        return int(live), int(video), int(total)

    def order_facts(self, shop_id: str | None = None, since_ms: int | None = None) -> list[tuple[Any, ...]]:
        """One row per order (of one shop, placed since a time): order, user, product, shop, brand,
        category, creator, content, surface, placed (0 when none), paid, refunded, quality refunded,
        units (1 when none), placed time, paid time (0 when never paid), channel, whether its product is
        listed and its shop in good standing, the shop's experience score."""
        o, p, s = order_facts_table, TABLES["products"], TABLES["shops"]
        query = sa.select(
            o.c.order_id,
            o.c.user_id,
            o.c.product_id,
            o.c.shop_id,
            p.c.brand_id,
            p.c.category,
            o.c.creator_id,
            o.c.content_id,
            o.c.surface,
            sa.func.coalesce(o.c.placed, 0),
            o.c.paid,
            o.c.refunded,
            o.c.quality_refunded,
            sa.func.coalesce(o.c.units, 1),
            order_placed(),
            sa.func.coalesce(o.c.pay_ts, 0),
            o.c.channel,
            listed_in_good_standing(p, s),
            s.c.experience_score,
        ).select_from(
            o.outerjoin(p, p.c.product_id == o.c.product_id).outerjoin(s, s.c.shop_id == o.c.shop_id)
        )
        if shop_id is not None:
            query = query.where(o.c.shop_id == shop_id)
        if since_ms is not None:
            query = query.where(order_placed() >= since_ms)
        with self._conn(None) as conn:
            return [tuple(r) for r in conn.execute(query)]

    def paid_orders_by_shop(self) -> list[tuple[Any, ...]]:
        """(order, shop, buyer, paid time, quality refunded, product category) of every paid order of a
        known shop: what store monitoring judges."""
        o, p = order_facts_table, TABLES["products"]
        with self._conn(None) as conn:
            return [
                tuple(r)
                for r in conn.execute(
                    sa.select(
                        o.c.order_id, o.c.shop_id, o.c.user_id, o.c.pay_ts, o.c.quality_refunded, p.c.category
                    )
                    .select_from(o.outerjoin(p, p.c.product_id == o.c.product_id))
                    .where(o.c.paid > 0, o.c.shop_id.is_not(None), o.c.pay_ts.is_not(None))
                )
            ]

    def paid_order_times(self, shop_ids: list[str]) -> list[tuple[str, int, int]]:
        """(shop, paid time, quality refunded) of every paid order of ``shop_ids``."""
        o = order_facts_table
        with self._conn(None) as conn:
            return [
                (shop, ts, q)
                for shop, ts, q in conn.execute(
                    sa.select(o.c.shop_id, o.c.pay_ts, o.c.quality_refunded).where(
                        o.c.shop_id.in_(shop_ids), o.c.paid > 0, o.c.pay_ts.is_not(None)
                    )
                )
            ]

    def latest_payment(self, conn: Connection | None = None) -> int | None:
        """The time of the latest paid order (None with none)."""
        o = order_facts_table
        with self._conn(conn) as c:
            value = c.execute(sa.select(sa.func.max(o.c.pay_ts))).scalar_one_or_none()
        return None if value is None else int(value)

    def unit_sales_before(self, before_ms: int, conn: Connection | None = None) -> list[tuple[str, int, Any]]:
        """(product, paid time, unit price paid) of every paid order before ``before_ms``, in time order."""
        o = order_facts_table
        unit = o.c.paid / sa.func.coalesce(o.c.units, 1)
        with self._conn(conn) as c:
            return [
                tuple(r)  # type: ignore[misc]
                for r in c.execute(
                    sa.select(o.c.product_id, o.c.pay_ts, unit)
                    .where(o.c.pay_ts.is_not(None), o.c.pay_ts < before_ms, o.c.paid > 0)
                    .order_by(o.c.pay_ts)
                )
            ]

    # -- event counts and viewers -----------------------------------------------------------------

    def impressions(
        self,
        period: str | None = None,
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
        with self._conn(None) as conn:
            return {
                (None if d is None else int(d), None if v is None else (v or "none")): int(n)
                for d, v, n in conn.execute(q)
            }

    def event_counts(
        self,
        event_types: tuple[str, ...],
        shop_id: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> list[tuple[str, str, int]]:
        """(surface, event type, events) from the daily rollups (of one shop; from the marketplace day
        ``since_ms`` falls in, through the one ``until_ms`` falls in)."""
        t = daily_counts_table if shop_id is not None else daily_totals_table
        q = sa.select(t.c.surface, t.c.event_type, sa.func.sum(t.c.n)).where(t.c.event_type.in_(event_types))
        if shop_id is not None:
            q = q.where(t.c.shop_id == shop_id)
        if since_ms is not None:
            q = q.where(t.c.day >= day_number(since_ms))
        if until_ms is not None:
            q = q.where(t.c.day <= day_number(until_ms))
        with self._conn(None) as conn:
            return [(s, k, int(n)) for s, k, n in conn.execute(q.group_by(t.c.surface, t.c.event_type))]

    def last_day(self) -> int | None:
        """The last marketplace day with events (None with none)."""
        with self._conn(None) as conn:
            last = conn.execute(sa.select(sa.func.max(daily_totals_table.c.day))).scalar_one_or_none()
        return None if last is None else int(last)

    def live_viewers(self, content_ids: list[str]) -> dict[str, tuple[int, int, float]]:
        """Room entries, distinct viewers and watch seconds of each live session among ``content_ids``."""
        v = live_viewers_table
        seen: dict[str, tuple[int, int, float]] = {}
        with self._conn(None) as conn:
            for lo in range(0, len(content_ids), _CHUNK):
                views = (
                    sa.select(
                        v.c.content_id, sa.func.sum(v.c.entries), sa.func.count(), sa.func.sum(v.c.watch_s)
                    )
                    .where(v.c.content_id.in_(content_ids[lo : lo + _CHUNK]))
                    .group_by(v.c.content_id)
                )
                seen.update({cid: (int(n), int(u), float(w)) for cid, n, u, w in conn.execute(views)})
        return seen


def daily_event_totals(store: Any) -> list[tuple[int, str, int]]:
    """(marketplace day, event type, events) over the whole marketplace, from ``daily_totals``."""
    t = daily_totals_table
    q = (
        sa.select(t.c.day, t.c.event_type, sa.func.sum(t.c.n))
        .group_by(t.c.day, t.c.event_type)
        .order_by(t.c.day, t.c.event_type)
    )
    with store.reading() as conn:
        return [(int(d), str(e), int(n)) for d, e, n in conn.execute(q).all()]
