"""Store monitoring finds the misconduct the simulator plants, and only that; scores are written audited."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from test_cli import xingqu
from xingqu.governance.monitoring import (
    brushing_detection_chance,
    check_stores,
    spike_detection_chance,
    store_scores,
)
from xingqu.ingest import import_path
from xingqu.sim.config import SimConfig
from xingqu.sim.misconduct import incident_summary, planted_incidents
from xingqu.sim.run import simulate
from xingqu.store import Store


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Store, dict[str, str]]:
    out = tmp_path_factory.mktemp("market")
    cfg = SimConfig(
        users=8_000,
        products=1_200,
        creators=60,
        days=20,
        users_per_shop=300,
        brushing_share=0.1,
        refund_spike_share=0.1,
        drifted_creator_share=0.0,  # the world this test was written against; drift is not its concern
        seed=3,
    )
    simulate(cfg, out / "m")
    store = Store(f"sqlite:///{out / 's.db'}")
    import_path(store, out / "m")
    truth = {
        r["shop_id"]: r["misconduct"]
        for r in pq.read_table(out / "m" / "truth" / "shops.parquet").to_pylist()
        if r["misconduct"]
    }
    return out, store, truth


def test_planted_brushing_and_refund_spikes_are_flagged_with_evidence(
    market: tuple[Path, Store, dict[str, str]],
) -> None:
    out, store, truth = market
    report = check_stores(store)
    brushing = {s for s, k in truth.items() if k == "brushing"}
    spikes = {s for s, k in truth.items() if k == "refund_spike"}
    assert len(brushing) >= 2 and len(spikes) >= 2
    # no false flag; every incident that volume made near-certain to see is seen (one planted at an
    # 80 % chance may be missed: its shop sold fewer than expected in the bad batch's days)
    assert report.flagged("brushing") <= brushing and report.flagged("refund_spike") <= spikes
    sure = {(i.shop, i.kind) for i in planted_incidents(store, out / "m", report) if i.chance >= 0.95}
    assert sure and all(shop in report.flagged(kind) for shop, kind in sure)
    assert len(report.flagged("brushing")) >= 2 and len(report.flagged("refund_spike")) >= 2
    ev = next(f.evidence for f in report.flags if f.kind == "brushing")
    assert ev["fast_refunds"] >= 15 and ev["buyers"] <= 8 and ev["orders_per_buyer"] >= 2
    ev = next(f.evidence for f in report.flags if f.kind == "refund_spike")
    assert ev["rate"] >= 3 * ev["expected_rate"] and ev["p_value"] <= 1e-5
    assert all(1.0 <= s["score"] <= 5.0 for s in report.scores.values()) and len(report.scores) >= 5


def test_scores_are_written_to_shops_and_audited(market: tuple[Path, Store, dict[str, str]]) -> None:
    _, store, _ = market
    report = check_stores(store)
    with store.reading() as conn:
        before = dict(conn.exec_driver_sql("SELECT shop_id, experience_score FROM shops").all())
    changed = sum(before.get(s) != parts["score"] for s, parts in report.scores.items())
    assert changed >= 5
    assert store_scores(store, report, actor="monitor") == changed
    shop, parts = next(iter(report.scores.items()))
    entry = store.audit_entries(shop)[0]
    assert entry["action"] == "experience_score" and entry["after"] == {"experience_score": parts["score"]}
    assert store_scores(store, report, actor="monitor") == 0  # unchanged scores are not rewritten
    r = xingqu("stores", "check", "--json", db=store.url)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert {f["shop"] for f in data["flags"] if f["kind"] == "brushing"} == report.flagged("brushing")


def test_detection_chance_grows_with_volume_and_is_nil_where_no_window_can_fill() -> None:
    # a bad batch that takes quality refunds from 3 % to 45 % for 5 days of a 30-day month
    chances = [spike_detection_chance(v, 0.03, 0.45, 5, 30) for v in (0.5, 2.0, 3.0, 20.0)]
    assert chances[0] == 0.0  # 0.5 orders a day: no 7-day window reaches 15 orders
    assert chances[1] < chances[2] < chances[3] and chances[3] > 0.99
    assert 0.2 < chances[1] < 0.45  # two orders a day: a coin toss that mostly fails
    # a rise the test is not built for (under 3× the expected rate) is not seen, however busy the shop
    assert spike_detection_chance(50.0, 0.2, 0.5, 5, 30) < 0.05
    # brushing: 75 fast refunds through 8 accounts stand out of a small shop, not of one with 300
    # genuine orders a day in the window
    assert brushing_detection_chance(1.0, 15, 8, 5) == 1.0
    assert brushing_detection_chance(60.0, 15, 8, 5) == 0.0
    assert brushing_detection_chance(1.0, 2, 8, 5) == 0.0  # 10 fake orders: under the test's minimum


def test_incidents_are_planted_where_they_can_be_seen_and_recall_is_judged_on_those(
    market: tuple[Path, Store, dict[str, str]],
) -> None:
    out, store, truth = market
    shops = pq.read_table(out / "m" / "truth" / "shops.parquet").to_pylist()
    planted = [r for r in shops if r["misconduct"]]
    assert all(r["detection_chance_at_planting"] >= 0.8 for r in planted)
    with_goods = {p["shop_id"] for p in pq.read_table(out / "m" / "products.parquet").to_pylist()}
    assert {r["shop_id"] for r in planted} <= with_goods  # an incident needs goods to happen at all
    report = check_stores(store)
    incidents = planted_incidents(store, out / "m", report)
    assert {(i.shop, i.kind) for i in incidents} == set(truth.items())
    assert all(i.orders_per_day > 0 and 0 <= i.chance <= 1 for i in incidents)
    summary = incident_summary(incidents)
    for kind in ("brushing", "refund_spike"):
        s = summary[kind]
        # recall on the detectable ones, as the chances at their volume allow (at most one miss of three)
        assert s["detectable"] >= 2 and s["found_detectable"] >= s["detectable"] - 1
        assert s["found"] >= s["expected_found"] - 1
        assert s["detectable"] + s["undetectable"] == s["planted"]
    # shops too small to judge: every window under the test's minimum of paid orders, and never flagged
    # for a spike
    assert report.too_small and all(report.busiest[s] < report.min_orders for s in report.too_small)
    assert not set(report.too_small) & report.flagged("refund_spike")
    r = xingqu("stores", "check", db=store.url)
    assert r.returncode == 0, r.stderr
    assert f"{len(report.too_small)} of {len(report.busiest)} shops too small to judge" in r.stdout
