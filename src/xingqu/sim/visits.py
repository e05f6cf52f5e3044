"""Visits of the closed loop: users arrive in hourly cohorts, a visit opens with a video or live room
(often about what the user is after), then the feed is asked for page after page, each page answered
before the next is asked, so that a feed that follows the visit can."""

from __future__ import annotations

import numpy as np

from xingqu.sim.behaviour import EV, SURF, Events, MarketState, _events
from xingqu.sim.intent import HOUR_MS, Intent
from xingqu.sim.world import World

#: Seconds from a visit's start to its first feed request (the opening video is watched first).
FIRST_REQUEST_MS = 60_000
#: Seconds a shown item takes; pages follow one another at this pace plus a pause.
ITEM_MS = 20_000
PAGE_PAUSE_MS = 30_000


class OpeningContent:
    """Picks the video or live room a visit opens with: one carrying a product of the visit's intent
    when there is one (else of a category drawn from the user's interests), published by then."""

    def __init__(self, world: World) -> None:
        self.w = world
        first = np.array([v[0] if v else -1 for v in world.v_products], dtype=np.int64)
        cat = np.where(first >= 0, world.p_category[np.maximum(first, 0)], -1)
        order = np.lexsort((world.v_published_ms, cat))
        order = order[cat[order] >= 0]
        self.content = order
        self.product = first[order]
        self.key = cat[order].astype(np.int64) * (1 << 44) + world.v_published_ms[order]
        self.ptr = np.searchsorted(cat[order], np.arange(world.n_categories + 1))

    def open(
        self,
        state: MarketState,
        users: np.ndarray,
        intents: np.ndarray,
        t_ms: int,
        rng: np.random.Generator,
        intent: Intent,
    ) -> Events:
        """The opening plays of the visits of ``users`` starting at ``t_ms`` (a share of visits has
        one), as play events; they wake the needs they show (``intent``)."""
        w = self.w
        watches = rng.random(len(users)) < w.cfg.visit_content_share
        g = rng.gumbel(size=(len(users), w.n_categories))
        drawn = np.argmax(np.log(w.u_interest[users] + 1e-12) + g, axis=1)
        cats = np.where(intents >= 0, intents, drawn)
        n_pub = np.searchsorted(self.key, cats.astype(np.int64) * (1 << 44) + t_ms) - self.ptr[cats]
        pick = self.ptr[cats] + (rng.random(len(users)) * np.maximum(n_pub, 1)).astype(np.int64)
        idx = np.flatnonzero(watches & (n_pub > 0))
        if len(idx) == 0:
            return Events.empty()
        which = np.minimum(pick[idx], len(self.content) - 1)
        vid, product = self.content[which], self.product[which]
        live = w.v_live[vid]
        dur = w.v_duration_s[vid]
        watch = np.where(
            live, np.minimum(rng.exponential(180, len(idx)), dur), dur * rng.beta(2, 5, len(idx))
        )
        ts = np.full(len(idx), t_ms, np.int64)
        plays = _events(
            len(idx),
            EV["video_play"],
            ts,
            users[idx],
            surface=np.full(len(idx), SURF["video"], np.int8),
            content=vid,
            creator=w.v_creator[vid],
            watch_s=np.round(watch, 1),
        )
        intent.wake(state, users[idx], product, ts, w.cfg.stimulus_play)
        return plays


def hour_cohorts(day_start_ms: int, active: np.ndarray, hour: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """The day's active users grouped by the hour their visit starts in: (start ms, users)."""
    h = np.clip(hour, 0, 23.9).astype(np.int64)
    return [(day_start_ms + int(k) * HOUR_MS, active[h == k]) for k in np.unique(h)]


def page_times(t_ms: int, page: int, per_page: int) -> int:
    """When a visit starting at ``t_ms`` asks for page ``page`` (0-based)."""
    return t_ms + FIRST_REQUEST_MS + page * (per_page * ITEM_MS + PAGE_PAUSE_MS)
