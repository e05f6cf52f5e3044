"""Ground truth for judging matching (creators for goods, goods for creators) in a simulated market:
what a collaboration would truly earn, from the simulator's latent tastes. Only evaluation reads it."""

from __future__ import annotations

import numpy as np

from xingqu.sim.behaviour import MarketState
from xingqu.sim.run import Market


def reach(followers: np.ndarray) -> np.ndarray:
    """Share of a creator's followers one collaboration reaches: engagement falls with size (domain
    §8.5: nano 8–15 %, micro 5–10 %, mid 3–6 %), as 11 % × (followers / 5,000)^−0.2, within 2–15 %."""
    return np.clip(0.11 * (np.maximum(followers, 1) / 5_000) ** -0.2, 0.02, 0.15)


def followers_of(market: Market, state: MarketState, creator: int) -> np.ndarray:
    """User indices following ``creator`` in ``state``."""
    k = len(market.world.k_kind)
    keys = state.follow_keys
    return (keys[keys % k == creator] // k).astype(np.int64)


def collaboration_gmv(
    market: Market, state: MarketState, creators: np.ndarray, product: int, day: float
) -> np.ndarray:
    """True expected quality GMV (yuan) of each creator carrying ``product`` to its followers once."""
    k = len(market.world.k_kind)
    keys = state.follow_keys
    users, owner = keys // k, keys % k
    value = market.behaviour.expected_value(users, np.full(len(users), product), day, state) / 100
    per_creator = np.bincount(owner, weights=value, minlength=k)
    creators = np.asarray(creators)
    return reach(market.world.k_followers[creators].astype(float)) * per_creator[creators]


def category_gpm(
    market: Market,
    state: MarketState,
    creator: int,
    products_by_category: dict[int, np.ndarray],
    day: float,
    max_followers: int = 400,
    rng: np.random.Generator | None = None,
) -> dict[int, float]:
    """True expected yuan per 1,000 exposures of each category's products to the creator's followers."""
    fans = followers_of(market, state, creator)
    if len(fans) > max_followers:
        fans = (rng or np.random.default_rng(0)).choice(fans, max_followers, replace=False)
    out = {}
    for c, items in products_by_category.items():
        if not len(fans) or not len(items):
            out[c] = 0.0
            continue
        u = np.repeat(fans, len(items))
        p = np.tile(items, len(fans))
        out[c] = float(market.behaviour.expected_value(u, p, day, state).mean() / 100 * 1000)
    return out
