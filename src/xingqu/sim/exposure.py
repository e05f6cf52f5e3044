"""Organic exposure: what reaches whom before any recommender (popularity, follows, search, random)."""

from __future__ import annotations

import numpy as np

from xingqu.sim.behaviour import DAY_MS, SURF, Exposure, MarketState
from xingqu.sim.intent import Intent
from xingqu.sim.world import World

SOURCES = ("popular", "follow", "search", "random")
#: Share of feed impressions shown inside a video or live room carrying the product.
CONTENT_SHARE = 0.4


class OrganicTraffic:
    """Samples a day's impressions for a set of users from the configured exposure mix."""

    def __init__(self, world: World, intent: Intent | None = None) -> None:
        self.w = world
        self.intent = intent
        #: The last call's visits: (users, intents, visit start ms), for the truth files.
        self.last_visits: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        P = world.n_products
        rng = np.random.default_rng([world.cfg.seed, 7])
        # the platform's head before any sales leans towards broadly appealing products
        ranks = np.argsort(np.argsort(-(world.p_appeal + rng.normal(0, 0.6, P)))) + 1
        self.prior = (1.0 / ranks) * (0.5 + world.p_quality)  # Zipf-like head before any sales
        self.prior *= 50.0 / self.prior.sum() * P / 100
        # creator → content (sorted by publish time), content → products
        order = np.lexsort((world.v_published_ms, world.v_creator))
        self.c_sorted = order
        self.c_key = world.v_creator[order] * (1 << 42) + world.v_published_ms[order]
        self.c_ptr = np.searchsorted(world.v_creator[order], np.arange(len(world.k_kind) + 1))
        lens = np.array([len(v) for v in world.v_products], dtype=np.int64)
        self.v_ptr = np.r_[0, np.cumsum(lens)]
        self.v_items = np.array([p for v in world.v_products for p in v], dtype=np.int64)
        # product → content carrying it (sorted by publish time), for discovery through videos and rooms
        v_of_item = np.repeat(np.arange(len(world.v_creator)), lens)
        porder = np.lexsort((world.v_published_ms[v_of_item], self.v_items))
        self.pc_content = v_of_item[porder]
        self.pc_key = self.v_items[porder] * (1 << 42) + world.v_published_ms[v_of_item][porder]
        self.pc_ptr = np.searchsorted(self.v_items[porder], np.arange(P + 1))
        f = world.follows
        self.f_users = f[:, 0] if len(f) else np.zeros(0, np.int64)
        self.f_creators = f[:, 1] if len(f) else np.zeros(0, np.int64)
        self.f_ptr = np.searchsorted(self.f_users, np.arange(world.n_users + 1))
        mix = world.cfg.exposure_mix
        self.mix = np.array([mix.get(s, 0.0) for s in SOURCES])
        self.mix = self.mix / self.mix.sum()

    def available(self, day: int) -> np.ndarray:
        w = self.w
        return np.flatnonzero((w.p_created_day <= day) & (w.p_stock > 0))

    def exposures(
        self, users: np.ndarray, day: int, state: MarketState, rng: np.random.Generator
    ) -> Exposure:
        """A day's organic impressions for the active ones among ``users``: one visit each, around the
        evening peak, with an intent drawn at its start that its searches follow."""
        w, cfg = self.w, self.w.cfg
        active = users[rng.random(len(users)) < w.u_activity[users]]
        hour = np.where(
            rng.random(len(active)) < 0.6, rng.normal(20, 1.5, len(active)), rng.uniform(8, 23, len(active))
        )
        visit = w.start_ms + day * DAY_MS + (np.clip(hour, 0, 23.9) * 3_600_000).astype(np.int64)
        intent = (
            self.intent.start_visits(state, active, visit, float(day), rng)
            if self.intent is not None
            else np.full(len(active), -1)
        )
        self.last_visits = (active, intent, visit)
        counts = 1 + rng.poisson(cfg.impressions_per_visit - 1, len(active))
        u = np.repeat(active, counts)
        E = len(u)
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        pos = np.arange(E) - starts
        avail = self.available(day)
        source = rng.choice(len(SOURCES), E, p=self.mix)
        products = np.empty(E, dtype=np.int64)
        content = np.full(E, -1, dtype=np.int64)
        surface = np.full(E, SURF["feed"], dtype=np.int8)
        # popular: by prior and recent sales
        weight = self.prior[avail] + state.sales[avail]
        cum = np.cumsum(weight)
        m = source == 0
        products[m] = avail[np.searchsorted(cum, rng.random(m.sum()) * cum[-1])]
        surface[m & (rng.random(E) < 0.3)] = SURF["mall"]
        # search: the visit's intent, else a category from the user's interests; then a product in it
        m = source == 2
        idx = np.flatnonzero(m)
        if len(idx):
            g = rng.gumbel(size=(len(idx), w.n_categories))
            cat = np.argmax(np.log(w.u_interest[u[idx]] + 1e-12) + g, axis=1)
            looked_for = np.repeat(intent, counts)[idx]
            cat = np.where(looked_for >= 0, looked_for, cat)
            by_cat = avail[np.argsort(w.p_category[avail], kind="stable")]
            ptr = np.searchsorted(w.p_category[by_cat], np.arange(w.n_categories + 1))
            size = ptr[cat + 1] - ptr[cat]
            pick = ptr[cat] + (rng.random(len(idx)) * np.maximum(size, 1)).astype(np.int64)
            ok = size > 0
            products[idx[ok]] = by_cat[np.minimum(pick[ok], len(by_cat) - 1)]
            source[idx[~ok]] = 3
            surface[idx] = SURF["search"]
        # follow: content of a followed creator, published by now
        m = source == 1
        idx = np.flatnonzero(m)
        if len(idx):
            n_f = self.f_ptr[u[idx] + 1] - self.f_ptr[u[idx]]
            has = n_f > 0
            pick = self.f_ptr[u[idx]] + (rng.random(len(idx)) * np.maximum(n_f, 1)).astype(np.int64)
            creator = np.where(has, self.f_creators[np.minimum(pick, len(self.f_creators) - 1)], 0)
            day_end = w.start_ms + (day + 1) * DAY_MS
            n_pub = np.searchsorted(self.c_key, creator * (1 << 42) + day_end) - self.c_ptr[creator]
            has &= n_pub > 0
            which = self.c_ptr[creator] + (rng.random(len(idx)) * np.maximum(n_pub, 1)).astype(np.int64)
            vid = self.c_sorted[np.minimum(which, len(self.c_sorted) - 1)]
            n_items = self.v_ptr[vid + 1] - self.v_ptr[vid]
            item = self.v_items[
                np.minimum(
                    self.v_ptr[vid] + (rng.random(len(idx)) * n_items).astype(np.int64), len(self.v_items) - 1
                )
            ]
            has &= (w.p_created_day[item] <= day) & (w.p_stock[item] > 0)
            products[idx[has]] = item[has]
            content[idx[has]] = vid[has]
            surface[idx[has]] = np.where(w.v_live[vid[has]], SURF["live_room"], SURF["video"])
            source[idx[~has]] = 3
        # random (and every fallback)
        m = source == 3
        products[m] = avail[rng.integers(0, len(avail), m.sum())]
        surface[m & (content < 0) & (surface == SURF["search"])] = SURF["feed"]
        # discovery: some feed items are shown inside a video or live room that carries them
        disc = np.flatnonzero((content < 0) & (surface == SURF["feed"]) & (rng.random(E) < CONTENT_SHARE))
        if len(disc):
            item = products[disc]
            day_end = w.start_ms + (day + 1) * DAY_MS
            n_pub = np.searchsorted(self.pc_key, item * (1 << 42) + day_end) - self.pc_ptr[item]
            which = self.pc_ptr[item] + (rng.random(len(disc)) * np.maximum(n_pub, 1)).astype(np.int64)
            vid = self.pc_content[np.minimum(which, len(self.pc_content) - 1)]
            ok = n_pub > 0
            content[disc[ok]] = vid[ok]
            surface[disc[ok]] = np.where(w.v_live[vid[ok]], SURF["live_room"], SURF["video"])
        # times: 20 s per item from the visit's start
        ts = np.repeat(visit, counts) + pos * 20_000
        # a live room is entered while it is live: same-day sessions move the visit into the broadcast,
        # earlier ones are watched as replays (surface "video")
        live = np.flatnonzero((content >= 0) & (surface == SURF["live_room"]))
        if len(live):
            vid = content[live]
            start = w.v_published_ms[vid]
            length = w.v_duration_s[vid] * 1000
            today = (start >= w.start_ms + day * DAY_MS) & (start < w.start_ms + (day + 1) * DAY_MS)
            ts[live[today]] = start[today] + (rng.random(int(today.sum())) * length[today]).astype(np.int64)
            surface[live[~today]] = SURF["video"]
        return Exposure(u, products, pos, surface, content, ts)
