"""Policies for closed-loop runs: anything that returns a ranked list of products for a user.

A policy sees only what a recommender would: the catalog, the behaviour log so far, and the day's
events as they happen. The oracle is the exception by design: it ranks by the simulator's true
utility, as the ceiling every other policy is measured against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xingqu.domain.units import DAY_MS
from xingqu.domain.vocab import servable_mask
from xingqu.sim.behaviour import Behaviour, MarketState


@dataclass
class MarketView:
    """What a policy may read: the catalog and the log, as canonical Arrow tables."""

    products: pa.Table
    users: pa.Table
    events: pa.Table
    tables: dict[str, pa.Table] = field(default_factory=dict)  # shops, creators, content, relations…

    def available(self, day_ms: int) -> np.ndarray:
        """Product ids servable (the platform's one rule: listed, in stock, shop in good standing) and
        created by ``day_ms``."""
        p = self.products
        shops = self.tables.get("shops")
        if shops is not None and "status" in shops.column_names:
            at = pc.index_in(p["shop_id"], value_set=shops["shop_id"])
            shop_status = pc.take(shops["status"], at)
        else:
            shop_status = pa.nulls(p.num_rows, pa.string())
        ok = pc.and_(
            servable_mask(p["status"], p["stock"], shop_status),
            pc.less_equal(pc.cast(p["created_at"], pa.int64()), day_ms),
        )
        return p["product_id"].filter(ok).to_numpy(zero_copy_only=False)


class Policy(Protocol):
    """Ranks products for users; told about every day's events afterwards."""

    name: str

    def fit(self, view: MarketView) -> None: ...

    def recommend(self, user_ids: Sequence[str], n: int, day_ms: int) -> list[list[str]]: ...

    def observe(self, events: pa.Table) -> None: ...


class RandomPolicy:
    """Uniformly random available products: the floor."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng([seed, 11])

    def fit(self, view: MarketView) -> None:
        self.view = view

    def recommend(self, user_ids: Sequence[str], n: int, day_ms: int) -> list[list[str]]:
        avail = self.view.available(day_ms)
        k = min(n, len(avail))
        return [avail[self.rng.choice(len(avail), k, replace=False)].tolist() for _ in user_ids]

    def observe(self, events: pa.Table) -> None:
        pass


class PopularPolicy:
    """The most popular available products by weighted interactions, the same ranking for everyone,
    skipping what a user bought and what they were already shown ``max_views`` times."""

    name = "popular"
    #: Interaction weights: a purchase counts most, a click least; a refund takes its purchase back (so
    #: that brushed, refunded orders make nothing popular).
    WEIGHTS: ClassVar[dict[str, float]] = {"pay": 1.0, "refund": -1.0, "add_to_cart": 0.05, "click": 0.01}

    def __init__(self, max_views: int = 3) -> None:
        self.max_views = max_views

    def fit(self, view: MarketView) -> None:
        self.view = view
        self.counts: dict[str, float] = {}
        self.bought: dict[str, set[str]] = {}
        self.views: dict[str, dict[str, int]] = {}
        self.observe(view.events)

    def observe(self, events: pa.Table) -> None:
        shown = events.filter(pc.equal(events["event_type"], "impression"))
        for user, product in zip(shown["user_id"].to_pylist(), shown["product_id"].to_pylist(), strict=True):
            seen = self.views.setdefault(user, {})
            seen[product] = seen.get(product, 0) + 1
        for etype, weight in self.WEIGHTS.items():
            rows = events.filter(pc.equal(events["event_type"], etype))
            for product in rows["product_id"].to_pylist():
                self.counts[product] = self.counts.get(product, 0.0) + weight
        pays = events.filter(pc.equal(events["event_type"], "pay"))
        for user, product in zip(pays["user_id"].to_pylist(), pays["product_id"].to_pylist(), strict=True):
            self.bought.setdefault(user, set()).add(product)

    def recommend(self, user_ids: Sequence[str], n: int, day_ms: int) -> list[list[str]]:
        avail = self.view.available(day_ms)
        score = np.array([self.counts.get(p, 0.0) for p in avail]) + np.linspace(0, 1e-6, len(avail))
        ranked = avail[np.argsort(-score, kind="stable")].tolist()
        out = []
        for u in user_ids:
            own = self.bought.get(u, set())
            seen = self.views.get(u, {})
            picks: list[str] = []
            for p in ranked:
                if p not in own and seen.get(p, 0) < self.max_views:
                    picks.append(p)
                    if len(picks) == n:
                        break
            out.append(picks)
        return out


class OraclePolicy:
    """Ranks by the simulator's true expected quality GMV: the ceiling, not a recommender."""

    name = "oracle"

    def __init__(
        self,
        behaviour: Behaviour,
        state: MarketState,
        product_ids: pa.Array,
        user_index: dict[str, int],
        start_ms: int,
    ) -> None:
        self.b = behaviour
        self.state = state
        self.product_ids = np.asarray(product_ids.to_pylist(), dtype=object)
        self.user_index = user_index
        self.start_ms = start_ms

    def fit(self, view: MarketView) -> None:
        self.view = view

    def observe(self, events: pa.Table) -> None:
        pass

    def recommend(self, user_ids: Sequence[str], n: int, day_ms: int) -> list[list[str]]:
        w = self.b.w
        day = (day_ms - self.start_ms) / 86_400_000
        avail = np.flatnonzero((w.p_created_day <= day) & (w.p_stock > 0))
        out = []
        for start in range(0, len(user_ids), 256):
            chunk = [self.user_index[u] for u in user_ids[start : start + 256]]
            users = np.repeat(np.asarray(chunk), len(avail))
            prods = np.tile(avail, len(chunk))
            value = self.b.expected_value(users, prods, day, self.state).reshape(len(chunk), len(avail))
            top = np.argsort(-value, axis=1, kind="stable")[:, :n]
            out.extend(self.product_ids[avail[top]].tolist())
        return out


#: Retrievers that read the order of a user's history (left out when the feed's sequence switch is off).
SEQUENTIAL = ("recentknn", "transition")
#: Retrievers (and their configs) the feed arms fit in simulation: the blend's usual members.
FEED_RETRIEVERS: dict[str, dict[str, Any]] = {
    "ease": {"reg": 1000.0},
    "als": {"factors": 64, "reg": 0.1, "alpha": 4.0},
    "itemknn": {"neighbors": 200, "shrink": 10.0},
    "popular": {},
    "content": {"title_weight": 0.5},
    "trending": {"half_life_days": 3.0},
    "recentknn": {"neighbors": 200, "shrink": 10.0, "half_life": 5.0, "window": 50},
    "transition": {"window": 5, "backward": 0.0, "beta": 0.3, "last": 5, "half_life": 1.0},
}


class FeedPolicy:
    """xingqu's feed pipeline (``xingqu.pipelines.feed``) as an arm: fitted on the log at the start,
    told every day's events in real time, refitted every ``retrain_days``."""

    def __init__(
        self,
        name: str = "feed",
        retrievers: dict[str, dict[str, Any]] | None = None,
        config: Any = None,
        rank: bool = True,
        retrain_days: int = 7,
    ) -> None:
        self.name = name
        self.specs = retrievers or FEED_RETRIEVERS
        self.config = config
        self.rank = rank
        self.retrain_days = retrain_days

    @classmethod
    def als_only(cls) -> FeedPolicy:
        """ALS scores alone, with only the rules every arm has (available, not bought, not ignored)."""
        from xingqu.pipelines.feed import FeedConfig

        config = FeedConfig(
            use_ranker=False,
            price_band_z=None,
            max_category_share=1.0,
            max_per_shop=None,
            new_share=0.0,
            recent_quota=0,
            followed_quota=0,
            new_quota=0,
        )
        return cls("als", {"als": FEED_RETRIEVERS["als"]}, config, rank=False)

    def fit(self, view: MarketView) -> None:
        self.view = view
        self.log = [view.events]
        self.fitted_at: int | None = None  # the first request served by the current fit
        self._refit()

    def _refit(self) -> None:
        from xingqu.features.market import MarketTables
        from xingqu.feed_training import fit_feed
        from xingqu.pipelines.feed import Feed

        market = MarketTables.of(self.view.tables, pa.concat_tables(self.log))
        sequence = self.config.sequence if self.config is not None else True
        specs = self.specs if sequence else {k: v for k, v in self.specs.items() if k not in SEQUENTIAL}
        model = fit_feed(market, specs, rank=self.rank, sequence=sequence)
        self.feed = Feed(model, self._servable, self.config)
        self._available: set[str] = set()

    def _servable(self, ids: list[str]) -> set[str]:
        return self._available.intersection(ids)

    def recommend(self, user_ids: Sequence[str], n: int, day_ms: int) -> list[list[str]]:
        if self.fitted_at is None:
            self.fitted_at = day_ms
        elif self.retrain_days and day_ms - self.fitted_at >= self.retrain_days * DAY_MS:
            self._refit()
            self.fitted_at = day_ms
        self._available = set(self.view.available(day_ms).tolist())
        feeds = self.feed.recommend_many(list(user_ids), n, now_ms=day_ms)
        return [[item.product_id for item in feed] for feed in feeds]

    def observe(self, events: pa.Table) -> None:
        self.log.append(events)
        self.feed.observe(events)
