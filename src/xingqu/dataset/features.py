"""Feature tables aligned with a dataset's vocabularies: product attributes and user profiles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xingqu.dataset.matrix import Vocabulary
from xingqu.domain.arrow import arrow_schema
from xingqu.store import Store


@dataclass(frozen=True)
class ItemFeatures:
    """Product attributes, one entry per item index (None where a product has no catalog row)."""

    category: np.ndarray  # object: full path "l1>leaf"
    brand: np.ndarray  # object
    shop: np.ndarray  # object
    price: np.ndarray  # float64 fen, nan unknown
    styles: list[list[str]]
    functions: list[list[str]]
    title: np.ndarray  # object
    status: np.ndarray  # object
    stock: np.ndarray  # int64
    created_ms: np.ndarray  # int64, 0 unknown

    @property
    def level1(self) -> np.ndarray:
        return np.array([c.split(">")[0] if c else None for c in self.category], dtype=object)


@dataclass(frozen=True)
class UserFeatures:
    """Demographic segments per user index."""

    crowd: np.ndarray
    city_tier: np.ndarray
    age_band: np.ndarray
    gender: np.ndarray

    def segment(self, name: str) -> np.ndarray:
        return getattr(self, name)


def item_features_from_table(products: pa.Table, items: Vocabulary) -> ItemFeatures:
    """Product attributes aligned with ``items`` from a canonical products table."""
    n = len(items)
    idx = items.lookup(products["product_id"].to_numpy(zero_copy_only=False))
    ok = idx >= 0
    idx = idx[ok]
    t = products.filter(pa.array(ok))

    def col(name: str, fill: object, dtype: object = object) -> np.ndarray:
        out = np.full(n, fill, dtype=dtype)
        values = t[name].to_numpy(zero_copy_only=False)
        out[idx] = values if dtype is object else np.nan_to_num(values.astype(float), nan=fill)
        return out

    def lists(name: str) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in range(n)]
        for i, v in zip(idx.tolist(), t[name].to_pylist(), strict=True):
            out[i] = v or []
        return out

    created = np.zeros(n, dtype=np.int64)
    created[idx] = pc.fill_null(pc.cast(t["created_at"], pa.int64()), 0).to_numpy()
    stock = np.zeros(n, dtype=np.int64)
    stock[idx] = pc.fill_null(t["stock"], 0).to_numpy()
    return ItemFeatures(
        col("category", None),
        col("brand_id", None),
        col("shop_id", None),
        col("price", np.nan, np.float64),
        lists("style_tags"),
        lists("function_tags"),
        col("title", None),
        col("status", None),
        stock,
        created,
    )


def user_features_from_table(users_table: pa.Table, users: Vocabulary) -> UserFeatures:
    """Demographic segments aligned with ``users`` from a canonical users table."""
    n = len(users)
    idx = users.lookup(users_table["user_id"].to_numpy(zero_copy_only=False))
    ok = idx >= 0
    t = users_table.filter(pa.array(ok))
    out = []
    for name in ("crowd", "city_tier", "age_band", "gender"):
        arr = np.full(n, None, dtype=object)
        arr[idx[ok]] = t[name].to_numpy(zero_copy_only=False)
        out.append(arr)
    return UserFeatures(*out)


def _kind_table(store: Store, kind: str) -> pa.Table:
    return pa.Table.from_batches(list(store.iter_records(kind)), schema=arrow_schema(kind))


def item_features(store: Store, items: Vocabulary) -> ItemFeatures:
    """Product attributes from the store's catalog."""
    return item_features_from_table(_kind_table(store, "products"), items)


def user_features(store: Store, users: Vocabulary) -> UserFeatures:
    """User segments from the store's users."""
    return user_features_from_table(_kind_table(store, "users"), users)
