"""Order facts: one row per order (the ``order_facts`` rollup), joined to the current catalogue.

An order's amounts come from its events: placed = its ``order`` event, paid = its ``pay`` events,
refunded = its ``refund`` events. Its channel comes from the account it was sold through:
``self`` (the shop's official or channel account, 号店一体 / 自播), ``creator`` (an affiliate 达人),
``other`` (mall, search, shop page: no account).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xingqu.store import Store
from xingqu.store.rollups import CHANNELS, QUALITY_REASONS, SELF_KINDS

__all__ = ["CHANNELS", "QUALITY_REASONS", "SELF_KINDS", "OrderFacts", "load_orders"]


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
    """Every order (or one shop's, or placed since a time) from the ``order_facts`` rollup, with the
    current governance standing of its product and shop."""
    rows = store.rollups.order_facts(shop_id, since_ms)
    n_fields = len(OrderFacts.__dataclass_fields__)
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in range(n_fields)]
    objects = lambda i: np.array(cols[i], dtype=object)  # noqa: E731
    ints = lambda i: np.array(cols[i], dtype=np.int64)  # noqa: E731
    return OrderFacts(
        *(objects(i) for i in range(9)),
        *(ints(i) for i in range(9, 16)),
        channel=objects(16),
        product_ok=np.array([bool(v) for v in cols[17]], dtype=bool),
        shop_score=np.array([np.nan if v is None else float(v) for v in cols[18]], dtype=np.float64),
    )
