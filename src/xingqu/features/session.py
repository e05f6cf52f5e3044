"""The user's current session, as the ranker sees it: how long they were away before it, which
level-1 categories they clicked in it, the video or live room they watched last and the product they
clicked last.

A session is a run of visit events (about a product, an order or a piece of content watched; not
refunds or reviews, which come days later) with less than ``SESSION_GAP_MS`` between neighbours. The
same quantities come point in time for every logged impression (``SessionLog.rows_at``: only events
strictly before it, vectorised over the sorted log) and at serving time from each user's last
session in training continued with their events since (``SessionTails`` → ``UserSession.see``);
``build_features`` turns either into the same feature columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from xingqu.dataset.matrix import Vocabulary

#: Inactivity that ends a session (a visit).
SESSION_GAP_MS = 30 * 60_000
#: The pull of the last content watched halves every this many hours.
WATCH_HALF_LIFE_HOURS = 6.0
#: A fading pull below this share (four half-lives) is forgotten: exactly zero, not a vanishing float
#: that a tree's split can still tell from zero (a click 12 days back read as 2⁻⁴⁸ ≠ 0).
FADED = 1 / 16
HOUR_MS = 3_600_000
#: Events that watch a piece of content.
PLAYS = frozenset({"video_play", "live_enter"})
#: Events that are not a visit (they follow a purchase days later, whatever the user is doing).
NOT_VISITS = frozenset({"refund", "review"})


def is_visit(kind: str, product: str | None, order: str | None, content: str | None) -> bool:
    """Whether an event marks the user as present (and is one the online state keeps)."""
    return kind not in NOT_VISITS and bool(product or order or (content and kind in PLAYS))


@dataclass
class SessionRows:
    """Per (user, candidate) pair, flat in the order of ``build_features``' rows: the raw quantities
    the session features are made of."""

    gap_hours: np.ndarray  # time away before the current session began; nan when no earlier visit
    cat_clicks: np.ndarray  # this session's clicks in the candidate's level-1 category
    clicks: np.ndarray  # this session's clicks
    watched: np.ndarray  # content index watched last, −1 none
    watched_hours: np.ndarray  # hours since then
    clicked: np.ndarray  # item index clicked last, −1 none
    clicked_hours: np.ndarray  # hours since then

    @classmethod
    def blank(cls, n: int) -> SessionRows:
        """No session known: what the features say with the sequence-aware parts switched off."""
        return cls(
            np.full(n, np.nan, np.float32),
            np.zeros(n, np.float32),
            np.zeros(n, np.float32),
            np.full(n, -1, np.int64),
            np.zeros(n, np.float32),
            np.full(n, -1, np.int64),
            np.zeros(n, np.float32),
        )


@dataclass
class UserSession:
    """One user's last session, continued event by event at serving time."""

    last_ms: int = -1  # the last visit event, −1 none
    start_ms: int = -1  # when the last session began
    prev_end_ms: int = -1  # the end of the session before it, −1 none
    clicks: dict[int, int] = field(default_factory=dict)  # level-1 category → clicks in the last session
    watched: int = -1
    watched_ms: int = -1
    clicked: int = -1  # item index clicked last
    clicked_ms: int = -1

    def see(self, ts: int, category: int, click: bool, content: int, item: int = -1) -> None:
        """Take one visit event (oldest first): it continues the session or begins the next."""
        if self.last_ms < 0 or ts - self.last_ms >= SESSION_GAP_MS:
            self.prev_end_ms, self.start_ms, self.clicks = self.last_ms, ts, {}
        self.last_ms = max(self.last_ms, ts)
        if click and category >= 0:
            self.clicks[category] = self.clicks.get(category, 0) + 1
        if click and item >= 0:
            self.clicked, self.clicked_ms = item, ts
        if content >= 0:
            self.watched, self.watched_ms = content, ts

    def at(self, now_ms: int) -> tuple[float, dict[int, int]]:
        """(hours away before the session current at ``now_ms``, its clicks per category): a new
        session when the last visit is ``SESSION_GAP_MS`` or more ago."""
        if self.last_ms < 0:
            return float("nan"), {}
        if now_ms - self.last_ms >= SESSION_GAP_MS:
            return (now_ms - self.last_ms) / HOUR_MS, {}
        gap = (self.start_ms - self.prev_end_ms) / HOUR_MS if self.prev_end_ms >= 0 else float("nan")
        return gap, self.clicks

    def browsing(self, now_ms: int, content_categories: sp.csr_matrix) -> frozenset[int]:
        """Level-1 categories the user is browsing now: those clicked in the session current at
        ``now_ms`` and those of the content watched in it (none once the session has ended)."""
        if self.last_ms < 0 or now_ms - self.last_ms >= SESSION_GAP_MS:
            return frozenset()
        out = set(self.clicks)
        if 0 <= self.watched < content_categories.shape[0] and self.watched_ms >= self.start_ms:
            row = content_categories.indices[
                content_categories.indptr[self.watched] : content_categories.indptr[self.watched + 1]
            ]
            out.update(int(c) for c in row)
        return frozenset(out)


def serving_rows(
    sessions: list[UserSession], now_ms: int, items: np.ndarray, level1: np.ndarray
) -> SessionRows:
    """Session rows of a request's (users × candidates), vectorised over the candidates."""
    b, k = items.shape
    gaps = np.empty(b, np.float32)
    n_cat = int(level1.max(initial=-1)) + 1
    counts = np.zeros((b, n_cat + 1), np.float32)  # last column: unknown category
    for u, s in enumerate(sessions):
        gaps[u], clicks = s.at(now_ms)
        for c, n in clicks.items():
            counts[u, c] = n
    c = level1[items.ravel()]
    r = np.repeat(np.arange(b), k)
    watched = np.array([s.watched for s in sessions], np.int64)
    since = np.array(
        [(now_ms - s.watched_ms) / HOUR_MS if s.watched >= 0 else 0.0 for s in sessions], np.float32
    )
    clicked = np.array([s.clicked for s in sessions], np.int64)
    clicked_since = np.array(
        [(now_ms - s.clicked_ms) / HOUR_MS if s.clicked >= 0 else 0.0 for s in sessions], np.float32
    )
    return SessionRows(
        np.repeat(gaps, k),
        counts[r, np.where(c >= 0, c, n_cat)],
        np.repeat(counts.sum(axis=1), k),
        np.repeat(watched, k),
        np.repeat(np.maximum(since, 0), k),
        np.repeat(clicked, k),
        np.repeat(np.maximum(clicked_since, 0), k),
    )


@dataclass
class SessionTails:
    """Each user's last session as of the end of a log (by user index), for serving to continue."""

    last_ms: np.ndarray  # int64, −1 none
    start_ms: np.ndarray
    prev_end_ms: np.ndarray
    watched: np.ndarray
    watched_ms: np.ndarray
    clicks: sp.csr_matrix  # (users × level-1 categories) clicks in the last session
    clicked: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # item clicked last, −1
    clicked_ms: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def user(self, u: int) -> UserSession:
        """User ``u``'s last session (an empty one for −1, a user unknown to the model)."""
        if u < 0 or u >= len(self.last_ms):
            return UserSession()
        lo, hi = self.clicks.indptr[u], self.clicks.indptr[u + 1]
        clicks = dict(
            zip(
                self.clicks.indices[lo:hi].tolist(), self.clicks.data[lo:hi].astype(int).tolist(), strict=True
            )
        )
        return UserSession(
            int(self.last_ms[u]),
            int(self.start_ms[u]),
            int(self.prev_end_ms[u]),
            clicks,
            int(self.watched[u]),
            int(self.watched_ms[u]),
            int(self.clicked[u]) if u < len(self.clicked) else -1,  # saved before clicks were kept: none
            int(self.clicked_ms[u]) if u < len(self.clicked_ms) else -1,
        )


@dataclass
class SessionLog:
    """A log's visit events as arrays sorted by user then time, cut into sessions."""

    users: np.ndarray  # int64 user index
    ts: np.ndarray  # int64 ms
    category: np.ndarray  # level-1 category of the product clicked, −1 for other events
    content: np.ndarray  # content index watched, −1 for other events
    item: np.ndarray  # item index clicked, −1 for other events
    session: np.ndarray  # session number of each event
    start: np.ndarray  # by session: its first event's time
    prev_end: np.ndarray  # by session: the user's previous session's last event's time, −1 none
    n_categories: int

    @classmethod
    def of(
        cls, events: pa.Table, users: Vocabulary, items: Vocabulary, level1: np.ndarray, contents: Vocabulary
    ) -> SessionLog:
        """The visit events of ``events`` (canonical rows) whose user ``users`` knows."""
        # in Arrow throughout: a log of tens of millions of rows never becomes Python strings
        kind, product, content = events["event_type"], events["product_id"], events["content_id"]

        def given(column: pa.ChunkedArray) -> np.ndarray:
            return np.asarray(pc.fill_null(pc.not_equal(column, ""), False), dtype=bool)

        def one_of(names: frozenset[str]) -> np.ndarray:
            return np.asarray(pc.is_in(kind, value_set=pa.array(sorted(names), pa.string())), dtype=bool)

        play = one_of(PLAYS) & given(content)
        visit = ~one_of(NOT_VISITS) & (given(product) | given(events["order_id"]) | play)
        u = users.lookup_arrow(events["user_id"]).astype(np.int64)
        keep = np.flatnonzero(visit & (u >= 0))
        ts = pc.cast(events["ts"], pa.int64()).to_numpy()[keep]
        order_ = np.lexsort((keep, ts, u[keep]))  # by user, then time, then the log's order
        keep, ts, u = keep[order_], ts[order_], u[keep][order_]
        item = items.lookup_arrow(product.take(keep))
        clicked = np.asarray(pc.equal(kind.take(keep), "click"), dtype=bool) & (item >= 0)
        category = np.where(clicked, level1[np.maximum(item, 0)], -1)
        watched = np.where(play[keep], contents.lookup_arrow(content.take(keep)), -1)
        new = (
            np.r_[True, (u[1:] != u[:-1]) | (ts[1:] - ts[:-1] >= SESSION_GAP_MS)]
            if len(u)
            else np.zeros(0, bool)
        )
        session = np.cumsum(new) - 1
        firsts = np.flatnonzero(new)
        start = ts[firsts]
        prev_end = np.full(len(firsts), -1, np.int64)
        same_user = np.r_[False, u[firsts[1:]] == u[firsts[1:] - 1]] if len(firsts) else np.zeros(0, bool)
        prev_end[same_user] = ts[firsts[same_user] - 1]
        return cls(
            u,
            ts,
            category.astype(np.int64),
            np.asarray(watched, np.int64),
            np.where(clicked, item, -1).astype(np.int64),
            session,
            start,
            prev_end,
            int(level1.max(initial=-1)) + 1,
        )

    def rows_at(
        self, users: np.ndarray, ts: np.ndarray, items: np.ndarray, level1: np.ndarray
    ) -> SessionRows:
        """Session rows of queries (user, time, candidate item): from the events strictly before each
        query's time only, so a logged impression sees what its user had done until it was shown."""
        users, ts, items = (np.asarray(a, np.int64) for a in (users, ts, items))
        e = _last_before(self.users, self.ts, users, ts)
        seen = e >= 0
        ee = np.maximum(e, 0)
        sid = self.session[ee] if len(self.session) else np.zeros(len(e), np.int64)
        last = self.ts[ee] if len(self.ts) else np.zeros(len(e), np.int64)
        current = seen & (ts - last < SESSION_GAP_MS)
        prev = self.prev_end[sid] if len(self.prev_end) else np.full(len(e), -1)
        start = self.start[sid] if len(self.start) else np.zeros(len(e), np.int64)
        gap = np.where(
            current,
            np.where(prev >= 0, (start - prev) / HOUR_MS, np.nan),
            np.where(seen, (ts - last) / HOUR_MS, np.nan),
        )
        click = np.flatnonzero(self.category >= 0)
        index = np.arange(len(self.ts))[click]
        clicks = _count_upto(self.session[click], index, sid, e)
        width = self.n_categories + 1
        c = level1[items]
        cat_clicks = _count_upto(
            self.session[click] * width + self.category[click], index, sid * width + np.maximum(c, 0), e
        )
        cat_clicks = np.where(c >= 0, cat_clicks, 0)
        watched, since = self._last_at(self.content, users, ts)
        clicked, c_since = self._last_at(self.item, users, ts)
        return SessionRows(
            gap.astype(np.float32),
            np.where(current, cat_clicks, 0).astype(np.float32),
            np.where(current, clicks, 0).astype(np.float32),
            watched.astype(np.int64),
            since.astype(np.float32),
            clicked.astype(np.int64),
            c_since.astype(np.float32),
        )

    def _last_at(
        self, values: np.ndarray, users: np.ndarray, ts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each query (user, time): the value of ``values`` (per event, −1 where none) on its user's
        last event before it that has one (−1 none), and the hours since that event (0 none)."""
        has = np.flatnonzero(values >= 0)
        k = _last_before(self.users[has], self.ts[has], users, ts)
        found = np.maximum(k, 0)
        value = np.where(k >= 0, values[has][found] if len(has) else -1, -1)
        hours = np.where(k >= 0, (ts - (self.ts[has][found] if len(has) else 0)) / HOUR_MS, 0)
        return value, hours

    def _last_of_users(self, values: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
        """Per user: the value of ``values`` on their last event that has one, and its time (−1 none)."""
        value = np.full(n_users, -1, np.int64)
        at = np.full(n_users, -1, np.int64)
        has = np.flatnonzero(values >= 0)
        if len(has):
            ends = has[np.r_[self.users[has][1:] != self.users[has][:-1], True]]
            value[self.users[ends]] = values[ends]
            at[self.users[ends]] = self.ts[ends]
        return value, at

    def tails(self, n_users: int) -> SessionTails:
        """Each user's last session at the end of the log."""
        last_ms = np.full(n_users, -1, np.int64)
        start = np.full(n_users, -1, np.int64)
        prev_end = np.full(n_users, -1, np.int64)
        watched, watched_ms = self._last_of_users(self.content, n_users)
        clicked, clicked_ms = self._last_of_users(self.item, n_users)
        clicks = sp.csr_matrix((n_users, max(self.n_categories, 1)), dtype=np.float32)
        if len(self.users):
            ends = np.flatnonzero(np.r_[self.users[1:] != self.users[:-1], True])  # each user's last event
            u, sid = self.users[ends], self.session[ends]
            last_ms[u], start[u], prev_end[u] = self.ts[ends], self.start[sid], self.prev_end[sid]
            last_session = np.full(n_users, -1, np.int64)
            last_session[u] = sid
            hit = np.flatnonzero((self.category >= 0) & (self.session == last_session[self.users]))
            clicks = sp.csr_matrix(
                (np.ones(len(hit), np.float32), (self.users[hit], self.category[hit])), shape=clicks.shape
            )
            clicks.sum_duplicates()
        return SessionTails(last_ms, start, prev_end, watched, watched_ms, clicks, clicked, clicked_ms)


def _last_before(e_users: np.ndarray, e_ts: np.ndarray, q_users: np.ndarray, q_ts: np.ndarray) -> np.ndarray:
    """For each query, the index of its user's last event strictly before its time, −1 none (events
    sorted by user then time)."""
    n, q = len(e_users), len(q_users)
    if n == 0:
        return np.full(q, -1, np.int64)
    users = np.concatenate([e_users, q_users])
    is_event = np.r_[np.ones(n, bool), np.zeros(q, bool)]
    order = np.lexsort((is_event, np.concatenate([e_ts, q_ts]), users))  # queries first at equal times
    last = np.maximum.accumulate(np.where(is_event[order], order, -1))
    where = np.empty(n + q, np.int64)
    where[order] = np.arange(n + q)
    found = last[where[n:]]
    ok = found >= 0
    ok[ok] = e_users[found[ok]] == q_users[ok]
    return np.where(ok, found, -1)


def _count_upto(
    e_group: np.ndarray, e_order: np.ndarray, q_group: np.ndarray, q_order: np.ndarray
) -> np.ndarray:
    """For each query, how many events share its group with an order at or before its own."""
    n, q = len(e_group), len(q_group)
    if n == 0:
        return np.zeros(q, np.int64)
    groups = np.concatenate([e_group, q_group])
    is_query = np.r_[np.zeros(n, bool), np.ones(q, bool)]
    order = np.lexsort((is_query, np.concatenate([e_order, q_order]), groups))  # events first at ties
    cum = np.cumsum(~is_query[order])
    g = groups[order]
    first = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    starts = np.repeat(first, np.diff(np.r_[first, n + q]))
    before = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0)
    where = np.empty(n + q, np.int64)
    where[order] = np.arange(n + q)
    return (cum - before)[where[n:]]
