"""Interest in motion in the simulator: each effect is present and sized as configured (a statistical
test per effect against what the configured model predicts), and it is written to the truth files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from xingqu.sim.behaviour import EV, SURF, Behaviour, Exposure, MarketState, sigmoid
from xingqu.sim.config import SimConfig, preset
from xingqu.sim.intent import HOUR_MS, LIFE_EVENTS, SEASONS
from xingqu.sim.policies import OraclePolicy
from xingqu.sim.run import Market, simulate
from xingqu.sim.writer import Ids

HONEST = {"brushing_share": 0.0, "refund_spike_share": 0.0}


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(SimConfig(users=6_000, products=800, creators=80, days=10, seed=3, **HONEST))


def _quiet(market: Market) -> MarketState:
    """A copy of the market's state with no need woken and no visit under way."""
    state = market.state.copy()
    state.stim[:] = 0
    state.last_leaf[:] = -1
    state.visit_intent[:] = -1
    return state


def _show(
    b: Behaviour, state: MarketState, users: np.ndarray, products: np.ndarray, t_ms: int, seed: int
) -> tuple[int, float, float]:
    """Show every user each of ``products`` at ``t_ms`` (at the top of the list): clicks drawn, the
    clicks the configured model expects, and the variance of that count."""
    u = np.repeat(users, len(products))
    p = np.tile(products, len(users))
    w = b.w
    day = (t_ms - w.start_ms) / 86_400_000
    exp = Exposure(
        u,
        p,
        np.zeros(len(u), np.int64),
        np.full(len(u), SURF["feed"], np.int8),
        np.full(len(u), -1),
        np.full(len(u), t_ms),
    )
    chance = sigmoid(b.a_click + b.utility(b.parts(u, p, day, state, None, exp.ts)))
    ev = b.respond(exp, int(day), state, np.random.default_rng(seed))
    return int((ev.etype == EV["click"]).sum()), float(chance.sum()), float((chance * (1 - chance)).sum())


def _z(a: int, na: int, b: int, nb: int) -> float:
    """Two-proportion z statistic of a/na against b/nb."""
    p = (a + b) / (na + nb)
    return (a / na - b / nb) / math.sqrt(p * (1 - p) * (1 / na + 1 / nb))


def _in(market: Market, name: str) -> tuple[int, np.ndarray]:
    c = market.world.cat_names.index(name)
    return c, np.flatnonzero(market.world.p_category == c)[:12]


@pytest.mark.parametrize("category", ["food_snacks", "appliances"])
def test_content_wakes_a_need_that_fades_by_the_categorys_half_life(market: Market, category: str) -> None:
    b, w, cfg = market.behaviour, market.world, market.cfg
    c, products = _in(market, category)
    half = cfg.categories[c].intent_half_life_h * HOUR_MS
    t0 = w.start_ms + 2 * 86_400_000
    watched, control = np.arange(0, 2_500), np.arange(2_500, 5_000)
    state = _quiet(market)
    b.intent.wake(
        state, watched, np.full(len(watched), products[0]), np.full(len(watched), t0), cfg.stimulus_play
    )
    # the woken need halves every half-life, exactly
    for k in (0, 1, 3):
        need = b.intent.stimulation(state, watched, np.full(len(watched), c), t0 + int(k * half))
        assert np.allclose(need, cfg.stimulus_play * 0.5**k, rtol=1e-5)
    # soon after: those who watched click the category's goods more, by as much as the model says
    seen = _show(b, state.copy(), watched, products[1:], t0 + int(0.1 * half), seed=1)
    unseen = _show(b, state.copy(), control, products[1:], t0 + int(0.1 * half), seed=2)
    n = len(watched) * (len(products) - 1)
    assert _z(seen[0], n, unseen[0], n) > 4
    for clicks, expected, var in (seen, unseen):
        assert abs(clicks - expected) < 4 * math.sqrt(var)
    # six half-lives later the difference is gone (within noise)
    late = t0 + int(6 * half)
    seen = _show(b, state.copy(), watched, products[1:], late, seed=3)
    unseen = _show(b, state.copy(), control, products[1:], late, seed=4)
    assert abs(_z(seen[0], n, unseen[0], n)) < 3.5


def test_products_like_the_one_that_woke_a_need_are_wanted_more(market: Market) -> None:
    b, w, cfg = market.behaviour, market.world, market.cfg
    c = w.cat_names.index("home_living")
    in_c = np.flatnonzero(w.p_category == c)
    leaf = w.p_leaf[in_c[0]]
    same = in_c[(w.p_leaf[in_c] == leaf)][1:8]
    other = in_c[(w.p_leaf[in_c] != leaf)][:7]
    assert len(same) >= 3 and len(other) >= 3
    users = np.arange(4_000)
    t0 = w.start_ms + 86_400_000
    state = _quiet(market)
    b.intent.wake(state, users, np.full(len(users), in_c[0]), np.full(len(users), t0), cfg.stimulus_click)
    part = b.intent.similar(state, users[:1].repeat(len(same) + len(other)), np.r_[same, other], t0)
    assert part.tolist() == [1.0] * len(same) + [0.0] * len(other)
    # against users who were not stimulated, the lift on the same leaf exceeds the lift on other leaves
    base = _quiet(market)
    a = (
        _show(b, state.copy(), users, same, t0 + HOUR_MS, 5)[0]
        / _show(b, base.copy(), users, same, t0 + HOUR_MS, 6)[0]
    )
    o = (
        _show(b, state.copy(), users, other, t0 + HOUR_MS, 7)[0]
        / _show(b, base.copy(), users, other, t0 + HOUR_MS, 8)[0]
    )
    assert a > o * 1.15, (a, o)


def test_visits_have_intents_that_their_searches_and_clicks_follow(market: Market) -> None:
    b, w, cfg = market.behaviour, market.world, market.cfg
    state = market.state.copy()
    rng = np.random.default_rng(11)
    users = np.arange(w.n_users)
    exp = market.traffic.exposures(users, 3, state, rng)
    active, intents, _ = market.traffic.last_visits
    focused = intents >= 0
    # the configured share of visits has an intent (binomial, 4 sd)
    sd = math.sqrt(cfg.session_focus * (1 - cfg.session_focus) / len(active))
    assert abs(focused.mean() - cfg.session_focus) < 4 * sd
    intent_of = np.full(w.n_users, -1)
    intent_of[active] = intents
    # searches look for the intent
    search = exp.surface == SURF["search"]
    looked = intent_of[exp.users[search]]
    assert (w.p_category[exp.products[search]][looked >= 0] == looked[looked >= 0]).mean() > 0.95
    # clicks on the feed's random and popular items land in the intent's category more than the
    # same items shown to browsing users would (no search or content in the comparison)
    ev = b.respond(exp, 3, state, rng)
    click = (ev.etype == EV["click"]) & (ev.surface == SURF["feed"]) & (ev.content < 0)
    shown = (exp.surface == SURF["feed"]) & (exp.content < 0) & (intent_of[exp.users] >= 0)
    hit_shown = w.p_category[exp.products[shown]] == intent_of[exp.users[shown]]
    hit_click = w.p_category[ev.product[click]] == intent_of[ev.user[click]]
    hit_click = hit_click[intent_of[ev.user[click]] >= 0]
    assert hit_click.mean() > 1.5 * hit_shown.mean(), (hit_click.mean(), hit_shown.mean())
    assert _z(int(hit_click.sum()), len(hit_click), int(hit_shown.sum()), len(hit_shown)) > 4


def test_life_events_raise_their_categories_from_their_day_on(market: Market) -> None:
    b, w, cfg = market.behaviour, market.world, market.cfg
    kind = b.intent.u_life_kind
    has = kind >= 0
    sd = math.sqrt(cfg.life_event_share * (1 - cfg.life_event_share) / w.n_users)
    assert abs(has.mean() - cfg.life_event_share) < 4 * sd
    assert not (w.u_parent & (kind == 0)).any()  # parents do not become parents again
    movers = np.flatnonzero(kind == [e.name for e in LIFE_EVENTS].index("moving_home"))
    movers = movers[(b.intent.u_life_day[movers] > 1) & (b.intent.u_life_day[movers] < cfg.days - 1)]
    c = w.cat_names.index("home_living")
    cats = np.full(len(movers), c)
    before = b.intent.interest(movers, cats, 1.0)  # 2 and 10 May: no shopping season on either day
    after = b.intent.interest(movers, cats, float(cfg.days - 1))
    assert np.allclose(after / before, LIFE_EVENTS[1].multiplier)
    # the same goods, shown before and after each mover's day: more clicks after
    products = np.flatnonzero(w.p_category == c)[:30]
    state = _quiet(market)
    day_after = int(cfg.days - 1)
    late = movers[b.intent.u_life_day[movers] < day_after - 1]
    t_before, t_after = w.start_ms, w.start_ms + day_after * 86_400_000
    early = late[b.intent.u_life_day[late] > 1]
    n = len(early) * len(products)
    clicks_before = _show(b, state.copy(), early, products, t_before, 12)[0]
    clicks_after = _show(b, state.copy(), early, products, t_after, 13)[0]
    assert n >= 1_500
    assert _z(clicks_after, n, clicks_before, n) > 4


def test_shopping_seasons_raise_their_categories_on_their_days() -> None:
    cfg = SimConfig(
        users=5_000, products=600, creators=60, days=40, seed=4, start="2026-06-01T00:00:00+08:00", **HONEST
    )
    market = Market(cfg)
    b, w = market.behaviour, market.world
    assert b.intent.seasons_on(0) == ["618"] and b.intent.seasons_on(30) == []
    c = w.cat_names.index("digital_3c")
    season = next(s for s in SEASONS if s.name == "618")
    assert b.intent.season(0)[c] == season.multiplier and b.intent.season(30)[c] == 1.0
    products = np.flatnonzero(w.p_category == c)[:15]
    users = np.arange(w.n_users)
    state = _quiet(market)
    n = len(users) * len(products)
    during = _show(b, state.copy(), users, products, w.start_ms + 5 * 86_400_000, 21)
    after = _show(b, state.copy(), users, products, w.start_ms + 30 * 86_400_000, 22)
    assert _z(during[0], n, after[0], n) > 4
    for clicks, expected, var in (during, after):
        assert abs(clicks - expected) < 4 * math.sqrt(var)


def test_the_oracle_ranks_by_the_true_current_intent(market: Market) -> None:
    b, w = market.behaviour, market.world
    ids = Ids(w)
    state = _quiet(market)
    index = {u: i for i, u in enumerate(ids.users.to_pylist())}
    oracle = OraclePolicy(b, state, ids.products, index, w.start_ms)
    users = ids.users.to_pylist()[:300]
    c = w.cat_names.index("beauty_skincare")
    cat_of = dict(zip(ids.products.to_pylist(), w.p_category.tolist(), strict=True))
    t = w.start_ms + 2 * 86_400_000 + 20 * HOUR_MS

    def share() -> float:
        lists = oracle.recommend(users, 10, t)
        return float(np.mean([cat_of[p] == c for x in lists for p in x]))

    plain = share()
    state.visit_intent[:300] = c
    assert share() > max(1.8 * plain, plain + 0.08), plain


def test_the_motion_is_written_to_the_truth_files(tmp_path: Path) -> None:
    report = simulate(preset("tiny", seed=5), tmp_path)
    truth = tmp_path / "truth"
    summary = json.loads((truth / "summary.json").read_text())["interest_in_motion"]
    visits = pq.read_table(truth / "visits.parquet")
    assert visits.num_rows == summary["visits"] > 0
    assert visits["intent"].null_count == summary["visits"] - summary["visits_with_intent"]
    life = pq.read_table(truth / "life_events.parquet")
    assert life.num_rows == sum(summary["life_events"].values())
    assert summary["intent_half_life_hours"]["appliances"] == 168.0
    assert summary["seasons_by_day"] == [[]] * 10  # 1–10 May: no shopping season yet
    # every visit's user did something that day (an impression at least)
    assert report.events_by_type["impression"] >= visits.num_rows


def test_eager_shoppers_click_and_buy_more_for_good(market: Market) -> None:
    """A lasting per-user eagerness: the top quarter clicks more than the bottom quarter, by as much as
    the model says, on the same goods."""
    b, w = market.behaviour, market.world
    order = np.argsort(w.u_shopper)
    low, high = order[:1_000], order[-1_000:]
    products = np.arange(0, w.n_products, 40)
    state = _quiet(market)
    t = w.start_ms + 86_400_000
    n = 1_000 * len(products)
    lo, hi = _show(b, state.copy(), low, products, t, 31), _show(b, state.copy(), high, products, t, 32)
    assert hi[0] > 2 * lo[0] and _z(hi[0], n, lo[0], n) > 6
    for clicks, expected, var in (lo, hi):
        assert abs(clicks - expected) < 4 * math.sqrt(var)
