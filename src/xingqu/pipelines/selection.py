"""Goods for creators (达人选品, domain §4.4): categories ranked for a creator by how its audience's
portrait fits each category's buyer portrait (TGI-weighted), what the audience itself engages with,
blended with the creator's own sales history, the category's trend and the supply on offer; then the
products to sell in those categories (the fans' price band, shop experience score, commission,
expected GPM), each with its reasons."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xingqu.errors import require_at_least
from xingqu.features.creators import MatchStats
from xingqu.features.portraits import PRICE_BANDS, Portraits

FIT_DIMENSIONS = ("gender", "age_band", "city_tier", "crowd", "consumption_level", "price_band")
WEIGHTS = {"fan_interest": 0.4, "portrait_fit": 0.25, "history": 0.15, "trend": 0.1, "supply": 0.1}
MIN_SHOP_SCORE = 4.0
BAND_CENTRES = {name: c for name, c in zip([n for _, n in PRICE_BANDS], (30, 75, 150, 350, 800), strict=True)}


@dataclass
class CategoryPick:
    category: str
    score: float
    expected_gpm: float
    components: dict[str, float]
    reasons: list[str]

    def to_dict(self) -> dict[str, object]:
        return {
            "category": self.category,
            "score": round(self.score, 4),
            "expected_gpm": round(self.expected_gpm, 2),
            "components": {k: round(v, 4) for k, v in self.components.items()},
            "reasons": self.reasons,
        }


@dataclass
class ProductPick:
    product_id: str
    category: str
    score: float
    price_yuan: float
    commission_rate: float
    expected_gpm: float
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "product": self.product_id,
            "category": self.category,
            "score": round(self.score, 4),
            "price_yuan": round(self.price_yuan, 2),
            "commission_rate": self.commission_rate,
            "expected_gpm": round(self.expected_gpm, 2),
            "reasons": self.reasons,
        }


@dataclass
class Selection:
    creator_id: str
    audience: int
    categories: list[CategoryPick]
    products: list[ProductPick]

    def to_dict(self) -> dict[str, object]:
        return {
            "creator": self.creator_id,
            "audience": self.audience,
            "categories": [c.to_dict() for c in self.categories],
            "products": [p.to_dict() for p in self.products],
        }


def _z(v: np.ndarray) -> np.ndarray:
    sd = v.std()
    return (v - v.mean()) / sd if sd > 0 else np.zeros_like(v)


@dataclass
class Selector:
    portraits: Portraits
    stats: MatchStats
    _buyer_shares: dict[str, np.ndarray] | None = None

    def buyer_shares(self) -> dict[str, np.ndarray]:
        """Per fit dimension: (categories × values) share of each category's buyers in each segment."""
        if self._buyer_shares is None:
            g, p = self.portraits.groups, self.portraits
            out = {}
            buyers = [g.buyers(g.items_of(category=k), window=False) for k in range(len(g.categories))]
            for dim in FIT_DIMENSIONS:
                m = np.zeros((len(g.categories), len(p.values[dim])))
                for k, users in enumerate(buyers):
                    c = p.codes[dim][users]
                    c = c[c >= 0]
                    if len(c):
                        m[k] = np.bincount(c, minlength=m.shape[1]) / len(c)
                out[dim] = m
            self._buyer_shares = out
        return self._buyer_shares

    def categories(self, creator_id: str, n: int = 3) -> tuple[list[CategoryPick], np.ndarray]:
        """The ``n`` best categories for the creator's audience, and that audience (user indices)."""
        require_at_least("n", n)
        g, p, s = self.portraits.groups, self.portraits, self.stats
        k = g.creator(creator_id)
        fans = np.unique(np.concatenate([g.row(g.follows, k), g.row(g.viewers, k)]))
        n_c = len(g.categories)
        # what the fans engage with: TGI of each category as their top category
        top = p.codes["top_category"][fans]
        names = p.values["top_category"]
        fan_share = np.zeros(n_c)
        pop_share = np.zeros(n_c)
        pop = p.population["top_category"] / max(p.population["top_category"].sum(), 1)
        counts = np.bincount(top[top >= 0], minlength=len(names)) / max(int((top >= 0).sum()), 1)
        for v, name in enumerate(names):
            c = g.categories.index.get(name)
            if c is not None:
                fan_share[c], pop_share[c] = counts[v], pop[v]
        fan_interest = np.where(pop_share > 0, fan_share / np.where(pop_share > 0, pop_share, 1), 0.0)
        # portrait fit: Σ over segments of the fans' share × the category buyers' TGI
        fit = np.zeros(n_c)
        for dim, shares in self.buyer_shares().items():
            c = p.codes[dim][fans]
            c = c[c >= 0]
            fan = np.bincount(c, minlength=shares.shape[1]) / max(len(c), 1)
            popd = p.population[dim] / max(p.population[dim].sum(), 1)
            tgi = np.where(popd > 0, shares / np.where(popd > 0, popd, 1), 0.0)
            fit += tgi @ fan
        fit /= len(FIT_DIMENSIONS)
        hist = s.creator_gmv_by_category[k]
        history = hist / hist.sum() if hist.sum() > 0 else np.zeros(n_c)
        trend = np.log((s.category_recent + 1) / (s.category_before / 3 + 1))
        good = s.item_listed & (s.item_shop_score >= MIN_SHOP_SCORE) & (s.item_commission > 0)
        supply = np.log1p(np.bincount(g.item_category[good & (g.item_category >= 0)], minlength=n_c))
        comps = {
            "fan_interest": fan_interest,
            "portrait_fit": fit,
            "history": history,
            "trend": trend,
            "supply": supply,
        }
        score = sum(WEIGHTS[name] * _z(v) for name, v in comps.items())
        score = np.where(supply > 0, score, -np.inf)
        # expected GPM: the category's own yuan per 1,000 impressions, scaled by the fans' interest in it
        imp = np.bincount(np.maximum(g.item_category, 0), weights=s.item_impressions, minlength=n_c)
        paid = np.bincount(np.maximum(g.item_category, 0), weights=s.item_paid, minlength=n_c)
        cat_gpm = paid / 100 / np.maximum(imp, 1) * 1000
        order = [c for c in np.argsort(-score, kind="stable") if np.isfinite(score[c])][:n]
        picks = []
        for c in order:
            reasons = []
            if fan_interest[c] > 1.2:
                reasons.append(f"your audience engages with it {fan_interest[c]:.1f}× as much as average")
            if fit[c] > 1.05:
                reasons.append("your audience looks like its buyers")
            if history[c] > 0.2:
                reasons.append(f"{history[c]:.0%} of your sales")
            if trend[c] > 0.1:
                reasons.append("growing this week")
            picks.append(
                CategoryPick(
                    str(g.categories.ids[c]),
                    float(score[c]),
                    float(cat_gpm[c] * max(fan_interest[c], 0.1)),
                    {name: float(v[c]) for name, v in comps.items()},
                    reasons or ["fits your audience"],
                )
            )
        return picks, fans

    def select(self, creator_id: str, n_categories: int = 3, n_products: int = 10) -> Selection:
        """Categories, then the products to sell in them, for ``creator_id``."""
        require_at_least("n_categories", n_categories)
        require_at_least("n_products", n_products)
        g, p, s = self.portraits.groups, self.portraits, self.stats
        cats, fans = self.categories(creator_id, n_categories)
        bands = p.codes["price_band"][fans]
        bands = bands[bands >= 0]
        centres = np.array([BAND_CENTRES[v] for v in p.values["price_band"]], dtype=float)
        fan_price = float(np.exp(np.mean(np.log(centres[bands])))) if len(bands) else np.nan
        by_category: list[list[ProductPick]] = []
        per_cat = n_products
        for pick in cats:
            c = g.categories.index[pick.category]
            items = np.flatnonzero((g.item_category == c) & s.item_listed)
            if not len(items):
                continue
            picks: list[ProductPick] = []
            by_category.append(picks)
            price = s.item_price[items] / 100
            price_fit = (
                np.exp(-np.abs(np.log(price / fan_price))) if np.isfinite(fan_price) else np.ones(len(items))
            )
            gpm = (s.item_paid[items] / 100 + 0.0) / (s.item_impressions[items] + 50) * 1000
            score = (
                0.35 * _z(price_fit)
                + 0.2 * _z(s.item_shop_score[items])
                + 0.15 * _z(s.item_commission[items])
                + 0.3 * _z(np.log1p(gpm))
            )
            for j in np.argsort(-score, kind="stable")[:per_cat]:
                i = items[j]
                reasons = []
                if price_fit[j] > 0.7:
                    reasons.append("in your fans' price band")
                if s.item_shop_score[i] >= 4.5:
                    reasons.append("well-rated shop")
                if s.item_commission[i] >= 0.2:
                    reasons.append(f"commission {s.item_commission[i]:.0%}")
                if gpm[j] > np.median(gpm):
                    reasons.append("converts well")
                picks.append(
                    ProductPick(
                        str(g.items.ids[i]),
                        pick.category,
                        float(score[j]),
                        float(price[j]),
                        float(s.item_commission[i]),
                        float(gpm[j]),
                        reasons,
                    )
                )
        # the best of each category in turn, so that every chosen category is represented
        products = [
            p for rank in range(per_cat) for picks in by_category if rank < len(picks) for p in [picks[rank]]
        ]
        return Selection(creator_id, len(fans), cats, products[:n_products])
