"""The simulator: determinism, calibration against its configured targets, importability, closed loop."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from test_cli import xingqu
from xingqu.errors import UserError
from xingqu.ingest import import_path
from xingqu.sim.ab import BUILTIN, run_ab, t95
from xingqu.sim.behaviour import EV, Events
from xingqu.sim.config import DEFAULT_CATEGORIES, SimConfig, preset
from xingqu.sim.run import Market, simulate
from xingqu.sim.world import generate_world
from xingqu.store import Store


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    cfg = preset("tiny", seed=7)
    simulate(cfg, tmp_path / "a")
    simulate(cfg, tmp_path / "b")
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert a.keys() == b.keys() and len(a) >= 10 + 8  # catalog, events per day, truth
    assert all(a[k] == b[k] for k in a), [k for k in a if a[k] != b[k]]
    simulate(preset("tiny", seed=8), tmp_path / "c")
    c = _files(tmp_path / "c")
    assert c["events-2026-05-01.parquet"] != a["events-2026-05-01.parquet"]


def test_output_imports_and_totals_match_the_truth(tmp_path: Path) -> None:
    report = simulate(preset("tiny"), tmp_path / "m")
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    imported = import_path(store, tmp_path / "m")
    assert imported.rejected == 0
    counts = store.counts()
    written = {
        (r["user_id"], r["kind"], r["target_id"])
        for r in pq.read_table(tmp_path / "m" / "relations.parquet").to_pylist()
    }
    kinds = {"follow": "follow", "join_fan_group": "fan_group", "join_membership": "membership"}
    followed = {
        (
            e["user_id"],
            kinds[e["event_type"]],
            e["shop_id"] if e["event_type"] == "join_membership" else e["creator_id"],
        )
        for f in (tmp_path / "m").glob("events-*.parquet")
        for e in pq.read_table(f).to_pylist()
        if e["event_type"] in kinds
    }
    # relations: those written, plus those that follow events created
    assert counts["relations"] == len(written | {r for r in followed if r[2] is not None})
    assert {k: counts[k] for k in report.records if k != "relations"} == {
        k: v for k, v in report.records.items() if k != "relations"
    }
    assert counts["events"] == report.events
    summary = json.loads((tmp_path / "m" / "truth" / "summary.json").read_text(encoding="utf-8"))
    paid = sum(
        pq.read_table(f).filter(pc.equal(pq.read_table(f)["event_type"], "pay"))["amount"].to_numpy().sum()
        for f in (tmp_path / "m").glob("events-*.parquet")
    )
    assert summary["paid_gmv_fen"] == report.paid_gmv_fen == paid > 0
    assert sum(summary["daily_paid_gmv_fen"]) == paid
    truth = pq.read_table(tmp_path / "m" / "truth" / "users.parquet")
    assert truth.num_rows == report.records["users"]  # the truth is there, and was not imported
    assert not any("truth" in f.path for f in imported.files)


def test_refuses_a_folder_that_is_not_a_simulation(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UserError, match="not empty"):
        simulate(preset("tiny"), tmp_path)
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_population_shares_and_price_medians() -> None:
    cfg = SimConfig(users=40_000, products=40_000, creators=20_000, days=5, seed=3)
    w = generate_world(cfg)
    assert abs((w.u_gender == 0).mean() - cfg.female_share) < 0.01
    ages = np.bincount(w.u_age, minlength=5) / w.n_users
    assert np.abs(ages - np.array(cfg.age_shares)).max() < 0.01
    checked = 0
    for c, spec in enumerate(DEFAULT_CATEGORIES):
        normal = (w.p_category == c) & ~w.p_counterfeit & np.array([v != "duplicate" for v in w.p_violation])
        if normal.sum() < 400:
            continue
        median = float(np.median(w.p_price[normal] / 100))
        assert abs(median / spec.median_yuan - 1) < 0.10, (spec.name, median, spec.median_yuan)
        checked += 1
    assert checked >= 10
    # follower counts: discrete power law, exponent by maximum likelihood (Clauset et al. 2009, eq. 3.7)
    f = w.k_followers[w.k_followers >= cfg.follower_min].astype(float)
    alpha = 1 + len(f) / np.log(f / (cfg.follower_min - 0.5)).sum()
    assert abs(alpha - cfg.follower_alpha) < 0.06, alpha
    charm = np.isin(w.p_price % 1000, [900, 990]) | (w.p_price % 100 == 90)
    assert 0.6 < charm.mean() < 0.85  # most prices end in 9 or .9


def _run(cfg: SimConfig) -> tuple[Market, Events]:
    market = Market(cfg)
    parts = []
    for day in range(cfg.days):
        parts.extend(market.organic_day(day))
    parts.extend(e for es in market.state.pending.values() for e in es)  # refunds due after the window
    return market, Events.concat(parts)


#: Calibration concerns organic behaviour: no planted store misconduct in these runs.
HONEST = {"brushing_share": 0.0, "refund_spike_share": 0.0}


def test_funnel_rates_meet_their_targets() -> None:
    cfg = SimConfig(users=20_000, products=3_000, creators=300, days=6, seed=5, **HONEST)
    _market, ev = _run(cfg)
    n = Counter(ev.etype.tolist())
    ctr = n[EV["click"]] / n[EV["impression"]]
    assert abs(ctr / cfg.target_ctr - 1) < 0.15, ctr
    click_to_pay = n[EV["pay"]] / n[EV["click"]]
    assert abs(click_to_pay / cfg.target_click_to_pay - 1) < 0.20, click_to_pay
    assert abs(n[EV["pay"]] / n[EV["order"]] - cfg.order_to_pay) < 0.03


def test_style_taste_moves_clicks_on_goods_with_a_look_and_not_on_variants() -> None:
    """A shopper's lasting style (Dirichlet over the latent axes) lifts clicks on clothes or furniture
    of their styles; for goods whose 'styles' are variants (a scent, a pack size) it changes nothing."""
    cfg = SimConfig(users=10_000, products=2_000, creators=200, days=6, seed=11, **HONEST)
    market, ev = _run(cfg)
    w, b = market.world, market.behaviour
    pairs = ev.user.astype(np.int64) * w.n_products + ev.product
    shown = (ev.etype == EV["impression"]) & (ev.product >= 0)
    clicked = np.isin(pairs[shown], pairs[ev.etype == EV["click"]])
    u, p = ev.user[shown], ev.product[shown]
    fit = w.u_style[u, w.p_styles[p, 0]] + w.u_style[u, w.p_styles[p, 1]]  # 0 (unliked) to 2
    looks = b.aesthetic[p]
    assert 0.3 < b.aesthetic.mean() < 0.7  # clothes, shoes, home, appliances… against consumables
    lifts = {}
    for name, group in (("look", looks), ("variant", ~looks)):
        top = group & (fit >= np.quantile(fit[group], 2 / 3))
        low = group & (fit <= np.quantile(fit[group], 1 / 3))
        lifts[name] = clicked[top].mean() / clicked[low].mean()
        assert top.sum() > 20_000 and low.sum() > 20_000, (name, top.sum(), low.sum())
    assert lifts["look"] > 1.5, lifts
    assert abs(lifts["variant"] - 1) < 0.08, lifts


def test_refund_rates_per_category_meet_their_targets() -> None:
    # more buying than the defaults, so that every category has enough paid orders to measure
    cfg = SimConfig(
        users=20_000,
        products=3_000,
        creators=300,
        days=8,
        seed=9,
        target_ctr=0.12,
        target_click_to_pay=0.25,
        violation_share=0.0,
        **HONEST,
    )
    market, ev = _run(cfg)
    cats = market.world.p_category
    pays = ev.etype == EV["pay"]
    refunds = ev.etype == EV["refund"]
    checked = 0
    for c, spec in enumerate(cfg.categories):
        n_pay = int((pays & (cats[np.maximum(ev.product, 0)] == c)).sum())
        if n_pay < 400:
            continue
        rate = (refunds & (cats[np.maximum(ev.product, 0)] == c)).sum() / n_pay
        sd = math.sqrt(spec.refund_rate * (1 - spec.refund_rate) / n_pay)
        assert abs(rate - spec.refund_rate) < max(4 * sd, 0.25 * spec.refund_rate), (spec.name, rate, n_pay)
        checked += 1
    assert checked >= 8


def test_planted_violations_are_in_titles_and_truth(tmp_path: Path) -> None:
    simulate(SimConfig(users=300, products=1_500, creators=20, days=1, seed=2), tmp_path)
    truth = pq.read_table(tmp_path / "truth" / "products.parquet").to_pylist()
    products = {r["product_id"]: r for r in pq.read_table(tmp_path / "products.parquet").to_pylist()}
    bad = [t for t in truth if t["violation"]]
    assert len(bad) > 20
    kinds = Counter(t["violation"] for t in bad)
    assert {"absolute_term", "counterfeit", "duplicate"} <= set(kinds)
    for t in bad:
        title = products[t["product_id"]]["title"]
        if t["violation"] == "duplicate":
            original = f"p{int(t['violation_term'].split(':')[1]):04d}"
            assert title == products[original]["title"] + " 热卖"
        else:
            assert t["violation_term"] in title


def test_t_quantiles() -> None:
    assert t95(4) == pytest.approx(2.776)
    assert t95(12) == pytest.approx(2.228)  # conservative: the nearest tabulated df below
    assert t95(100) == 1.96


@pytest.mark.slow
def test_closed_loop_ranks_oracle_over_popular_over_random() -> None:
    arms = {k: BUILTIN[k] for k in ("random", "popular", "oracle")}
    report = run_ab(preset("demo", seed=100), arms, seeds=5, warmup_days=14, test_days=7)
    q = {arm: report.arms[arm]["quality_gmv_per_1000"] for arm in ("random", "popular", "oracle")}
    assert q["oracle"].interval()[0] > q["popular"].interval()[1]
    assert q["popular"].interval()[0] > q["random"].interval()[1]
    assert report.arms["oracle"]["budget_fit"].mean > report.arms["random"]["budget_fit"].mean
    assert report.arms["random"]["coverage"].mean > report.arms["popular"]["coverage"].mean


@pytest.mark.slow
def test_closed_loop_feed_beats_popular_and_als_within_the_price_band() -> None:
    arms = {k: BUILTIN[k] for k in ("popular", "als", "feed")}
    report = run_ab(preset("demo", seed=100), arms, seeds=1, warmup_days=14, test_days=7)
    q = {arm: report.arms[arm]["quality_gmv_per_1000"].mean for arm in arms}
    assert q["feed"] > 1.3 * q["popular"] and q["feed"] > 1.1 * q["als"]
    assert report.arms["feed"]["budget_fit"].mean >= 0.9


def test_cli_simulate_and_ab(tmp_path: Path) -> None:
    r = xingqu("simulate", "--preset", "tiny", "--days", "2", "--out", str(tmp_path / "m"), "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["records"]["users"] == 400 and data["events"] > 1000
    r = xingqu(
        "sim",
        "ab",
        "--preset",
        "tiny",
        "--seeds",
        "2",
        "--warmup",
        "2",
        "--days",
        "2",
        "--policy",
        "random",
        "--policy",
        "popular",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    arms = json.loads(r.stdout)["arms"]
    assert set(arms) == {"random", "popular"}
    assert len(arms["random"]["gpm"]["values"]) == 2
    assert xingqu("sim", "ab", "--policy", "nope").returncode == 1
    assert xingqu("simulate", "--preset", "huge", "--out", str(tmp_path / "x")).returncode == 1


def test_a_catalogue_crowded_into_few_shops_is_composed_in_bounded_time() -> None:
    """Four shops with ~500 goods each: title composition compares each title with a bounded number of
    its group's and tries a bounded number of word combinations (comparing every pair never ended)."""
    import time

    start = time.perf_counter()
    world = generate_world(preset("tiny", products=2000, users=150))
    took = time.perf_counter() - start
    assert len(set(world.p_shop.tolist())) <= 6
    assert took < 90, took
    assert len(set(world.p_title)) >= 0.8 * len(world.p_title)
