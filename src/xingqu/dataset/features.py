"""Feature tables aligned with a dataset's vocabularies: product attributes and user profiles."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from xingqu.dataset.matrix import Vocabulary
from xingqu.store import Store
from xingqu.store.schema import TABLES


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


def item_features(store: Store, items: Vocabulary) -> ItemFeatures:
    p = TABLES["products"]
    cols = [
        p.c.product_id,
        p.c.category,
        p.c.brand_id,
        p.c.shop_id,
        p.c.price,
        p.c.style_tags,
        p.c.function_tags,
        p.c.title,
        p.c.status,
        p.c.stock,
        p.c.created_at,
    ]
    with store.reading() as conn:
        rows = conn.execute(sa.select(*cols)).all()
    n = len(items)
    cat, brand, shop, title, status = (np.full(n, None, dtype=object) for _ in range(5))
    price = np.full(n, np.nan)
    stock = np.zeros(n, dtype=np.int64)
    created = np.zeros(n, dtype=np.int64)
    styles: list[list[str]] = [[] for _ in range(n)]
    funcs: list[list[str]] = [[] for _ in range(n)]
    index = items.index
    for pid, c, b, s, pr, st, fn, t, stt, sk, cr in rows:
        i = index.get(pid)
        if i is None:
            continue
        cat[i], brand[i], shop[i], title[i], status[i] = c, b, s, t, stt
        price[i], stock[i], created[i] = pr, sk or 0, cr or 0
        styles[i] = json.loads(st) if st else []
        funcs[i] = json.loads(fn) if fn else []
    return ItemFeatures(cat, brand, shop, price, styles, funcs, title, status, stock, created)


def user_features(store: Store, users: Vocabulary) -> UserFeatures:
    u = TABLES["users"]
    with store.reading() as conn:
        rows = conn.execute(sa.select(u.c.user_id, u.c.crowd, u.c.city_tier, u.c.age_band, u.c.gender)).all()
    n = len(users)
    crowd, tier, age, gender = (np.full(n, None, dtype=object) for _ in range(4))
    index = users.index
    for uid, c, t, a, g in rows:
        i = index.get(uid)
        if i is not None:
            crowd[i], tier[i], age[i], gender[i] = c, t, a, g
    return UserFeatures(crowd, tier, age, gender)
