"""Every number the simulator uses, declared once with its default (``domain.md`` §8; [LOW]/[INF]
values there are defaults to tune, not facts)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CategoryParams(BaseModel):
    """One level-1 category: price distribution, refund and repeat behaviour."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    median_yuan: float = Field(description="median price, CNY (LN median)")
    log_sd: float = Field(description="log-sd of the lognormal price distribution")
    min_yuan: float
    max_yuan: float
    refund_rate: float = Field(description="share of paid orders refunded, before taste mismatch")
    repurchase_days: float = Field(description="mean days between repeat purchases of one product")
    durable: bool = Field(description="bought once; consumables may be bought again")
    restricted: bool = False
    intent_half_life_h: float = Field(
        24.0, gt=0, description="hours for a need woken by content or a click to halve (short-term intent)"
    )


def _c(
    name: str,
    med: float,
    sd: float,
    lo: float,
    hi: float,
    refund: float,
    days: float,
    durable: bool,
    restricted: bool = False,
) -> CategoryParams:
    return CategoryParams(
        intent_half_life_h=_INTENT_HALF_LIFE_H[name],
        name=name,
        median_yuan=med,
        log_sd=sd,
        min_yuan=lo,
        max_yuan=hi,
        refund_rate=refund,
        repurchase_days=days,
        durable=durable,
        restricted=restricted,
    )


#: Hours for a woken need to halve: fast for snacks and fashion, slow for appliances and big purchases.
_INTENT_HALF_LIFE_H = {
    "women_apparel": 12.0,
    "men_apparel": 12.0,
    "shoes_bags": 24.0,
    "beauty_skincare": 24.0,
    "personal_care": 24.0,
    "food_snacks": 6.0,
    "fresh": 6.0,
    "mother_baby": 72.0,
    "home_living": 72.0,
    "appliances": 168.0,
    "digital_3c": 120.0,
    "jewelry_accessories": 48.0,
    "sports_outdoor": 48.0,
    "health_supplements": 72.0,
    "books_education": 48.0,
}

#: §8.3 prices, §8.6 refund rates, §8.7 repurchase intervals.
DEFAULT_CATEGORIES: tuple[CategoryParams, ...] = (
    _c("women_apparel", 129, 0.7, 9.9, 2000, 0.50, 60, True),
    _c("men_apparel", 149, 0.7, 9.9, 2000, 0.25, 60, True),
    _c("shoes_bags", 199, 0.8, 19, 5000, 0.20, 90, True),
    _c("beauty_skincare", 139, 0.8, 9.9, 3000, 0.10, 45, False),
    _c("personal_care", 49, 0.6, 5, 500, 0.06, 30, False),
    _c("food_snacks", 39, 0.6, 5, 500, 0.05, 20, False),
    _c("fresh", 69, 0.6, 9.9, 800, 0.15, 14, False),
    _c("mother_baby", 99, 0.8, 9.9, 2000, 0.10, 30, False),
    _c("home_living", 59, 0.9, 5, 3000, 0.10, 120, True),
    _c("appliances", 399, 1.0, 29, 20000, 0.06, 300, True),
    _c("digital_3c", 299, 1.1, 9.9, 20000, 0.06, 300, True),
    _c("jewelry_accessories", 99, 1.2, 9.9, 50000, 0.12, 120, True),
    _c("sports_outdoor", 159, 0.9, 9.9, 5000, 0.12, 120, True),
    _c("health_supplements", 159, 0.7, 29, 2000, 0.08, 30, False, restricted=True),
    _c("books_education", 39, 0.6, 5, 500, 0.05, 60, True),
)


class SimConfig(BaseModel):
    """A simulated marketplace: sizes, population, supply, behaviour and the exposure mix."""

    model_config = ConfigDict(extra="forbid")

    # sizes
    users: int = Field(5_000, ge=10, description="simulated consumers")
    products: int = Field(2_000, ge=10, description="products (SPU)")
    creators: int = Field(200, ge=2, description="accounts carrying goods (creators and shop accounts)")
    days: int = Field(30, ge=1, description="days of behaviour")
    seed: int = Field(42, description="seed of the one random generator everything draws from")
    start: str = Field("2026-05-01T00:00:00+08:00", description="first simulated day (its midnight)")
    users_per_shop: float = Field(40.0, gt=0, description="users per shop (§8.2 scaled)")
    brands_per_shop: float = Field(0.5, gt=0, description="brands per shop")

    # population (§8.1)
    female_share: float = Field(0.52, ge=0, le=1)
    age_shares: tuple[float, ...] = Field((0.20, 0.27, 0.25, 0.15, 0.13), description="18-23 … 50+")
    tier_shares: tuple[float, ...] = Field((0.08, 0.15, 0.20, 0.22, 0.15, 0.12, 0.08), description="T1 … T6")
    interest_alpha: float = Field(0.3, gt=0, description="Dirichlet concentration of category interests")
    shopper_sd: float = Field(
        0.7, ge=0, description="spread of users' lasting eagerness to click and buy (log-odds)"
    )
    budget_log_sd: float = Field(0.45, gt=0, description="width of a user's price band (log scale)")
    budget_spread: float = Field(0.6, ge=0, description="spread of users' band centres around the median")
    styles: int = Field(8, ge=2, description="size of the style vocabulary")
    functions_per_category: int = Field(4, ge=1)
    brand_affinities: int = Field(3, ge=0, description="brands a user likes")
    follows_mean: float = Field(4.0, ge=0, description="creators a user follows, on average")
    fan_group_share: float = Field(0.15, ge=0, le=1, description="follows that are also fan-group joins")
    drifted_creator_share: float = Field(
        0.1,
        ge=0,
        le=1,
        description="creators (not shop accounts) who sell outside the category their fans followed them for",
    )
    membership_share: float = Field(0.05, ge=0, le=1, description="users who are members of a shop")

    # supply (§8.2, §8.8)
    shop_type_shares: tuple[float, ...] = Field(
        (0.10, 0.15, 0.25, 0.50), description="flagship, brand_authorized, multi_brand, ordinary"
    )
    official_account_share: float = Field(0.4, ge=0, le=1, description="shops with a 号店一体 account")
    follower_alpha: float = Field(2.1, gt=1, description="power-law exponent of creator follower counts")
    follower_min: int = Field(1_000, ge=1)
    follower_max: int = Field(30_000_000, ge=1)
    new_product_share: float = Field(0.15, ge=0, le=1, description="products listed during the window")
    videos_per_creator: float = Field(6.0, ge=0, description="short videos per creator over the window")
    lives_per_creator: float = Field(2.0, ge=0, description="live sessions per creator over the window")
    violation_share: float = Field(0.04, ge=0, le=1, description="listings that break a governance rule")
    reference_fraud_share: float = Field(
        0.03, ge=0, le=0.35, description="listings with a reference price no sale supports (price fraud)"
    )
    appeal_sd: float = Field(1.1, ge=0, description="spread of products' broad appeal (utility units)")
    trending_share: float = Field(0.05, ge=0, le=1, description="products that have a trend burst")

    # behaviour (§8.4–8.7)
    active_share: float = Field(0.45, gt=0, le=1, description="share of users active on a given day")
    impressions_per_visit: float = Field(8.0, gt=0, description="product impressions per active user-day")
    target_ctr: float = Field(0.05, gt=0, lt=1, description="clicks per organic product impression")
    target_click_to_pay: float = Field(0.06, gt=0, lt=1, description="paid orders per click")
    order_to_pay: float = Field(0.92, gt=0, le=1, description="orders that get paid")
    cart_given_click: float = Field(0.30, ge=0, le=1)
    review_share: float = Field(0.25, ge=0, le=1, description="kept paid orders that get a review")
    follow_given_click: float = Field(0.03, ge=0, le=1, description="content clicks that lead to a follow")
    exposure_mix: dict[str, float] = Field(
        default_factory=lambda: {"popular": 0.35, "follow": 0.20, "search": 0.30, "random": 0.15},
        description="where organic impressions come from before any recommender",
    )
    weights: dict[str, float] = Field(
        default_factory=lambda: {
            "interest": 1.0,
            "price": 1.6,
            "style": 0.8,
            "brand": 0.8,
            "function": 0.5,
            "trend": 0.8,
            "social": 0.7,
            "quality": 0.4,
            "intent": 0.9,
            "session": 1.0,
            "similar": 0.6,
            "shopper": 1.0,
        },
        description="weights of the utility's parts",
    )
    position_decay: float = Field(0.08, ge=0, description="click propensity lost per list position")

    # interest in motion (short-term intent, sessions, life events, seasons)
    stimulus_play: float = Field(0.35, ge=0, description="need woken by watching content carrying a product")
    stimulus_click: float = Field(0.6, ge=0, description="need woken by clicking a product")
    stimulus_cap: float = Field(2.0, gt=0, description="most a woken need adds to a category's utility part")
    session_focus: float = Field(
        0.7, ge=0, le=1, description="visits that have an intent (a category looked for); the rest browse"
    )
    session_stimulus_gain: float = Field(
        1.5, ge=0, description="how much woken needs steer a visit's intent, beside lasting interests"
    )
    visit_content_share: float = Field(
        0.6, ge=0, le=1, description="visits that open with a video or live room (closed loop)"
    )
    life_event_share: float = Field(
        0.04, ge=0, le=1, description="users whose lasting interests shift during the window (life events)"
    )
    counterfeit_refund_multiplier: float = Field(3.0, ge=1)

    # store misconduct (ground truth for store monitoring), planted where the volume makes it observable
    brushing_share: float = Field(0.03, ge=0, le=0.5, description="shops that brush orders (刷单) once")
    refund_spike_share: float = Field(
        0.03, ge=0, le=0.5, description="shops with one bad batch (refund spike)"
    )
    incident_days: int = Field(5, ge=1, description="days a brushing run or a bad batch lasts")
    brushing_ring: int = Field(8, ge=1, description="linked accounts a brushing shop orders through")
    brushing_orders_per_day: int = Field(15, ge=1, description="fake orders a day during a brushing run")
    spike_refund_multiplier: float = Field(10.0, ge=1, description="refund chance in a bad batch, × normal")
    incident_min_detection: float = Field(
        0.8,
        ge=0,
        le=1,
        description="incidents go to shops whose expected volume gives store monitoring at least this chance "
        "to see them (the shops closest to it when too few do)",
    )

    categories: tuple[CategoryParams, ...] = DEFAULT_CATEGORIES
    chunk_users: int = Field(250_000, ge=1_000, description="users simulated at once (bounds memory)")

    @property
    def shops(self) -> int:
        return max(2, round(self.users / self.users_per_shop))

    @property
    def brands(self) -> int:
        return max(2, round(self.shops * self.brands_per_shop))


Preset = Literal["demo", "large", "tiny"]

PRESETS: dict[str, dict[str, object]] = {
    "tiny": {"users": 400, "products": 300, "creators": 30, "days": 10},
    "demo": {"users": 5_000, "products": 2_000, "creators": 200, "days": 30},
    # ~55M events over 30 days: ~1.8 product events per user-day
    "large": {
        "users": 1_000_000,
        "products": 100_000,
        "creators": 10_000,
        "days": 30,
        "active_share": 0.3,
        "impressions_per_visit": 4.5,
    },
}


def preset(name: str, **overrides: object) -> SimConfig:
    """A named preset with optional overrides (None values are ignored)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    values = dict(PRESETS[name])
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SimConfig(**values)
