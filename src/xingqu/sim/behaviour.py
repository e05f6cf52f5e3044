"""How simulated people respond to what they are shown: a utility model through the purchase funnel.

Utility of product p for user u on day d (each part weighted by ``SimConfig.weights``):
interest in p's category, price fit to u's band in that category, style (goods with a look only),
brand affinity, function need, trend × trend sensitivity, social relation (follows the creator or is
a member of the shop), product quality, the user's lasting eagerness to shop, and the parts that move
(``xingqu.sim.intent``: needs woken by content and clicks, the visit's intent, likeness to what woke a
need). Click and order chances are logistic in the utility, with intercepts calibrated so that organic
traffic meets the configured CTR and click→pay rates. Refund chances rise with taste mismatch and
counterfeits, normalised so that each category meets its configured refund rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xingqu.domain.units import DAY_MS
from xingqu.sim.intent import Intent, empty_arrays
from xingqu.sim.world import World, sorted_unique

SURFACES = ["feed", "search", "live_room", "video", "shop_page", "mall"]
SURF = {name: i for i, name in enumerate(SURFACES)}
EVENT_TYPES = [
    "impression",
    "click",
    "add_to_cart",
    "order",
    "pay",
    "refund",
    "review",
    "follow",
    "join_fan_group",
    "join_membership",
    "share",
    "live_enter",
    "video_play",
]
EV = {name: i for i, name in enumerate(EVENT_TYPES)}
REFUND_REASONS = [
    "quality",
    "not_as_described",
    "size_fit",
    "logistics_damage",
    "seller_fault",
    "no_reason_7day",
]
_APPAREL_REASONS = np.array([0.15, 0.20, 0.45, 0.05, 0.0, 0.15])
_OTHER_REASONS = np.array([0.30, 0.25, 0.0, 0.10, 0.05, 0.30])
_FAKE_REASONS = np.array([0.60, 0.30, 0.0, 0.0, 0.0, 0.10])
_APPAREL = {"women_apparel", "men_apparel", "shoes_bags"}


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _pair_keys(pairs: np.ndarray, width: int) -> np.ndarray:
    """Sorted distinct int64 keys of (a, b) pairs: a * width + b."""
    if len(pairs) == 0:
        return np.zeros(0, np.int64)
    return sorted_unique(pairs[:, 0].astype(np.int64) * width + pairs[:, 1].astype(np.int64))


def _member(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    idx = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return sorted_keys[idx] == keys


@dataclass
class Exposure:
    """Products put in front of users: who, what, where in the list, on which surface, when."""

    users: np.ndarray
    products: np.ndarray
    positions: np.ndarray
    surface: np.ndarray
    content: np.ndarray  # -1 when not shown inside a video or live room
    ts: np.ndarray  # ms

    def __len__(self) -> int:
        return len(self.users)


@dataclass
class Events:
    """Generated events as parallel arrays of codes and indices (-1 / nan where absent)."""

    etype: np.ndarray
    ts: np.ndarray
    user: np.ndarray
    surface: np.ndarray
    product: np.ndarray
    content: np.ndarray
    creator: np.ndarray
    order: np.ndarray
    quantity: np.ndarray
    amount: np.ndarray
    position: np.ndarray
    watch_s: np.ndarray
    reason: np.ndarray
    rating: np.ndarray

    @classmethod
    def empty(cls) -> Events:
        z = np.zeros(0, np.int64)
        return cls(
            z.astype(np.int8),
            z,
            z,
            z.astype(np.int8),
            z,
            z,
            z,
            z,
            z,
            z,
            z,
            z.astype(float),
            z.astype(np.int8),
            z.astype(np.int8),
        )

    @classmethod
    def concat(cls, parts: list[Events]) -> Events:
        parts = [p for p in parts if len(p.etype)]
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__))

    def take(self, idx: np.ndarray) -> Events:
        return Events(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))

    def __len__(self) -> int:
        return len(self.etype)


def _events(n: int, etype: int, ts: np.ndarray, user: np.ndarray, **kw: np.ndarray) -> Events:
    neg = np.full(n, -1, np.int64)
    return Events(
        etype=np.full(n, etype, np.int8),
        ts=ts,
        user=user,
        surface=kw.get("surface", neg.astype(np.int8)),
        product=kw.get("product", neg),
        content=kw.get("content", neg),
        creator=kw.get("creator", neg),
        order=kw.get("order", neg),
        quantity=kw.get("quantity", neg),
        amount=kw.get("amount", neg),
        position=kw.get("position", neg),
        watch_s=kw.get("watch_s", np.full(n, np.nan)),
        reason=kw.get("reason", neg.astype(np.int8)),
        rating=kw.get("rating", neg.astype(np.int8)),
    )


_EMPTY = np.zeros(0, np.int64)


@dataclass
class MarketState:
    """What changes as the market runs: follows, purchases, sales counts, order numbers, and the
    moving part of tastes (``xingqu.sim.intent``): woken needs per user and category as of
    ``stim_ms``, the leaf of the last product that woke one, the intent of each user's visit."""

    follow_keys: np.ndarray
    member_keys: np.ndarray
    owned_keys: np.ndarray
    owned_day: np.ndarray
    sales: np.ndarray  # paid orders per product, decayed daily
    next_order: int = 0
    pending: dict[int, list[Events]] = field(default_factory=dict)  # refunds due on later days
    stim: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # (N, C)
    stim_ms: np.ndarray = field(default_factory=lambda: _EMPTY)
    last_leaf: np.ndarray = field(default_factory=lambda: _EMPTY)  # category * LEAF_WIDTH + leaf, -1
    last_leaf_ms: np.ndarray = field(default_factory=lambda: _EMPTY)
    visit_intent: np.ndarray = field(default_factory=lambda: _EMPTY)  # category, -1 browsing

    def copy(self) -> MarketState:
        return MarketState(
            self.follow_keys.copy(),
            self.member_keys.copy(),
            self.owned_keys.copy(),
            self.owned_day.copy(),
            self.sales.copy(),
            self.next_order,
            {d: list(v) for d, v in self.pending.items()},
            self.stim.copy(),
            self.stim_ms.copy(),
            self.last_leaf.copy(),
            self.last_leaf_ms.copy(),
            self.visit_intent.copy(),
        )


class Behaviour:
    """The response model of one world, calibrated at construction."""

    def __init__(self, world: World) -> None:
        self.w = world
        cfg = world.cfg
        self.K = len(world.k_kind)
        self.S = len(world.s_type)
        self.log_price = np.log(world.p_price / 100.0)
        cats = world.cat_names
        self.durable = np.array([c.durable for c in cfg.categories])
        self.repurchase = np.array([c.repurchase_days for c in cfg.categories])
        self.refund_base = np.array([c.refund_rate for c in cfg.categories])
        self.apparel = np.array([c in _APPAREL for c in cats])
        self.violating = np.array([v != "" for v in world.p_violation])
        # a shopper's lasting style taste applies to goods that have a look (clothes, furniture), not to
        # those whose styles are variants (a shampoo's scent, a snack's pack size)
        looks = np.array([lf.aesthetic for leaves in world.cat_leaves for lf in leaves], dtype=bool)
        first_leaf = np.cumsum([0] + [len(leaves) for leaves in world.cat_leaves[:-1]])
        self.aesthetic = looks[first_leaf[world.p_category] + world.p_leaf]
        self.a_click = 0.0
        self.a_order = 0.0
        self.refund_norm = np.ones(len(cats))
        self.intent = Intent(world)

    # -- state --------------------------------------------------------------------------------

    def initial_state(self) -> MarketState:
        w = self.w
        return MarketState(
            follow_keys=_pair_keys(w.follows, self.K),
            member_keys=_pair_keys(w.memberships, self.S),
            owned_keys=np.zeros(0, np.int64),
            owned_day=np.zeros(0, np.int64),
            sales=np.zeros(w.n_products),
            **empty_arrays(w.n_users, w.n_categories),
        )

    # -- utility ------------------------------------------------------------------------------

    def trend(self, products: np.ndarray, day: float) -> np.ndarray:
        peak = self.w.p_trend_peak[products]
        out = np.exp(-(((day - peak) / self.w.p_trend_width[products]) ** 2))
        return np.nan_to_num(out, nan=0.0)

    def parts(
        self,
        users: np.ndarray,
        products: np.ndarray,
        day: float,
        state: MarketState,
        content: np.ndarray | None = None,
        ts: np.ndarray | int | None = None,
    ) -> dict[str, np.ndarray]:
        """The utility's parts for each (user, product) pair, at ``ts`` (ms; the start of ``day`` when
        not given): the lasting ones, then the moving ones (woken need, visit intent, likeness to what
        woke it)."""
        w = self.w
        cats = w.p_category[products]
        t = w.start_ms + int(day * DAY_MS) if ts is None else ts
        interest = np.log(np.maximum(self.intent.interest(users, cats, day) * w.n_categories, 1e-3))
        z = (self.log_price[products] - w.u_budget_mu[users, cats]) / w.u_budget_sd[users]
        price = -0.5 * z**2
        style = (
            (w.u_style[users, w.p_styles[products, 0]] + w.u_style[users, w.p_styles[products, 1]])
            * w.cfg.styles
            / 2
            - 1
        ) * self.aesthetic[products]
        brand = (
            (w.u_brands[users] == w.p_brand[products][:, None]).any(axis=1).astype(float)
            if w.u_brands.shape[1]
            else np.zeros(len(users))
        )
        func = (w.u_function[users, cats][:, None] == w.p_functions[products]).any(axis=1).astype(float)
        trend = self.trend(products, day) * w.u_trend[users]
        shop = w.p_shop[products]
        social = _member(state.member_keys, users * self.S + shop).astype(float)
        official = w.s_official[shop]
        social = np.maximum(
            social, np.where(official >= 0, _member(state.follow_keys, users * self.K + official), 0)
        )
        if content is not None:
            has = content >= 0
            if has.any():
                creator = w.v_creator[np.maximum(content, 0)]
                social = np.maximum(social, has & _member(state.follow_keys, users * self.K + creator))
        quality = w.p_quality[products] - 0.7 + (w.s_score[shop] - 4.5) / 2
        return {
            "interest": interest,
            "price": price,
            "style": style,
            "brand": brand,
            "function": func,
            "trend": trend,
            "social": social,
            "quality": quality,
            "intent": np.minimum(self.intent.stimulation(state, users, cats, t), w.cfg.stimulus_cap),
            "session": (state.visit_intent[users] == cats).astype(float),
            "similar": self.intent.similar(state, users, products, t),
            "shopper": w.u_shopper[users],
        }

    def utility(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        weights = self.w.cfg.weights
        return sum(weights.get(k, 0.0) * v for k, v in parts.items())

    def refund_chance(
        self, products: np.ndarray, parts: dict[str, np.ndarray], day: float | None = None
    ) -> np.ndarray:
        mismatch = np.exp(-0.35 * parts["price"].clip(-8, 0) - 0.4 * parts["style"].clip(-1, 0))
        fake = np.where(self.w.p_counterfeit[products], self.w.cfg.counterfeit_refund_multiplier, 1.0)
        cats = self.w.p_category[products]
        chance = self.refund_base[cats] * mismatch * fake / self.refund_norm[cats]
        if day is not None:  # a shop's bad batch: refunds multiply while it lasts
            chance = chance * np.where(self.bad_batch(products, day), self.w.cfg.spike_refund_multiplier, 1.0)
        return np.clip(chance, 0, 0.95)

    def bad_batch(self, products: np.ndarray, day: float) -> np.ndarray:
        """Whether each product's shop is in the days of its planted bad batch (refund spike)."""
        shops = self.w.p_shop[products]
        start = self.w.s_incident_day[shops]
        return (self.w.s_misconduct[shops] == 2) & (day >= start) & (day < start + self.w.cfg.incident_days)

    def expected_value(
        self, users: np.ndarray, products: np.ndarray, day: float, state: MarketState
    ) -> np.ndarray:
        """True expected quality GMV (fen) of showing a product at the top of a user's list."""
        parts = self.parts(users, products, day, state)
        u = self.utility(parts)
        p_pay = sigmoid(self.a_click + u) * sigmoid(self.a_order + u) * self.w.cfg.order_to_pay
        keep = 1.0 - self.refund_chance(products, parts, day)
        blocked = self.owned_block(users, products, day, state)
        return p_pay * keep * self.w.p_price[products] * ~self.violating[products] * ~blocked

    def owned_block(
        self, users: np.ndarray, products: np.ndarray, day: float, state: MarketState
    ) -> np.ndarray:
        """A user does not buy again a durable product they own, nor a consumable before it runs out."""
        if len(state.owned_keys) == 0:
            return np.zeros(len(users), dtype=bool)
        keys = users * self.w.n_products + products
        idx = np.minimum(np.searchsorted(state.owned_keys, keys), len(state.owned_keys) - 1)
        found = state.owned_keys[idx] == keys
        cats = self.w.p_category[products]
        recent = (day - state.owned_day[idx]) < self.repurchase[cats]
        return found & (self.durable[cats] | recent)

    # -- calibration --------------------------------------------------------------------------

    def calibrate(self, exposure: Exposure, state: MarketState) -> None:
        """Fit intercepts so that ``exposure`` (organic traffic) meets the configured rates."""
        cfg = self.w.cfg
        parts = self.parts(exposure.users, exposure.products, 0.0, state, exposure.content, exposure.ts)
        u = self.utility(parts)
        decay = cfg.position_decay * np.minimum(exposure.positions, 30)
        self.a_click = _solve(lambda a: sigmoid(a + u - decay).mean(), cfg.target_ctr)
        pc = sigmoid(self.a_click + u - decay)
        target = cfg.target_click_to_pay / cfg.order_to_pay
        self.a_order = _solve(lambda a: (pc * sigmoid(a + u)).sum() / pc.sum(), target)
        pay_w = pc * sigmoid(self.a_order + u)
        self.refund_norm = np.ones(self.w.n_categories)
        raw = (
            self.refund_chance(exposure.products, parts)
            / self.refund_base[self.w.p_category[exposure.products]]
        )
        cats = self.w.p_category[exposure.products]
        for c in range(self.w.n_categories):
            m = cats == c
            if m.any() and pay_w[m].sum() > 0:
                self.refund_norm[c] = float((raw[m] * pay_w[m]).sum() / pay_w[m].sum())

    def paid_chance(self, exposure: Exposure, state: MarketState) -> np.ndarray:
        """Per impression, the chance it ends in a paid order (calibrated intercepts, day 0)."""
        parts = self.parts(exposure.users, exposure.products, 0.0, state, exposure.content, exposure.ts)
        u = self.utility(parts)
        decay = self.w.cfg.position_decay * np.minimum(exposure.positions, 30)
        return sigmoid(self.a_click + u - decay) * sigmoid(self.a_order + u) * self.w.cfg.order_to_pay

    # -- response -----------------------------------------------------------------------------

    def respond(self, exp: Exposure, day: int, state: MarketState, rng: np.random.Generator) -> Events:
        """Draw every event that follows from an exposure: plays, impressions, clicks … refunds."""
        w, cfg = self.w, self.w.cfg
        n = len(exp)
        out: list[Events] = []
        creator = np.where(exp.content >= 0, w.v_creator[np.maximum(exp.content, 0)], -1)
        # content surfaces: the play or room visit that carried the product
        c_idx = np.flatnonzero(exp.content >= 0)
        if len(c_idx):
            live = w.v_live[exp.content[c_idx]]
            dur = w.v_duration_s[exp.content[c_idx]]
            watch = np.where(
                live, np.minimum(rng.exponential(180, len(c_idx)), dur), dur * rng.beta(2, 5, len(c_idx))
            )
            out.append(
                _events(
                    len(c_idx),
                    EV["video_play"],
                    exp.ts[c_idx] - 15_000,
                    exp.users[c_idx],
                    surface=exp.surface[c_idx],
                    content=exp.content[c_idx],
                    creator=creator[c_idx],
                    watch_s=np.round(watch, 1),
                )
            )
            in_room = live & (exp.surface[c_idx] == SURF["live_room"])  # replays of a live count as plays
            out[-1].etype[in_room] = EV["live_enter"]
        out.append(
            _events(
                n,
                EV["impression"],
                exp.ts,
                exp.users,
                surface=exp.surface,
                product=exp.products,
                content=exp.content,
                creator=creator,
                position=exp.positions,
            )
        )
        parts = self.parts(exp.users, exp.products, float(day), state, exp.content, exp.ts)
        u = self.utility(parts)
        p_click = sigmoid(self.a_click + u - cfg.position_decay * np.minimum(exp.positions, 30))
        r = rng.random((n, 5))
        clicked = np.flatnonzero(r[:, 0] < p_click)

        def ev(idx: np.ndarray, etype: int, delay: np.ndarray | int, **kw: np.ndarray) -> Events:
            return _events(
                len(idx),
                etype,
                exp.ts[idx] + delay,
                exp.users[idx],
                surface=exp.surface[idx],
                product=exp.products[idx],
                content=exp.content[idx],
                creator=creator[idx],
                **kw,
            )

        out.append(ev(clicked, EV["click"], 5_000))
        carted = clicked[r[clicked, 1] < cfg.cart_given_click]
        out.append(ev(carted, EV["add_to_cart"], 20_000))
        p_order = sigmoid(self.a_order + u[clicked])
        blocked = self.owned_block(exp.users[clicked], exp.products[clicked], day, state)
        ordered = clicked[(r[clicked, 2] < p_order) & ~blocked]
        qty = np.where(~self.durable[w.p_category[exp.products[ordered]]] & (r[ordered, 3] < 0.15), 2, 1)
        order_no = state.next_order + np.arange(len(ordered))
        state.next_order += len(ordered)
        amount = w.p_price[exp.products[ordered]] * qty
        out.append(ev(ordered, EV["order"], 40_000, order=order_no, quantity=qty, amount=amount))
        paid_m = r[ordered, 4] < cfg.order_to_pay
        paid = ordered[paid_m]
        out.append(
            ev(paid, EV["pay"], 70_000, order=order_no[paid_m], quantity=qty[paid_m], amount=amount[paid_m])
        )
        # refunds, later
        pr = self.refund_chance(exp.products[paid], {k: v[paid] for k, v in parts.items()}, day)
        r2 = rng.random((len(paid), 4))
        refunded = r2[:, 0] < pr
        if refunded.any():
            ridx = paid[refunded]
            delay_days = 1 + (r2[refunded, 1] * 7).astype(np.int64)
            probs = np.where(
                self.apparel[w.p_category[exp.products[ridx]]][:, None], _APPAREL_REASONS, _OTHER_REASONS
            )
            bad = w.p_counterfeit[exp.products[ridx]] | self.bad_batch(exp.products[ridx], day)
            probs = np.where(bad[:, None], _FAKE_REASONS, probs)
            reason = (r2[refunded, 2][:, None] > np.cumsum(probs, axis=1)).sum(axis=1).astype(np.int8)
            ts = exp.ts[ridx] + delay_days * DAY_MS + 3_600_000
            refunds = _events(
                len(ridx),
                EV["refund"],
                ts,
                exp.users[ridx],
                product=exp.products[ridx],
                order=order_no[paid_m][refunded],
                amount=amount[paid_m][refunded],
                reason=reason,
            )
            for d in np.unique(day + delay_days):
                state.pending.setdefault(int(d), []).append(
                    refunds.take(np.flatnonzero(day + delay_days == d))
                )
        kept = paid[~refunded]
        reviewed = kept[r2[~refunded, 3] < cfg.review_share]
        if len(reviewed):
            noise = rng.normal(0, 0.7, len(reviewed))
            fake = w.p_counterfeit[exp.products[reviewed]]
            rating = np.clip(np.round(3.8 + 0.6 * np.tanh(u[reviewed]) + noise - 1.5 * fake), 1, 5).astype(
                np.int8
            )
            out.append(
                _events(
                    len(reviewed),
                    EV["review"],
                    exp.ts[reviewed] + 3 * DAY_MS,
                    exp.users[reviewed],
                    product=exp.products[reviewed],
                    order=order_no[np.searchsorted(ordered, reviewed)],
                    rating=rating,
                )
            )
        # follows from content clicks
        fc = clicked[(exp.content[clicked] >= 0) & (rng.random(len(clicked)) < cfg.follow_given_click)]
        if len(fc):
            keys = exp.users[fc] * self.K + creator[fc]
            new = ~_member(state.follow_keys, keys)
            fc = fc[new]
            keys = np.unique(keys[new])
            out.append(
                _events(
                    len(fc),
                    EV["follow"],
                    exp.ts[fc] + 30_000,
                    exp.users[fc],
                    surface=exp.surface[fc],
                    content=exp.content[fc],
                    creator=creator[fc],
                )
            )
            state.follow_keys = _insert_sorted(state.follow_keys, keys)
        # needs woken by what was watched and clicked
        if len(c_idx):
            self.intent.wake(
                state, exp.users[c_idx], exp.products[c_idx], exp.ts[c_idx] - 15_000, cfg.stimulus_play
            )
        self.intent.wake(
            state, exp.users[clicked], exp.products[clicked], exp.ts[clicked] + 5_000, cfg.stimulus_click
        )
        # bookkeeping: ownership and sales
        if len(paid):
            keys = np.unique(exp.users[paid] * w.n_products + exp.products[paid])
            idx = np.minimum(np.searchsorted(state.owned_keys, keys), max(len(state.owned_keys) - 1, 0))
            found = (state.owned_keys[idx] == keys) if len(state.owned_keys) else np.zeros(len(keys), bool)
            state.owned_day[idx[found]] = day
            new = keys[~found]
            at = np.searchsorted(state.owned_keys, new)
            state.owned_keys = np.insert(state.owned_keys, at, new)
            state.owned_day = np.insert(state.owned_day, at, np.full(len(new), day, dtype=np.int64))
            np.add.at(state.sales, exp.products[paid], 1)
        return Events.concat(out)


def _insert_sorted(sorted_keys: np.ndarray, new_keys: np.ndarray) -> np.ndarray:
    """Merge distinct keys that are not yet present into a sorted array (no full re-sort)."""
    return np.insert(sorted_keys, np.searchsorted(sorted_keys, new_keys), new_keys)


def _solve(f, target: float, lo: float = -20.0, hi: float = 20.0) -> float:
    """Bisection for the intercept a with f(a) = target (f increasing in a)."""
    for _ in range(60):
        mid = (lo + hi) / 2
        if f(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
