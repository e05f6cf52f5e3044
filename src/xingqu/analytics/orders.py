"""Order facts: one row per order from the event log, joined to the catalogue, in one SQL query.

An order's amounts come from its events: placed = its ``order`` event, paid = its ``pay`` events,
refunded = its ``refund`` events. Its channel comes from the account it was sold through:
``self`` (the shop's official or channel account, 号店一体 / 自播), ``creator`` (an affiliate 达人),
``other`` (mall, search, shop page: no account).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from xingqu.store import Store
from xingqu.store.schema import TABLES

QUALITY_REASONS = ("quality", "not_as_described")
SELF_KINDS = ("shop_official", "shop_channel")
CHANNELS = ("self", "creator", "other")


@dataclass(frozen=True)
class OrderFacts:
    """Parallel arrays, one entry per order (amounts in fen, times in UTC ms)."""

    order_id: np.ndarray
    user_id: np.ndarray
    product_id: np.ndarray
    shop_id: np.ndarray
    placed: np.ndarray
    paid: np.ndarray
    refunded: np.ndarray
    quality_refunded: np.ndarray
    units: np.ndarray
    placed_ts: np.ndarray
    paid_ts: np.ndarray  # 0 when never paid
    channel: np.ndarray  # "self" | "creator" | "other"
    product_ok: np.ndarray  # product still listed and its shop not suspended or closed
    shop_score: np.ndarray  # experience score, nan when unknown

    def __len__(self) -> int:
        return len(self.order_id)

    def where(self, mask: np.ndarray) -> OrderFacts:
        return OrderFacts(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))


def load_orders(store: Store, shop_id: str | None = None) -> OrderFacts:
    """Every order in the log (or one shop's), with amounts, channel and governance standing."""
    e, p, s, c = TABLES["events"], TABLES["products"], TABLES["shops"], TABLES["creators"]
    is_ = lambda t: e.c.event_type == t  # noqa: E731
    per_order = (
        sa.select(
            e.c.order_id.label("order_id"),
            sa.func.min(e.c.user_id).label("user_id"),
            sa.func.min(e.c.product_id).label("product_id"),
            sa.func.min(e.c.creator_id).label("creator_id"),
            sa.func.coalesce(sa.func.max(sa.case((is_("order"), e.c.amount))), 0).label("placed"),
            sa.func.coalesce(sa.func.sum(sa.case((is_("pay"), e.c.amount))), 0).label("paid"),
            sa.func.coalesce(sa.func.sum(sa.case((is_("refund"), e.c.amount))), 0).label("refunded"),
            sa.func.coalesce(
                sa.func.sum(
                    sa.case((sa.and_(is_("refund"), e.c.refund_reason.in_(QUALITY_REASONS)), e.c.amount))
                ),
                0,
            ).label("quality_refunded"),
            sa.func.coalesce(sa.func.max(sa.case((is_("order"), e.c.quantity))), 1).label("units"),
            sa.func.coalesce(sa.func.min(sa.case((is_("order"), e.c.ts))), sa.func.min(e.c.ts)).label(
                "placed_ts"
            ),
            sa.func.coalesce(sa.func.min(sa.case((is_("pay"), e.c.ts))), 0).label("paid_ts"),
        )
        .where(e.c.order_id.is_not(None), e.c.event_type.in_(("order", "pay", "refund")))
        .group_by(e.c.order_id)
        .subquery()
    )
    query = sa.select(
        per_order,
        p.c.shop_id,
        p.c.status,
        s.c.status.label("shop_status"),
        s.c.experience_score,
        c.c.kind.label("account_kind"),
    ).select_from(
        per_order.outerjoin(p, p.c.product_id == per_order.c.product_id)
        .outerjoin(s, s.c.shop_id == p.c.shop_id)
        .outerjoin(c, c.c.creator_id == per_order.c.creator_id)
    )
    if shop_id is not None:
        query = query.where(p.c.shop_id == shop_id)
    with store.reading() as conn:
        rows = conn.execute(query).all()
    cols = list(zip(*rows, strict=True)) if rows else [()] * 16
    (
        order_id,
        user_id,
        product_id,
        creator_id,
        placed,
        paid,
        refunded,
        quality_refunded,
        units,
        placed_ts,
        paid_ts,
        shop,
        status,
        shop_status,
        score,
        kind,
    ) = cols
    kinds = np.array(kind, dtype=object)
    channel = np.where(
        np.isin(kinds, SELF_KINDS),
        "self",
        np.where(np.array([k is not None for k in creator_id], dtype=bool), "creator", "other"),
    )
    ok = (np.array(status, dtype=object) == "listed") & ~np.isin(
        np.array(shop_status, dtype=object), ("suspended", "closed")
    )
    as_int = lambda v: np.array(v, dtype=np.int64)  # noqa: E731
    return OrderFacts(
        order_id=np.array(order_id, dtype=object),
        user_id=np.array(user_id, dtype=object),
        product_id=np.array(product_id, dtype=object),
        shop_id=np.array(shop, dtype=object),
        placed=as_int(placed),
        paid=as_int(paid),
        refunded=as_int(refunded),
        quality_refunded=as_int(quality_refunded),
        units=as_int(units),
        placed_ts=as_int(placed_ts),
        paid_ts=as_int(paid_ts),
        channel=np.array(channel, dtype=object),
        product_ok=np.asarray(ok, dtype=bool),
        shop_score=np.array([np.nan if v is None else float(v) for v in score], dtype=np.float64),
    )
