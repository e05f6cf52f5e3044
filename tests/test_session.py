"""Session features of the ranker: point in time for training rows (only the events before each
impression), the same values when serving continues a session, and the content a user watched."""

from __future__ import annotations

import dataclasses
import math
import uuid

import numpy as np
import pyarrow as pa
import pytest

from xingqu.dataset import Vocabulary
from xingqu.features.market import MarketTables, arrow_schema
from xingqu.features.profiles import Catalogue, build_profiles
from xingqu.features.ranking import BASE_FEATURES, ProfileRows, build_features, feature_names
from xingqu.features.session import (
    HOUR_MS,
    WATCH_HALF_LIFE_HOURS,
    SessionLog,
    serving_rows,
)
from xingqu.feed_training import session_log
from xingqu.online.recent import MemoryRecentEvents, RecentEvent, events_of
from xingqu.online.redis import RedisRecentEvents, connect
from xingqu.pipelines.feed.context import Recent

MIN = 60_000
T0 = 1_750_000_000_000  # an instant in June 2025 (UTC ms)

# p1, p3 are snacks; p2 is a rice cooker; video v1 carries p2.
PRODUCTS = [
    ("p1", "食品>零食"),
    ("p2", "家电>电饭煲"),
    ("p3", "食品>饮料"),
    ("p4", "服饰>T恤"),
]
LOG = [  # (minutes after T0, user, event, product, content)
    (0, "u0", "click", "p1", None),
    (10, "u0", "video_play", None, "v1"),
    (20, "u0", "click", "p2", None),
    (25, "u0", "impression", "p3", None),  # A: in the session begun at 0, after 2 clicks and v1
    (180, "u0", "impression", "p2", None),  # B: a new session, 155 min after the last event
    (185, "u0", "click", "p3", None),
    (185, "u0", "impression", "p1", None),  # C: same time as a click, which it must not see
    (190, "u0", "impression", "p1", None),  # D: the click at 185 is in this session now
    (60, "u1", "impression", "p4", None),  # E: a user's first event
    (200, "u0", "refund", "p2", None),  # not a visit: does not extend the session
    (225, "u0", "impression", "p4", None),  # F: 35 min after D (the refund is no visit)
]


def _market() -> MarketTables:
    products = pa.Table.from_pylist(
        [
            {"product_id": p, "shop_id": "s1", "category": c, "title": p, "price": 1000, "stock": 5}
            for p, c in PRODUCTS
        ],
        schema=arrow_schema("products"),
    )
    content = pa.Table.from_pylist(
        [
            {
                "content_id": "v1",
                "kind": "video",
                "creator_id": "c1",
                "product_ids": ["p2"],
                "published_at": T0 - HOUR_MS,
            }
        ],
        schema=arrow_schema("content"),
    )
    rows = []
    for k, (minute, user, kind, product, watched) in enumerate(LOG):
        row = {"event_id": f"e{k}", "event_type": kind, "ts": T0 + minute * MIN, "user_id": user}
        row |= {"product_id": product, "content_id": watched}
        if kind == "refund":
            row |= {"order_id": "o1", "amount": 1000, "refund_reason": "quality"}
        if kind == "video_play":
            row |= {"watch_s": 30.0}
        rows.append(row)
    events = pa.Table.from_pylist(rows, schema=arrow_schema("events"))
    users = pa.Table.from_pylist([{"user_id": "u0"}, {"user_id": "u1"}], schema=arrow_schema("users"))
    return MarketTables.of({"products": products, "users": users, "content": content}, events)


@pytest.fixture(scope="module")
def world() -> tuple[MarketTables, Vocabulary, Catalogue]:
    market = _market()
    users = Vocabulary(np.array(["u0", "u1"], dtype=object))
    items = Vocabulary(np.array([p for p, _ in PRODUCTS], dtype=object))
    return market, users, Catalogue.build(market, items)


def _impressions() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user, time, item) of impressions A–F, in that order."""
    shown = [r for r in LOG if r[2] == "impression"]
    users = np.array([0 if r[1] == "u0" else 1 for r in shown])
    times = np.array([T0 + r[0] * MIN for r in shown])
    items = np.array([int(r[3][1]) - 1 for r in shown])
    return users, times, items


def test_the_catalogue_knows_what_content_carries_and_is_about(world: tuple) -> None:
    _, _, cat = world
    v1 = cat.contents.index["v1"]
    assert cat.content_goods[v1].indices.tolist() == [cat.items.index["p2"]]
    assert cat.content_categories[v1].indices.tolist() == [cat.categories.index("家电")]


def test_training_rows_see_only_the_events_before_each_impression(world: tuple) -> None:
    market, users, cat = world
    log = session_log(market, users, cat)
    rows = log.rows_at(*_impressions(), cat.level1)
    gap = 155 / 60  # B starts 155 minutes after A, the last event before it
    np.testing.assert_allclose(rows.gap_hours, [np.nan, gap, gap, gap, np.nan, 35 / 60], rtol=1e-6)
    assert rows.clicks.tolist() == [2, 0, 0, 1, 0, 0]
    assert rows.cat_clicks.tolist() == [1, 0, 0, 1, 0, 0]  # A: p1 snacks; D: p3 snacks (食品)
    v1 = cat.contents.index["v1"]
    assert rows.watched.tolist() == [v1, v1, v1, v1, -1, v1]
    np.testing.assert_allclose(rows.watched_hours[:4], [15 / 60, 170 / 60, 175 / 60, 180 / 60], rtol=1e-6)
    p2, p3 = cat.items.index["p2"], cat.items.index["p3"]
    assert rows.clicked.tolist() == [p2, p2, p2, p3, -1, p3]  # C does not see the click at its time
    np.testing.assert_allclose(
        rows.clicked_hours[[0, 1, 2, 3, 5]], [5 / 60, 160 / 60, 165 / 60, 5 / 60, 40 / 60], rtol=1e-6
    )


def test_build_features_turns_the_rows_into_the_session_features(world: tuple) -> None:
    market, users, cat = world
    u, t, i = _impressions()
    profiles, stats = build_profiles(market, users, cat)
    session = session_log(market, users, cat).rows_at(u, t, i, cat.level1)
    n, r = len(i), 1
    x = build_features(
        cat,
        stats,
        ProfileRows.of(profiles, u),
        i[:, None],
        np.zeros((r, n, 1)),
        np.zeros((r, n, 1)),
        int(t.max()),
        session=session,
    )
    names = feature_names(["x"])
    assert set(BASE_FEATURES) <= set(names)
    col = {
        f: x[:, names.index(f)]
        for f in ("session_category", "watched_carries", "watched_category", "watched_leaf", "clicked_leaf")
    }
    np.testing.assert_allclose(col["session_category"], [0.5, 0, 0, 1, 0, 0])
    fade = 0.5 ** ((170 / 60) / WATCH_HALF_LIFE_HOURS)  # B shows p2, carried by v1 watched 170 min ago
    np.testing.assert_allclose(col["watched_carries"], [0, fade, 0, 0, 0, 0], rtol=1e-5)
    np.testing.assert_allclose(col["watched_category"], [0, fade, 0, 0, 0, 0], rtol=1e-5)
    np.testing.assert_allclose(col["watched_leaf"], [0, fade, 0, 0, 0, 0], rtol=1e-5)
    # B shows p2, clicked 160 min before; D shows p1 (snacks) after a click on p3 (drinks): same
    # level-1 category, another kind of product
    clicked = 0.5 ** ((160 / 60) / WATCH_HALF_LIFE_HOURS)
    np.testing.assert_allclose(col["clicked_leaf"], [0, clicked, 0, 0, 0, 0], rtol=1e-5)
    assert math.isnan(x[0, names.index("visit_gap_hours")])


def test_serving_continues_the_last_session_of_training_to_the_same_values(world: tuple) -> None:
    """A model trained until 20 min, then the later events arrive online: at each impression's time,
    the serving rows equal the training rows of the whole log."""
    market, users, cat = world
    cut = T0 + 20 * MIN
    before = MarketTables(
        market.products,
        market.users,
        market.events.filter(pa.compute.less_equal(pa.compute.cast(market.events["ts"], pa.int64()), cut)),
        market.shops,
        market.creators,
        market.content,
        market.relations,
    )
    tails = session_log(before, users, cat).tails(len(users))
    later = events_of(market.events)
    u, t, i = _impressions()
    full = SessionLog.of(market.events, users, cat.items, cat.level1, cat.contents).rows_at(
        u, t, i, cat.level1
    )
    for q in range(len(u)):
        user = users.ids[u[q]]
        evs = [e for e in later.get(user, []) if cut < e.ts < t[q]]
        recent = Recent.of(cat, evs, int(t[q]), None, tails.user(int(u[q])))
        rows = serving_rows([recent.session], int(t[q]), i[q : q + 1, None], cat.level1)
        for name in (
            "gap_hours",
            "clicks",
            "cat_clicks",
            "watched",
            "watched_hours",
            "clicked",
            "clicked_hours",
        ):
            np.testing.assert_allclose(getattr(rows, name), getattr(full, name)[q : q + 1], rtol=1e-6)


def test_sessions_saved_before_clicks_were_kept_know_no_click(world: tuple) -> None:
    market, users, cat = world
    tails = session_log(market, users, cat).tails(len(users))
    assert tails.user(0).clicked == cat.items.index["p3"]
    old = dataclasses.replace(tails, clicked=np.zeros(0, np.int64), clicked_ms=np.zeros(0, np.int64))
    assert old.user(0).clicked == -1 and old.user(0).watched == tails.user(0).watched


def _plays() -> pa.Table:
    rows = [
        {"event_id": "x1", "event_type": "video_play", "ts": T0, "user_id": "u9", "content_id": "v1"},
        {"event_id": "x2", "event_type": "follow", "ts": T0 + 1, "user_id": "u9", "creator_id": "c1"},
        {"event_id": "x3", "event_type": "click", "ts": T0 + 2, "user_id": "u9", "product_id": "p2"},
        {"event_id": "x4", "event_type": "share", "ts": T0 + 3, "user_id": "u9", "content_id": "v1"},
    ]
    return pa.Table.from_pylist([r | {"watch_s": 3.0} for r in rows], schema=arrow_schema("events"))


WANT = [
    RecentEvent(T0, "video_play", "", None, "v1"),  # a play is kept, with what was watched
    RecentEvent(T0 + 2, "click", "p2", None, None),  # neither a follow nor a share of content is
]


def test_the_online_state_keeps_what_a_user_watched() -> None:
    recent = MemoryRecentEvents()
    recent.record(_plays())
    assert recent.for_users(["u9"], T0 - 1) == [WANT]


@pytest.mark.redis
def test_redis_keeps_what_a_user_watched(redis_url: str) -> None:
    prefix = f"xingqu-test-{uuid.uuid4().hex[:8]}:"
    recent = RedisRecentEvents(connect(redis_url), redis_url, prefix)
    try:
        recent.record(_plays())
        recent.record(_plays())  # a retried batch changes nothing
        assert recent.for_users(["u9"], T0 - 1) == [WANT]
    finally:
        recent.client.delete(f"{prefix}events:u9")


def test_a_faded_pull_is_exactly_zero() -> None:
    """The features of what was watched or clicked last halve every WATCH_HALF_LIFE_HOURS and are zero
    from four half-lives on: a vanishing float (2⁻⁴⁸ twelve days on) is still not zero to a tree."""
    from xingqu.features.ranking import _fade
    from xingqu.features.session import FADED, WATCH_HALF_LIFE_HOURS

    hours = np.array(
        [0.0, WATCH_HALF_LIFE_HOURS, 4 * WATCH_HALF_LIFE_HOURS, 4 * WATCH_HALF_LIFE_HOURS + 0.1, 288.0]
    )
    assert _fade(hours).tolist() == [1.0, 0.5, FADED, 0.0, 0.0]
