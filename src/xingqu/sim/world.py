"""The static marketplace: people, goods and places, with the latent tastes that drive behaviour.

Everything is drawn from one ``numpy.random.Generator`` in a fixed order, so a seed fixes the world.
Arrays are indexed by internal integers; external ids are made only when files are written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xingqu.sim import text, titles
from xingqu.sim.config import SimConfig

AGE_BANDS = ["18-23", "24-30", "31-40", "41-49", "50+"]
TIERS = ["T1", "NT1", "T2", "T3", "T4", "T5", "T6"]
LEVELS = ["low", "mid", "mid_high", "high"]
LEVEL_SHIFT = np.array([-0.45, -0.1, 0.25, 0.6])  # log-price shift of a user's budget by consumption level
CROWDS = [
    "gen_z",
    "urban_white_collar",
    "exquisite_mom",
    "new_middle_class",
    "urban_blue_collar",
    "small_town_youth",
    "small_town_middle_aged",
    "urban_silver",
]
SHOP_TYPES = ["flagship", "brand_authorized", "multi_brand", "ordinary"]
BRAND_TIERS = ["international", "national", "emerging", "white_label"]
CITIES: list[tuple[str, str, int]] = [
    ("北京", "北京", 0),
    ("上海", "上海", 0),
    ("广东", "广州", 0),
    ("广东", "深圳", 0),
    ("浙江", "杭州", 1),
    ("四川", "成都", 1),
    ("湖北", "武汉", 1),
    ("江苏", "南京", 1),
    ("江苏", "无锡", 2),
    ("福建", "厦门", 2),
    ("山东", "济南", 2),
    ("河北", "石家庄", 2),
    ("湖南", "岳阳", 3),
    ("广西", "桂林", 3),
    ("江西", "九江", 3),
    ("安徽", "芜湖", 3),
    ("河南", "周口", 4),
    ("四川", "绵阳", 4),
    ("山东", "菏泽", 4),
    ("云南", "曲靖", 5),
    ("甘肃", "天水", 5),
    ("贵州", "毕节", 6),
    ("黑龙江", "绥化", 6),
]
# interest tilts by gender (F, M) over the default category order
_F_TILT = np.array([3.0, 0.3, 1.5, 3.0, 1.2, 1.0, 1.0, 1.5, 1.3, 0.8, 0.6, 2.0, 0.7, 1.0, 1.0])
_M_TILT = np.array([0.3, 2.5, 1.3, 0.5, 1.0, 1.0, 1.0, 0.6, 0.9, 1.3, 2.5, 0.5, 2.0, 1.0, 1.0])


#: Kinds of planted store misconduct, by their code in ``World.s_misconduct``.
MISCONDUCT = ("", "brushing", "refund_spike")


@dataclass
class World:
    """Arrays describing one simulated marketplace (internal indices throughout)."""

    cfg: SimConfig
    start_ms: int
    # categories
    cat_names: list[str]
    cat_leaves: list[tuple[text.Leaf, ...]]  # the vocabulary of each category's leaves
    # users
    u_gender: np.ndarray
    u_age: np.ndarray
    u_city: np.ndarray
    u_tier: np.ndarray
    u_level: np.ndarray
    u_parent: np.ndarray
    u_crowd: np.ndarray
    u_registered_day: np.ndarray
    u_interest: np.ndarray  # (N, C) sums to 1
    u_budget_mu: np.ndarray  # (N, C) log yuan
    u_budget_sd: np.ndarray  # (N,)
    u_style: np.ndarray  # (N, S) sums to 1
    u_brands: np.ndarray  # (N, k) brand index, -1 none
    u_function: np.ndarray  # (N, C) need slot looked for in each category (text.Category.needs)
    u_trend: np.ndarray  # (N,) trend sensitivity 0..1
    u_activity: np.ndarray  # (N,) chance of a visit on a day
    u_shopper: np.ndarray  # (N,) how readily the user clicks and buys: a log-odds shift, for good
    # brands
    b_name: list[str]
    b_tier: np.ndarray
    b_price_pos: np.ndarray  # log-price offset
    b_category: np.ndarray
    # shops
    s_type: np.ndarray
    s_category: np.ndarray
    s_brands: list[list[int]]
    s_official: np.ndarray  # creator index of the official account, -1 none
    s_score: np.ndarray  # experience score 0..5
    s_name: list[str]
    s_misconduct: np.ndarray  # 0 none, 1 brushing, 2 refund spike (see MISCONDUCT)
    s_incident_day: np.ndarray  # first day of the brushing run or bad batch
    s_ring: dict[int, np.ndarray]  # brushing shop → the linked accounts it orders through
    s_expected_orders: np.ndarray  # paid orders a day expected before any incident (at planting)
    s_detection: np.ndarray  # chance store monitoring sees the shop's incident at that volume
    # products
    p_shop: np.ndarray
    p_brand: np.ndarray  # -1 white label
    p_category: np.ndarray
    p_leaf: np.ndarray
    p_price: np.ndarray  # fen
    p_reference: np.ndarray  # fen, -1 none; every one is planted price fraud
    p_styles: np.ndarray  # (P, 2)
    p_functions: np.ndarray  # (P, 2) need slots the product meets (words: its leaf's needs)
    p_stock: np.ndarray
    p_created_day: np.ndarray  # day listed (negative: before the window)
    p_quality: np.ndarray  # 0..1 latent
    p_appeal: np.ndarray  # broad appeal (value for money, 爆款 potential), same for everyone
    p_counterfeit: np.ndarray
    p_violation: list[str]  # "" or a kind in text.VIOLATION_KINDS
    p_violation_term: list[str]
    p_title: list[str]
    p_description: list[str]
    p_commission: np.ndarray
    p_trend_peak: np.ndarray  # day, nan when the product never trends
    p_trend_width: np.ndarray
    # creators (accounts)
    k_kind: np.ndarray  # 0 creator, 1 shop_official
    k_shop: np.ndarray  # -1 none
    k_followers: np.ndarray
    k_categories: list[list[int]]
    k_fan_category: np.ndarray  # the category fans followed the creator for
    k_drifted: np.ndarray  # bool: now sells outside it
    k_mode: np.ndarray  # 0 live, 1 short_video, 2 both
    k_name: list[str]
    # content
    v_creator: np.ndarray
    v_live: np.ndarray  # bool
    v_published_ms: np.ndarray
    v_duration_s: np.ndarray
    v_products: list[list[int]]
    # relations (initial)
    follows: np.ndarray  # (R, 2) user, creator
    fan_groups: np.ndarray  # (R2, 2) user, creator
    memberships: np.ndarray  # (R3, 2) user, shop
    # derived lookups
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.u_gender)

    @property
    def n_products(self) -> int:
        return len(self.p_shop)

    @property
    def n_categories(self) -> int:
        return len(self.cat_names)

    def price_yuan(self) -> np.ndarray:
        return self.p_price / 100.0

    def in_band(self, users: np.ndarray, products: np.ndarray, z: float = 1.645) -> np.ndarray:
        """Whether each product's price lies in its user's true price band (central 90 % by default)."""
        cats = self.p_category[products]
        mu = self.u_budget_mu[users, cats]
        sd = self.u_budget_sd[users]
        return np.abs(np.log(self.p_price[products] / 100.0) - mu) <= z * sd


def _power_law(rng: np.random.Generator, n: int, alpha: float, lo: int, hi: int) -> np.ndarray:
    """Discrete power law P(f) ∝ f^-alpha for f ≥ lo, by inverse transform, capped at hi."""
    u = rng.random(n)
    f = np.floor(lo * (1.0 - u) ** (-1.0 / (alpha - 1.0)))
    return np.minimum(f, hi).astype(np.int64)


def _price_ending(rng: np.random.Generator, yuan: np.ndarray) -> np.ndarray:
    """Round to fen, most prices ending in 9 or .9 (9.9, 19.9, 99, 199…)."""
    charm = rng.random(len(yuan)) < 0.7
    small = yuan < 20
    out = np.where(small, np.floor(yuan) + 0.9, np.floor(yuan / 10.0) * 10.0 + 9.0)
    out = np.where(charm, out, np.round(yuan, 1))
    return np.maximum(np.round(out * 100), 1).astype(np.int64)


def _choice_rows(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """One column per row, drawn with each row's (normalised) weights, by inverse CDF."""
    cum = np.cumsum(weights, axis=1)
    r = rng.random(len(weights)) * cum[:, -1]
    return np.minimum((cum < r[:, None]).sum(axis=1), weights.shape[1] - 1)


def _unique_pairs(a: np.ndarray, b: np.ndarray, width: int) -> np.ndarray:
    """Distinct (a, b) rows, sorted, via one int64 key per pair."""
    keys = sorted_unique(a.astype(np.int64) * width + b.astype(np.int64))
    return np.stack([keys // width, keys % width], axis=1)


def sorted_unique(keys: np.ndarray) -> np.ndarray:
    """Distinct values, sorted (a plain sort; faster than hashing for large int64 arrays)."""
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def _uniform_in(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A uniform integer in [lo, hi) per row (lo where the range is empty)."""
    return lo + (rng.random(len(lo)) * np.maximum(hi - lo, 0)).astype(np.int64)


def generate_world(cfg: SimConfig) -> World:
    """Draw a whole marketplace from ``cfg`` (deterministic for a given seed)."""
    from datetime import datetime

    rng = np.random.default_rng(cfg.seed)
    start_ms = int(datetime.fromisoformat(cfg.start).timestamp() * 1000)
    cats = [c.name for c in cfg.categories]
    C, S = len(cats), cfg.styles
    cat_leaves = [text.category(c).leaves for c in cats]
    N, P, K = cfg.users, cfg.products, cfg.creators
    n_shops, n_brands = cfg.shops, cfg.brands

    # --- users -----------------------------------------------------------------------------
    gender = (rng.random(N) >= cfg.female_share).astype(np.int8)  # 0 F, 1 M
    age = rng.choice(len(AGE_BANDS), N, p=np.asarray(cfg.age_shares) / sum(cfg.age_shares)).astype(np.int8)
    tier = rng.choice(len(TIERS), N, p=np.asarray(cfg.tier_shares) / sum(cfg.tier_shares)).astype(np.int8)
    city_tiers = np.array([c[2] for c in CITIES])
    city = np.empty(N, dtype=np.int16)
    for t in range(len(TIERS)):
        idx = np.flatnonzero(tier == t)
        options = np.flatnonzero(city_tiers == t)
        city[idx] = rng.choice(options, len(idx))
    level_score = -0.35 * tier + 0.25 * ((age >= 1) & (age <= 3)) + rng.normal(0, 1, N)
    level = np.searchsorted(np.quantile(level_score, [0.30, 0.65, 0.87]), level_score).astype(np.int8)
    parent = (rng.random(N) < np.where((age >= 1) & (age <= 3), 0.45, 0.08)).astype(bool)
    urban = tier <= 3
    crowd = np.select(
        [
            (age == 0) & urban,
            (gender == 0) & parent & (age >= 1) & (age <= 2) & urban,
            (age >= 2) & (age <= 3) & (tier <= 2) & (level >= 2),
            (age >= 1) & (age <= 2) & (tier <= 2) & (level >= 1),
            (age >= 1) & (age <= 3) & urban,
            (age <= 1) & ~urban,
            (age >= 4) & urban,
        ],
        [0, 2, 3, 1, 4, 5, 7],
        default=6,
    ).astype(np.int8)
    registered = -rng.integers(1, 900, N)
    tilt = np.where(gender[:, None] == 0, _F_TILT[None, :C], _M_TILT[None, :C])
    tilt = (
        tilt * np.where(parent[:, None], np.eye(C)[cats.index("mother_baby")] * 4 + 1, 1.0)
        if "mother_baby" in cats
        else tilt
    )
    interest = rng.gamma(cfg.interest_alpha * tilt)
    interest = (interest + 1e-9) / (interest + 1e-9).sum(axis=1, keepdims=True)
    med = np.log([c.median_yuan for c in cfg.categories])
    mu = (
        med[None, :]
        + LEVEL_SHIFT[level][:, None]
        + rng.normal(0, cfg.budget_spread * 0.5, (N, 1))
        + rng.normal(0, cfg.budget_spread * 0.35, (N, C))
    )
    budget_sd = cfg.budget_log_sd * np.exp(rng.normal(0, 0.2, N))
    style = rng.dirichlet(np.full(S, 0.5), N)
    u_brands = (
        rng.integers(0, n_brands, (N, cfg.brand_affinities)) if cfg.brand_affinities else np.full((N, 0), -1)
    )
    u_function = rng.integers(0, cfg.functions_per_category, (N, C))
    trend = rng.beta(2, 3, N)
    act_a = 2.0
    activity = rng.beta(act_a, act_a * (1 - cfg.active_share) / cfg.active_share, N)

    # --- brands and shops --------------------------------------------------------------------
    b_tier = rng.choice(4, n_brands, p=[0.15, 0.35, 0.3, 0.2]).astype(np.int8)
    b_price_pos = rng.normal(0, 0.3, n_brands)
    cat_weight = interest.mean(axis=0)
    b_category = rng.choice(C, n_brands, p=cat_weight)
    s_type = rng.choice(4, n_shops, p=np.asarray(cfg.shop_type_shares) / sum(cfg.shop_type_shares)).astype(
        np.int8
    )
    s_category = rng.choice(C, n_shops, p=cat_weight)
    brands_by_cat = [np.flatnonzero(b_category == c) for c in range(C)]
    s_brands: list[list[int]] = []
    for i in range(n_shops):
        pool = brands_by_cat[s_category[i]]
        if len(pool) == 0:
            pool = np.arange(n_brands)
        k = {0: 1, 1: 1, 2: int(rng.integers(2, 5)), 3: int(rng.integers(0, 2))}[int(s_type[i])]
        s_brands.append(sorted(rng.choice(pool, min(k, len(pool)), replace=False).tolist()))
    s_score = np.clip(rng.normal(4.5, 0.3, n_shops), 2.5, 5.0).round(2)

    # --- creators (shop official accounts first) ----------------------------------------------
    has_official = np.flatnonzero(rng.random(n_shops) < cfg.official_account_share)[: K // 2]
    n_off = len(has_official)
    k_kind = np.concatenate([np.ones(n_off, np.int8), np.zeros(K - n_off, np.int8)])
    k_shop = np.concatenate([has_official, np.full(K - n_off, -1)]).astype(np.int64)
    s_official = np.full(n_shops, -1, dtype=np.int64)
    s_official[has_official] = np.arange(n_off)
    k_followers = _power_law(rng, K, cfg.follower_alpha, cfg.follower_min, cfg.follower_max)
    k_categories: list[list[int]] = []
    for i in range(K):
        if k_kind[i] == 1:
            k_categories.append([int(s_category[k_shop[i]])])
        else:
            n_c = 1 + int(rng.random() < 0.4)
            k_categories.append(sorted(rng.choice(C, n_c, replace=False, p=cat_weight).tolist()))
    # fans follow a creator for its first category; drifted creators now sell in others (own stream,
    # so that the rest of the world is drawn as without them)
    k_fan_category = np.array([cs[0] for cs in k_categories], dtype=np.int64)
    drng = np.random.default_rng([cfg.seed, 29])
    k_drifted = (k_kind == 0) & (drng.random(K) < cfg.drifted_creator_share)
    for i in np.flatnonzero(k_drifted):
        others = np.setdiff1d(np.arange(C), [k_fan_category[i]])
        k_categories[i] = sorted(
            drng.choice(others, min(len(k_categories[i]), len(others)), replace=False).tolist()
        )
    k_mode = rng.choice(3, K, p=[0.35, 0.35, 0.30]).astype(np.int8)

    # --- products ----------------------------------------------------------------------------
    shop_w = rng.lognormal(np.log(30), 1.2, n_shops)
    p_shop = np.sort(rng.choice(n_shops, P, p=shop_w / shop_w.sum()))
    p_category = np.where(rng.random(P) < 0.85, s_category[p_shop], rng.choice(C, P, p=cat_weight))
    n_leaves = np.array([len(leaves) for leaves in cat_leaves])
    p_leaf = (rng.random(P) * n_leaves[p_category]).astype(np.int64)
    s_brand_n = np.array([len(b) for b in s_brands])
    s_brand_pad = np.full((n_shops, max(int(s_brand_n.max()), 1)), -1, dtype=np.int64)
    for i, bs in enumerate(s_brands):
        s_brand_pad[i, : len(bs)] = bs
    p_brand = s_brand_pad[p_shop, (rng.random(P) * s_brand_n[p_shop]).astype(np.int64)]
    # names: a brand sold in one category only may say so (…零食, …家居); one sold across categories
    # (most: shops sell some goods outside their main category) has a plain name
    branded = p_brand >= 0
    spans = [set() for _ in range(n_brands)]
    for b, c in zip(p_brand[branded].tolist(), p_category[branded].tolist(), strict=True):
        spans[b].add(c)
    b_name = text.brand_names(
        rng, [cats[next(iter(cs))] if len(cs) == 1 else None for cs in spans], b_tier == 0
    )
    s_name = text.shop_names(
        rng,
        [SHOP_TYPES[t] for t in s_type],
        [cats[c] for c in s_category],
        [b_name[bs[0]] if bs else None for bs in s_brands],
    )
    k_name = [f"{s_name[k_shop[i]]}官方号" if k_kind[i] == 1 else text.creator_name(rng, i) for i in range(K)]
    # prices: each leaf's own median (an air fryer is not priced like a fan), brands shift them, and the
    # category keeps its configured median and spread
    leaf_price = [np.log([lf.price for lf in leaves]) for leaves in cat_leaves]  # (L, 3) log yuan
    leaf_med = np.array([leaf_price[c][lf, 0] for c, lf in zip(p_category, p_leaf, strict=True)])
    between = np.array([np.var(lp[:, 0]) for lp in leaf_price])[p_category]
    sd = np.array([c.log_sd for c in cfg.categories])[p_category]
    pos = np.where(p_brand >= 0, b_price_pos[np.maximum(p_brand, 0)], 0.0)
    log_price = leaf_med + pos + rng.normal(0, np.sqrt(np.maximum(sd**2 - 0.09 - between, 0.01)))
    for c in range(C):  # brands and leaves shift prices within a category, but not the category's median
        m = p_category == c
        if m.any():
            log_price[m] += med[c] - np.median(log_price[m])
    leaf_lo = np.exp([leaf_price[c][lf, 1] for c, lf in zip(p_category, p_leaf, strict=True)])
    leaf_hi = np.exp([leaf_price[c][lf, 2] for c, lf in zip(p_category, p_leaf, strict=True)])
    lo = np.maximum(np.array([c.min_yuan for c in cfg.categories])[p_category], leaf_lo)
    hi = np.minimum(np.array([c.max_yuan for c in cfg.categories])[p_category], leaf_hi)
    p_price = _price_ending(rng, np.clip(np.exp(log_price), lo, hi))
    has_ref = rng.random(P) < 0.35
    inflated = (p_price * rng.uniform(1.1, 1.6, P)).astype(np.int64) // 100 * 100 + 90
    # goods always sell at their price, so a reference price (划线价) above it is one no sale supports:
    # price fraud under the 7-day rule. Only planted listings show one (their own random stream).
    fraud = has_ref & (np.random.default_rng([cfg.seed, 8]).random(P) < cfg.reference_fraud_share / 0.35)
    p_reference = np.where(fraud, inflated, -1)
    p_styles = np.stack([rng.integers(0, S, P), rng.integers(0, S, P)], axis=1)
    p_functions = rng.integers(0, cfg.functions_per_category, (P, 2))
    p_stock = rng.integers(0, 2000, P) * (rng.random(P) > 0.03)
    new = rng.random(P) < cfg.new_product_share
    p_created_day = np.where(new, rng.integers(0, cfg.days, P), -rng.integers(1, 365, P))
    p_quality = np.clip(rng.beta(5, 2, P) * (0.6 + 0.4 * s_score[p_shop] / 5), 0, 1)
    p_appeal = rng.normal(0, cfg.appeal_sd, P)
    p_commission = np.round(rng.choice([0.05, 0.1, 0.15, 0.2, 0.3], P), 2)
    trending = rng.random(P) < cfg.trending_share
    p_trend_peak = np.where(trending, rng.uniform(-3, cfg.days + 3, P), np.nan)
    p_trend_width = rng.uniform(2, 6, P)

    # violations (ground truth for governance): planted into titles and attributes
    p_violation = [""] * P
    p_violation_term = [""] * P
    p_counterfeit = np.zeros(P, dtype=bool)
    bad = np.flatnonzero(rng.random(P) < cfg.violation_share)
    kinds = rng.choice(len(text.VIOLATION_KINDS), len(bad), p=[0.35, 0.25, 0.1, 0.2, 0.1])
    leaves = [cat_leaves[c][lf] for c, lf in zip(p_category, p_leaf, strict=True)]
    n_specs = np.array([len(lf.specs) for lf in leaves])
    leaf_key = p_category * 1000 + p_leaf
    listings, shown_style, shown_need = titles.compose(
        leaves,
        [b_name[b] if b >= 0 else "" for b in p_brand],
        list(zip(p_shop.tolist(), p_brand.tolist(), leaf_key.tolist(), strict=True)),
        p_styles,
        p_functions,
        rng.integers(0, 1 << 30, P),
        rng.integers(0, 1 << 30, P),
        titles.spec_index(leaf_key, np.log(p_price), n_specs),
        (S, cfg.functions_per_category),
    )
    # what a title shows is the product's: a style or need it had to take to stand apart becomes its own
    moved = (shown_style != p_styles[:, 0]) & (shown_style != p_styles[:, 1])
    p_styles[moved, 0] = shown_style[moved]
    moved = (shown_need != p_functions[:, 0]) & (shown_need != p_functions[:, 1])
    p_functions[moved, 0] = shown_need[moved]
    picks = rng.integers(0, 1 << 30, P)
    p_description = [
        titles.description(lf, x.words, int(k)) for lf, x, k in zip(leaves, listings, picks, strict=True)
    ]
    p_title = [x.title for x in listings]
    for i, kind in zip(bad.tolist(), kinds.tolist(), strict=True):
        name = text.VIOLATION_KINDS[kind]
        p_violation[i] = name
        x = listings[i]
        if name == "absolute_term":
            term = text.ABSOLUTE_TERMS[int(rng.integers(len(text.ABSOLUTE_TERMS)))]
            p_title[i] = " ".join(filter(None, (x.brand, term, x.body)))
        elif name == "counterfeit":
            term = text.COUNTERFEIT_MARKERS[int(rng.integers(len(text.COUNTERFEIT_MARKERS)))]
            # a well-known brand of the category, which the shop is not authorised for
            known = np.flatnonzero(b_category[: min(n_brands, 40)] == p_category[i])
            big = (
                int(known[rng.integers(len(known))])
                if len(known)
                else int(rng.integers(0, min(n_brands, 40)))
            )
            p_brand[i] = big if big not in s_brands[p_shop[i]] else p_brand[i]
            p_title[i] = f"{term}{b_name[big]} {x.body}"
            p_price[i] = max(100, p_price[i] // 4)
            p_counterfeit[i] = True
        elif name == "prohibited":
            term, _code, goods = text.PROHIBITED_ITEMS[int(rng.integers(len(text.PROHIBITED_ITEMS)))]
            p_title[i] = goods
            p_description[i] = f"{goods}，私下发货"
        elif name == "diversion":
            term = text.DIVERSION_TERMS[int(rng.integers(len(text.DIVERSION_TERMS)))]
            p_title[i] = f"{p_title[i]}（{term}）"
        else:  # duplicate of an earlier listing in the same shop
            if i == 0 or p_shop[i - 1] != p_shop[i]:  # products are sorted by shop
                p_violation[i] = ""
                continue
            j = i - 1
            term = f"duplicate_of:{j}"
            p_category[i], p_leaf[i], p_brand[i], p_price[i] = (
                p_category[j],
                p_leaf[j],
                p_brand[j],
                p_price[j],
            )
            p_styles[i], p_functions[i], p_description[i] = p_styles[j], p_functions[j], p_description[j]
        p_violation_term[i] = term
    for i in range(P):  # a near-duplicate repeats its original's final title with a small change
        if p_violation[i] == "duplicate":
            p_title[i] = p_title[int(p_violation_term[i].split(":")[1])] + " 热卖"

    # store misconduct: none yet; ``misconduct.plant`` chooses the shops once their volume is known
    s_misconduct = np.zeros(n_shops, dtype=np.int8)
    s_incident_day = np.zeros(n_shops, dtype=np.int64)
    s_ring: dict[int, np.ndarray] = {}

    # --- content ------------------------------------------------------------------------------
    day_ms = 86_400_000
    scale = 0.5 + np.log10(np.maximum(k_followers, 10)) / 7
    n_videos = rng.poisson(cfg.videos_per_creator * scale * (k_mode != 0))
    n_lives = rng.poisson(cfg.lives_per_creator * scale * (k_mode != 1))
    v_creator = np.concatenate([np.repeat(np.arange(K), n_videos), np.repeat(np.arange(K), n_lives)])
    v_live = np.concatenate([np.zeros(n_videos.sum(), bool), np.ones(n_lives.sum(), bool)])
    order = np.lexsort((v_live, v_creator))
    v_creator, v_live = v_creator[order], v_live[order]
    V = len(v_creator)
    v_day = rng.integers(-7, cfg.days, V)
    v_hour = np.where(v_live, 19.5, rng.uniform(8, 23, V))
    v_pub = start_ms + v_day * day_ms + (v_hour * 3_600_000).astype(np.int64)
    v_dur = np.where(v_live, rng.integers(7200, 14400, V), rng.integers(10, 120, V))
    n_items = np.where(v_live, rng.integers(4, 12, V), rng.integers(1, 3, V))
    # each slot draws from the creator's shop (official accounts) or one of its categories
    slot_v = np.repeat(np.arange(V), n_items)
    slot_k = v_creator[slot_v]
    by_cat = np.argsort(p_category, kind="stable")
    cat_ptr = np.searchsorted(p_category[by_cat], np.arange(C + 1))
    shop_ptr = np.searchsorted(p_shop, np.arange(n_shops + 1))  # p_shop is sorted
    k_cat_a = np.array([cs[0] for cs in k_categories])
    k_cat_b = np.array([cs[-1] for cs in k_categories])
    slot_cat = np.where(rng.random(len(slot_v)) < 0.5, k_cat_a[slot_k], k_cat_b[slot_k])
    official = k_kind[slot_k] == 1
    shop = np.maximum(k_shop[slot_k], 0)
    lo = np.where(official, shop_ptr[shop], cat_ptr[slot_cat])
    hi = np.where(official, shop_ptr[shop + 1], cat_ptr[slot_cat + 1])
    pick = _uniform_in(rng, lo, hi)
    item = np.where(official, pick, by_cat[np.minimum(pick, P - 1)])
    keep = hi > lo
    pairs = _unique_pairs(slot_v[keep], item[keep], P)
    split = np.searchsorted(pairs[:, 0], np.arange(V + 1))
    has_items = split[1:] > split[:-1]
    v_products = [pairs[split[v] : split[v + 1], 1].tolist() for v in np.flatnonzero(has_items)]
    v_creator, v_live, v_pub, v_dur = (a[has_items] for a in (v_creator, v_live, v_pub, v_dur))

    # --- relations ----------------------------------------------------------------------------
    n_follow = rng.poisson(cfg.follows_mean, N)
    fu = np.repeat(np.arange(N), n_follow)
    k_weight = np.sqrt(k_followers.astype(float))
    k_cat_primary = k_fan_category
    by_interest = rng.random(len(fu)) < 0.6
    fcat = _choice_rows(rng, interest[fu])
    fk = rng.choice(K, len(fu), p=k_weight / k_weight.sum())
    creators_by_cat = [np.flatnonzero(k_cat_primary == c) for c in range(C)]
    for c in range(C):
        sel = np.flatnonzero(by_interest & (fcat == c))
        pool = creators_by_cat[c]
        if len(pool) and len(sel):
            w = k_weight[pool]
            fk[sel] = rng.choice(pool, len(sel), p=w / w.sum())
    follows = _unique_pairs(fu, fk, K)
    fan = follows[rng.random(len(follows)) < cfg.fan_group_share]
    mem_users = np.flatnonzero(rng.random(N) < cfg.membership_share)
    mem_cat = _choice_rows(rng, interest[mem_users])
    s_by_cat = np.argsort(s_category, kind="stable")
    s_ptr = np.searchsorted(s_category[s_by_cat], np.arange(C + 1))
    pick = _uniform_in(rng, s_ptr[mem_cat], s_ptr[mem_cat + 1])
    mem_shop = np.where(
        s_ptr[mem_cat + 1] > s_ptr[mem_cat],
        s_by_cat[np.minimum(pick, n_shops - 1)],
        rng.integers(0, n_shops, len(mem_cat)),
    )
    memberships = _unique_pairs(mem_users, mem_shop, n_shops)

    return World(
        cfg=cfg,
        start_ms=start_ms,
        cat_names=cats,
        cat_leaves=cat_leaves,
        u_gender=gender,
        u_age=age,
        u_city=city,
        u_tier=tier,
        u_level=level,
        u_parent=parent,
        u_crowd=crowd,
        u_registered_day=registered,
        u_interest=interest.astype(np.float32),
        u_budget_mu=mu.astype(np.float32),
        u_budget_sd=budget_sd.astype(np.float32),
        u_style=style.astype(np.float32),
        u_brands=u_brands,
        u_function=u_function,
        u_trend=trend,
        u_activity=activity,
        # from a stream of its own, so that everything else drawn above and below stays the same
        u_shopper=np.random.default_rng([cfg.seed, 24]).normal(0.0, cfg.shopper_sd, N),
        b_name=b_name,
        b_tier=b_tier,
        b_price_pos=b_price_pos,
        b_category=b_category,
        s_type=s_type,
        s_category=s_category,
        s_brands=s_brands,
        s_official=s_official,
        s_score=s_score,
        s_misconduct=s_misconduct,
        s_incident_day=s_incident_day,
        s_ring=s_ring,
        s_expected_orders=np.zeros(n_shops),
        s_detection=np.zeros(n_shops),
        s_name=s_name,
        p_shop=p_shop,
        p_brand=p_brand,
        p_category=p_category,
        p_leaf=p_leaf,
        p_price=p_price,
        p_reference=p_reference,
        p_styles=p_styles,
        p_functions=p_functions,
        p_stock=p_stock,
        p_created_day=p_created_day,
        p_quality=p_quality,
        p_appeal=p_appeal,
        p_counterfeit=p_counterfeit,
        p_violation=p_violation,
        p_violation_term=p_violation_term,
        p_title=p_title,
        p_description=p_description,
        p_commission=p_commission,
        p_trend_peak=p_trend_peak,
        p_trend_width=p_trend_width,
        k_kind=k_kind,
        k_shop=k_shop,
        k_followers=k_followers,
        k_categories=k_categories,
        k_fan_category=k_fan_category,
        k_drifted=k_drifted,
        k_mode=k_mode,
        k_name=k_name,
        v_creator=np.asarray(v_creator, dtype=np.int64),
        v_live=np.asarray(v_live, dtype=bool),
        v_published_ms=np.asarray(v_pub, dtype=np.int64),
        v_duration_s=np.asarray(v_dur, dtype=np.int64),
        v_products=v_products,
        follows=follows,
        fan_groups=fan,
        memberships=memberships,
    )
