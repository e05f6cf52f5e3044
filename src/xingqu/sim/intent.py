"""Interest in motion: needs woken by content and clicks, visits with an intent, life events, seasons.

A user's utility for a product (``Behaviour.parts``) has lasting parts (interests, budget, style…) and
three parts that move:

- ``intent``: watching a video or live room carrying a product of category c, or clicking one, wakes a
  need for c that halves every ``CategoryParams.intent_half_life_h`` hours (hours for snacks and fashion,
  days for appliances);
- ``similar``: the last product that woke a need makes products of the same leaf (a rice cooker after a
  rice-cooker video) more wanted, fading at the same pace;
- ``session``: a visit has an intent, a category drawn from the user's interests and woken needs (or
  none, when the user only browses); what the user clicks in that visit follows it.

Lasting interests move too: some users have a life event in the window (a baby, a new home, taking up
sport) that raises chosen categories from that day on, and the calendar's shopping seasons (年货节, 520,
618, 双11, winter clothing) raise theirs for everyone. All of it is in ``MarketState`` (what changes) or
drawn once per world from its own random stream (life events), so the world's catalogue and people are
the same as without it, and every closed-loop arm starts from the same moving state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from xingqu.domain.units import DAY_MS
from xingqu.sim.world import World

HOUR_MS = 3_600_000
#: Leaves per category in a leaf key (category * LEAF_WIDTH + leaf).
LEAF_WIDTH = 1 << 10


@dataclass(frozen=True)
class LifeEvent:
    """A change in a person's life that raises lasting interest in some categories from a day on."""

    name: str
    categories: tuple[str, ...]
    multiplier: float
    weight: float  # relative frequency among life events
    non_parents_only: bool = False


LIFE_EVENTS: tuple[LifeEvent, ...] = (
    LifeEvent("new_parent", ("mother_baby",), 8.0, 0.35, non_parents_only=True),
    LifeEvent("moving_home", ("home_living", "appliances"), 5.0, 0.40),
    LifeEvent("taking_up_sport", ("sports_outdoor", "health_supplements"), 4.0, 0.25),
)


@dataclass(frozen=True)
class Season:
    """A shopping season of the calendar: from (month, day) to (month, day) inclusive, wrapping the year."""

    name: str
    start: tuple[int, int]
    end: tuple[int, int]
    categories: tuple[str, ...]
    multiplier: float

    def covers(self, d: date) -> bool:
        key, lo, hi = (d.month, d.day), self.start, self.end
        return lo <= key <= hi if lo <= hi else key >= lo or key <= hi


SEASONS: tuple[Season, ...] = (
    Season("年货节", (1, 10), (2, 5), ("food_snacks", "fresh"), 1.8),
    Season("520", (5, 13), (5, 20), ("jewelry_accessories", "beauty_skincare"), 1.6),
    Season("618", (6, 1), (6, 18), ("digital_3c", "appliances", "beauty_skincare"), 1.6),
    Season("双11", (10, 20), (11, 11), ("beauty_skincare", "women_apparel", "digital_3c", "appliances"), 1.7),
    Season("winter_clothing", (11, 15), (2, 15), ("women_apparel", "men_apparel", "shoes_bags"), 1.4),
)


class Intent:
    """The moving parts of one world's tastes: read by the utility, written by what users see and do."""

    def __init__(self, world: World) -> None:
        self.w = world
        cfg = world.cfg
        C = world.n_categories
        self.half_life_ms = np.array([c.intent_half_life_h for c in cfg.categories]) * HOUR_MS
        self.start_date = datetime.fromisoformat(cfg.start).date()
        names = {n: i for i, n in enumerate(world.cat_names)}
        self.life_mult = np.ones((len(LIFE_EVENTS), C))
        for k, ev in enumerate(LIFE_EVENTS):
            for c in ev.categories:
                if c in names:
                    self.life_mult[k, names[c]] = ev.multiplier
        self.season_cats = [np.array([names[c] for c in s.categories if c in names], int) for s in SEASONS]
        self._season_cache: dict[int, np.ndarray] = {}
        # life events: drawn from their own stream so that the rest of the world is unchanged
        rng = np.random.default_rng([cfg.seed, 21])
        N = world.n_users
        has = rng.random(N) < cfg.life_event_share
        weights = np.array([e.weight for e in LIFE_EVENTS])
        kind = rng.choice(len(LIFE_EVENTS), N, p=weights / weights.sum())
        for k, ev in enumerate(LIFE_EVENTS):
            if ev.non_parents_only:  # parents already have the need: they move home or take up sport
                kind[(kind == k) & world.u_parent] = (k + 1) % len(LIFE_EVENTS)
        self.u_life_kind = np.where(has, kind, -1).astype(np.int8)
        self.u_life_day = np.where(has, rng.uniform(0, cfg.days, N), np.nan)

    # -- lasting interests that move ------------------------------------------------------------

    def season(self, day: float) -> np.ndarray:
        """Each category's seasonal multiplier on ``day`` (days since the window's start)."""
        d = int(np.floor(day))
        if d not in self._season_cache:
            out = np.ones(self.w.n_categories)
            today = self.start_date + timedelta(days=d)
            for s, cats in zip(SEASONS, self.season_cats, strict=True):
                if s.covers(today):
                    out[cats] *= s.multiplier
            self._season_cache[d] = out
        return self._season_cache[d]

    def seasons_on(self, day: float) -> list[str]:
        """Names of the seasons running on ``day``."""
        today = self.start_date + timedelta(days=int(np.floor(day)))
        return [s.name for s in SEASONS if s.covers(today)]

    def interest(self, users: np.ndarray, cats: np.ndarray, day: float) -> np.ndarray:
        """Lasting interest of each user in each category on ``day``: the drawn interest, raised by a
        life event that has happened and by the season."""
        base = self.w.u_interest[users, cats] * self.season(day)[cats]
        kind = self.u_life_kind[users]
        happened = (kind >= 0) & (self.u_life_day[users] <= day)
        if happened.any():
            base = np.where(happened, base * self.life_mult[np.maximum(kind, 0), cats], base)
        return base

    def interest_rows(self, users: np.ndarray, day: float) -> np.ndarray:
        """(len(users), C) lasting interests on ``day`` (see ``interest``)."""
        C = self.w.n_categories
        u = np.repeat(users, C)
        c = np.tile(np.arange(C), len(users))
        return self.interest(u, c, day).reshape(len(users), C)

    # -- woken needs ---------------------------------------------------------------------------

    def stimulation(self, state, users: np.ndarray, cats: np.ndarray, t_ms: np.ndarray | int) -> np.ndarray:
        """The woken need of each user for each category at ``t_ms``, decayed since it was woken."""
        dt = np.maximum(np.asarray(t_ms) - state.stim_ms[users], 0)
        return state.stim[users, cats] * np.power(0.5, dt / self.half_life_ms[cats])

    def stimulation_rows(self, state, users: np.ndarray, t_ms: np.ndarray | int) -> np.ndarray:
        """(len(users), C) woken needs at ``t_ms`` (one time, or one per user)."""
        dt = np.maximum(np.asarray(t_ms) - state.stim_ms[users], 0)[:, None]
        return state.stim[users] * np.power(0.5, dt / self.half_life_ms[None, :])

    def similar(self, state, users: np.ndarray, products: np.ndarray, t_ms: np.ndarray | int) -> np.ndarray:
        """How much each product is like the last one that woke the user's need (same leaf), faded."""
        w = self.w
        cats = w.p_category[products]
        key = cats.astype(np.int64) * LEAF_WIDTH + w.p_leaf[products]
        same = state.last_leaf[users] == key
        dt = np.maximum(np.asarray(t_ms) - state.last_leaf_ms[users], 0)
        return np.where(same, np.power(0.5, dt / self.half_life_ms[cats]), 0.0)

    def wake(
        self,
        state,
        users: np.ndarray,
        products: np.ndarray,
        ts: np.ndarray,
        amount: float | np.ndarray,
    ) -> None:
        """Wake needs: each (user, product) seen or clicked at ``ts`` adds ``amount`` to the user's need
        for the product's category and makes it the last product that woke one (the latest per user)."""
        if len(users) == 0:
            return
        w = self.w
        users = np.asarray(users, np.int64)
        ts = np.asarray(ts, np.int64)
        cats = w.p_category[products]
        uniq, inv = np.unique(users, return_inverse=True)
        t_new = np.full(len(uniq), np.iinfo(np.int64).min)
        np.maximum.at(t_new, inv, ts)
        t_new = np.maximum(t_new, state.stim_ms[uniq])
        dt = (t_new - state.stim_ms[uniq])[:, None]
        state.stim[uniq] *= np.power(0.5, dt / self.half_life_ms[None, :]).astype(np.float32)
        state.stim_ms[uniq] = t_new
        add = np.asarray(amount) * np.power(0.5, np.maximum(t_new[inv] - ts, 0) / self.half_life_ms[cats])
        np.add.at(state.stim, (users, cats), add.astype(np.float32))
        # the latest product per user becomes the one others are compared with
        order = np.lexsort((ts, users))
        last = order[np.r_[np.flatnonzero(np.diff(users[order])), len(order) - 1]]
        newer = ts[last] >= state.last_leaf_ms[users[last]]
        last = last[newer]
        p = products[last]
        state.last_leaf[users[last]] = w.p_category[p].astype(np.int64) * LEAF_WIDTH + w.p_leaf[p]
        state.last_leaf_ms[users[last]] = ts[last]

    def warm(self, state, rng: np.random.Generator, days: int = 14) -> None:
        """Give the state the woken needs of the days before the window: each day a user was active,
        a few plays (about as many as a visit has) in categories drawn from their interests, so that
        calibration on day 0 sees the level the market runs at."""
        w, cfg = self.w, self.w.cfg
        for back in range(days, 0, -1):
            active = np.flatnonzero(rng.random(w.n_users) < w.u_activity)
            n = rng.poisson(2.3, len(active))
            users = np.repeat(active, n)
            if len(users) == 0:
                continue
            g = rng.gumbel(size=(len(users), w.n_categories))
            cats = np.argmax(np.log(w.u_interest[users] + 1e-12) + g, axis=1)
            products = self._product_in(cats, rng)
            hour = np.clip(rng.normal(20, 1.5, len(users)), 0, 23.9)
            ts = w.start_ms - back * DAY_MS + (hour * HOUR_MS).astype(np.int64)
            self.wake(state, users, products, ts, cfg.stimulus_play)

    def _product_in(self, cats: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random product of each category (any product when a category has none)."""
        w = self.w
        by_cat = np.argsort(w.p_category, kind="stable")
        ptr = np.searchsorted(w.p_category[by_cat], np.arange(w.n_categories + 1))
        size = ptr[cats + 1] - ptr[cats]
        pick = ptr[cats] + (rng.random(len(cats)) * np.maximum(size, 1)).astype(np.int64)
        return np.where(
            size > 0, by_cat[np.minimum(pick, len(by_cat) - 1)], rng.integers(0, w.n_products, len(cats))
        )

    # -- visits --------------------------------------------------------------------------------

    def start_visits(
        self, state, users: np.ndarray, t_ms: np.ndarray | int, day: float, rng: np.random.Generator
    ) -> np.ndarray:
        """Draw the intent of each user's visit starting at ``t_ms`` (a category, or -1 to browse) from
        lasting interests and woken needs; kept in the state until the user's next visit."""
        cfg = self.w.cfg
        users = np.asarray(users, np.int64)
        if len(users) == 0:
            return np.zeros(0, np.int64)
        woken = self.stimulation_rows(state, users, t_ms)
        weight = self.interest_rows(users, day) * (1.0 + cfg.session_stimulus_gain * woken)
        g = rng.gumbel(size=weight.shape)
        intent = np.argmax(np.log(weight + 1e-12) + g, axis=1)
        focused = rng.random(len(users)) < cfg.session_focus
        intent = np.where(focused, intent, -1)
        state.visit_intent[users] = intent
        return intent


def empty_arrays(n_users: int, n_categories: int) -> dict[str, np.ndarray]:
    """The moving part of a fresh ``MarketState``: no need woken, no visit under way."""
    return {
        "stim": np.zeros((n_users, n_categories), np.float32),
        "stim_ms": np.full(n_users, np.iinfo(np.int64).min // 4, np.int64),
        "last_leaf": np.full(n_users, -1, np.int64),
        "last_leaf_ms": np.full(n_users, np.iinfo(np.int64).min // 4, np.int64),
        "visit_intent": np.full(n_users, -1, np.int64),
    }
