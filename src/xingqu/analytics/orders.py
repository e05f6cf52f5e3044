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
    """Parallel arrays, one entry per order (amounts in fen, times in UTC ms, None where unknown)."""

    order_id: np.ndarray
    user_id: np.ndarray
    product_id: np.ndarray
    shop_id: np.ndarray
    brand_id: np.ndarray
    category: np.ndarray
    creator_id: np.ndarray
    content_id: np.ndarray
    surface: np.ndarray
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


def load_orders(store: Store, shop_id: str | None = None, since_ms: int | None = None) -> OrderFacts:
    """Every order in the log (or one shop's, or placed since a time), with amounts, channel and the
    governance standing of its product and shop."""
    e, p, s, c = TABLES["events"], TABLES["products"], TABLES["shops"], TABLES["creators"]

    def when(kind: str, col: sa.ColumnElement) -> sa.ColumnElement:
        return sa.case((e.c.event_type == kind, col))

    quality = sa.case(
        (sa.and_(e.c.event_type == "refund", e.c.refund_reason.in_(QUALITY_REASONS)), e.c.amount)
    )
    per_order = (
        sa.select(
            e.c.order_id.label("order_id"),
            sa.func.min(e.c.user_id).label("user_id"),
            sa.func.min(e.c.product_id).label("product_id"),
            sa.func.min(e.c.creator_id).label("creator_id"),
            sa.func.min(e.c.content_id).label("content_id"),
            sa.func.min(when("order", e.c.surface)).label("surface"),
            sa.func.coalesce(sa.func.max(when("order", e.c.amount)), 0).label("placed"),
            sa.func.coalesce(sa.func.sum(when("pay", e.c.amount)), 0).label("paid"),
            sa.func.coalesce(sa.func.sum(when("refund", e.c.amount)), 0).label("refunded"),
            sa.func.coalesce(sa.func.sum(quality), 0).label("quality_refunded"),
            sa.func.coalesce(sa.func.max(when("order", e.c.quantity)), 1).label("units"),
            sa.func.coalesce(sa.func.min(when("order", e.c.ts)), sa.func.min(e.c.ts)).label("placed_ts"),
            sa.func.coalesce(sa.func.min(when("pay", e.c.ts)), 0).label("paid_ts"),
        )
        .where(e.c.order_id.is_not(None), e.c.event_type.in_(("order", "pay", "refund")))
        .group_by(e.c.order_id)
        .subquery()
    )
    query = sa.select(
        per_order,
        p.c.shop_id,
        p.c.brand_id,
        p.c.category,
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
    if since_ms is not None:
        query = query.where(per_order.c.placed_ts >= since_ms)
    with store.reading() as conn:
        result = conn.execute(query)
        names = list(result.keys())
        rows = result.all()
    col = {n: np.array([r[i] for r in rows], dtype=object) for i, n in enumerate(names)}

    def ints(name: str) -> np.ndarray:
        return col[name].astype(np.int64) if len(rows) else np.zeros(0, np.int64)

    has_creator = np.array([k is not None for k in col["creator_id"]], dtype=bool)
    channel = np.where(
        np.isin(col["account_kind"], SELF_KINDS), "self", np.where(has_creator, "creator", "other")
    )
    ok = (col["status"] == "listed") & ~np.isin(col["shop_status"], ("suspended", "closed"))
    return OrderFacts(
        order_id=col["order_id"],
        user_id=col["user_id"],
        product_id=col["product_id"],
        shop_id=col["shop_id"],
        brand_id=col["brand_id"],
        category=col["category"],
        creator_id=col["creator_id"],
        content_id=col["content_id"],
        surface=col["surface"],
        placed=ints("placed"),
        paid=ints("paid"),
        refunded=ints("refunded"),
        quality_refunded=ints("quality_refunded"),
        units=ints("units"),
        placed_ts=ints("placed_ts"),
        paid_ts=ints("paid_ts"),
        channel=channel.astype(object),
        product_ok=np.asarray(ok, dtype=bool),
        shop_score=np.array(
            [np.nan if v is None else float(v) for v in col["experience_score"]], dtype=np.float64
        ),
    )
