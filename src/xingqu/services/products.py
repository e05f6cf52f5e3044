"""A product as a client shows it: its catalogue fields, prices in yuan and where governance stands on
it (its status, its shop's status)."""

from __future__ import annotations

from typing import Any

from xingqu.errors import NotFoundError
from xingqu.runtime import Runtime


def _yuan(fen: object) -> float | None:
    return None if fen is None else round(int(fen) / 100, 2)  # type: ignore[call-overload]


def product_details(runtime: Runtime, product_id: str) -> dict[str, Any]:
    """The product's fields with prices in yuan, its shop and brand names, and its and its shop's
    status; an unknown product is not found."""
    store = runtime.store
    store.require_ready()
    row = store.catalogue.product_row(product_id)
    if row is None:
        raise NotFoundError(f"unknown product {product_id!r}")
    return {
        "product": row["product_id"],
        "title": row["title"],
        "description": row["description"],
        "category": row["category"],
        "price_yuan": _yuan(row["price"]),
        "reference_price_yuan": _yuan(row["reference_price"]),
        "stock": row["stock"],
        "status": row["status"],
        "commission_rate": row["commission_rate"],
        "shop_id": row["shop_id"],
        "shop": row["shop"],
        "shop_status": row["shop_status"],
        "brand_id": row["brand_id"],
        "brand": row["brand"],
    }
