"""Creators for goods (商家找达人, domain §4.3): every creator scored for a product on how many of the
product's target users are in its 30-day audience, category fit, price fit, performance (GPM,
engagement), reputation (refund rate of its orders) and cost, with a predicted GMV per collaboration
from the funnel and a breakdown of the score per component; and creators similar to a creator.

The target users are the product's buyers and their closest lookalikes (or a target portrait the
merchant gives: segments that must match); the predicted GMV follows the creator's followers, each
weighted by how their profile fits the product. Goal ``sales`` weighs predicted GMV most; goal
``brand`` weighs reaching target users and the category's audience.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xingqu.errors import UserError, require_at_least
from xingqu.features.creators import MatchStats, reach_prior
from xingqu.features.profiles import Catalogue, UserProfiles
from xingqu.pipelines.audience import MIN_SEEDS, AudienceIndex, score_seed

#: Share of the population (the closest lookalikes of the buyers) counted as target users.
TARGET_SHARE = 0.05
#: Plays' worth of the marketplace's click rate that a creator's own rate is pulled towards.
CTR_PRIOR = 200.0

#: Component weights per goal (on z-scored components; cost counts against).
GOALS: dict[str, dict[str, float]] = {
    "sales": {
        "predicted_gmv": 0.55,
        "audience_match": 0.1,
        "category_fit": 0.1,
        "price_fit": 0.1,
        "performance": 0.05,
        "reputation": 0.1,
        "cost": 0.0,
    },
    "brand": {
        "predicted_gmv": 0.1,
        "audience_match": 0.35,
        "category_fit": 0.25,
        "price_fit": 0.05,
        "performance": 0.1,
        "reputation": 0.1,
        "cost": 0.05,
    },
}


@dataclass
class CreatorMatch:
    creator_id: str
    score: float
    predicted_gmv_yuan: float
    followers: int
    target_users_in_audience: int
    components: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "creator": self.creator_id,
            "score": round(self.score, 4),
            "predicted_gmv_yuan": round(self.predicted_gmv_yuan, 2),
            "followers": self.followers,
            "target_users_in_audience": self.target_users_in_audience,
            "components": {k: round(v, 4) for k, v in self.components.items()},
        }


@dataclass
class CreatorMatcher:
    """Scores creators for goods from an audience index and the log's match statistics."""

    index: AudienceIndex
    stats: MatchStats
    profiles: UserProfiles | None = None  # users' category interest and price bands (same user order)
    cat: Catalogue | None = None
    _audience: object = None  # creators × users audience matrix, built on first use

    def audience_matrix(self):
        if self._audience is None:
            g = self.index.groups
            a = (g.follows + g.viewers + g.creator_buyers).tocsr()
            a.data[:] = 1.0
            self._audience = a
        return self._audience

    def targets(self, product_id: str, target: dict[str, list[str]] | None = None) -> np.ndarray:
        """Target users (1) and the rest (0): the product's buyers and their closest lookalikes (the top
        ``TARGET_SHARE``); or members of the segments of a merchant's target portrait (every given
        dimension must match)."""
        g, p = self.index.groups, self.index.portraits
        weight = np.zeros(len(g.users), np.float32)
        if target:
            ok = np.ones(len(g.users), bool)
            for dim, values in target.items():
                if dim not in p.codes:
                    raise UserError(f"unknown portrait dimension {dim!r}; dimensions: {', '.join(p.codes)}")
                unknown = [v for v in values if v not in p.values[dim]]
                if unknown:
                    raise UserError(
                        f"unknown {dim} value(s) {', '.join(map(repr, unknown))}; "
                        f"values: {', '.join(p.values[dim])}"
                    )
                codes = [p.values[dim].index(v) for v in values]
                ok &= np.isin(p.codes[dim], codes)
            weight[ok] = 1.0
            return weight
        item = g.item(product_id)
        seeds = g.buyers(np.array([item]), window=False)
        if len(seeds) < MIN_SEEDS:  # few buyers yet: buyers of the category near this price
            cat = g.item_category[item]
            price = self.stats.item_price
            near = np.flatnonzero(
                (g.item_category == cat) & (np.abs(np.log(np.maximum(price, 1) / max(price[item], 1))) < 0.5)
            )
            seeds = g.buyers(near, window=False)
        if len(seeds) >= MIN_SEEDS:  # the closest lookalikes count as target users too
            model = score_seed(self.index, seeds)
            cut = np.quantile(model.hybrid, 1 - TARGET_SHARE)
            weight[model.hybrid >= cut] = 1.0
        weight[seeds] = 1.0
        return weight

    def affinity(self, product_id: str) -> np.ndarray:
        """Each user's fit to the product from their profile: interest in its category (relative to an
        even spread) × closeness of its price to their band for the category."""
        assert self.profiles is not None and self.cat is not None
        j = self.cat.items.index.get(product_id)
        c = self.cat.level1[j] if j is not None else -1
        if c < 0:
            return np.ones(len(self.profiles.users), np.float32)
        p = self.profiles
        interest = p.interest[:, c] * p.interest.shape[1]
        z = (self.cat.log_price[j] - p.price_mu[:, c]) / p.price_sd
        return (interest * np.exp(-0.5 * z**2)).astype(np.float32)

    def for_product(
        self,
        product_id: str,
        *,
        goal: str = "sales",
        n: int = 10,
        min_followers: int | None = None,
        max_followers: int | None = None,
        category: str | None = None,
        min_reputation: float | None = None,
        target: dict[str, list[str]] | None = None,
        include_shop_accounts: bool = False,
    ) -> list[CreatorMatch]:
        if goal not in GOALS:
            raise UserError(f"goal must be one of {', '.join(GOALS)}, not {goal!r}")
        require_at_least("n", n)
        g, s = self.index.groups, self.stats
        item = g.item(product_id)
        weight = self.targets(product_id, target)
        aud = self.audience_matrix()
        size = np.asarray(aud.sum(axis=1)).ravel()
        reached = aud @ weight  # target users in each 30-day audience
        match = reached / np.maximum(size, 1)
        # who a collaboration reaches: the creator's followers, each as likely to buy as their profile fits
        fit = self.affinity(product_id) if self.profiles is not None and self.cat is not None else weight
        fans_fit = g.follows @ fit
        cat = g.item_category[item]
        cat_fit = s.category_share[:, cat] if cat >= 0 else np.zeros(len(g.creators))
        price = s.item_price[item]
        gap = np.abs(np.log(max(price, 1) / 100) - s.log_price)
        price_fit = np.where(np.isnan(gap), 0.0, np.exp(-gap))
        # funnel: fans reached × their fit × clicks per play (shrunk: few plays say little) × pays per click
        base_ctr = s.clicks.sum() / max(s.plays.sum(), 1)
        ctr = (s.clicks + CTR_PRIOR * base_ctr) / (s.plays + CTR_PRIOR)
        pay_rate = s.orders.sum() / max(s.clicks.sum(), 1)
        reach = reach_prior(s.followers)
        predicted = fans_fit * reach * np.clip(ctr, 0.005, 1) * max(pay_rate, 0.01) * price / 100
        predicted *= s.reputation
        perf = np.log1p(s.gpm) + np.log1p(100 * s.engagement)
        cost = np.log1p(s.followers)
        comps = {
            "predicted_gmv": np.log1p(predicted),
            "audience_match": match,
            "category_fit": cat_fit,
            "price_fit": price_fit,
            "performance": perf,
            "reputation": s.reputation,
            "cost": cost,
        }
        weights = GOALS[goal]
        total = np.zeros(len(g.creators))
        for k, v in comps.items():
            sd = v.std()
            z = (v - v.mean()) / sd if sd > 0 else np.zeros_like(v)
            total += (-1 if k == "cost" else 1) * weights[k] * z
        ok = (size > 0) & (s.is_creator | include_shop_accounts)
        if min_followers is not None:
            ok &= s.followers >= min_followers
        if max_followers is not None:
            ok &= s.followers <= max_followers
        if category is not None:
            c = g.category(category)
            ok &= s.category_share[:, c] > 0
        if min_reputation is not None:
            ok &= s.reputation >= min_reputation
        cand = np.flatnonzero(ok)
        best = cand[np.argsort(-total[cand], kind="stable")[:n]]
        return [
            CreatorMatch(
                g.creators.ids[k],
                float(total[k]),
                float(predicted[k]),
                int(s.followers[k]),
                round(float(reached[k])),
                {name: float(v[k]) for name, v in comps.items() if name != "predicted_gmv"},
            )
            for k in best
        ]

    def similar(self, creator_id: str, n: int = 10) -> list[tuple[str, float]]:
        """Creators whose audiences behave alike (cosine of audience embedding centroids) and who sell
        alike (cosine of carried-category shares), equally weighted."""
        require_at_least("n", n)
        g = self.index.groups
        k = g.creator(creator_id)
        aud = self.audience_matrix()
        centroid = aud @ self.index.embedding
        norms = np.linalg.norm(centroid, axis=1, keepdims=True)
        centroid = centroid / np.where(norms > 0, norms, 1)
        cs = self.stats.category_share
        cn = np.linalg.norm(cs, axis=1, keepdims=True)
        cs = cs / np.where(cn > 0, cn, 1)
        sim = 0.5 * (centroid @ centroid[k]) + 0.5 * (cs @ cs[k])
        sim[k] = -np.inf
        best = np.argsort(-sim, kind="stable")[:n]
        return [(g.creators.ids[j], float(sim[j])) for j in best if np.isfinite(sim[j])]
