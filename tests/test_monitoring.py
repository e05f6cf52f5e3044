"""Store monitoring finds the misconduct the simulator plants, and only that; scores are written audited."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from test_cli import xingqu
from xingqu.governance.monitoring import check_stores, store_scores
from xingqu.ingest import import_path
from xingqu.sim.config import SimConfig
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
    _, store, truth = market
    report = check_stores(store)
    brushing = {s for s, k in truth.items() if k == "brushing"}
    spikes = {s for s, k in truth.items() if k == "refund_spike"}
    assert len(brushing) >= 2 and len(spikes) >= 2
    assert report.flagged("brushing") == brushing
    assert report.flagged("refund_spike") == spikes
    ev = next(f.evidence for f in report.flags if f.kind == "brushing")
    assert ev["fast_refunds"] >= 15 and ev["buyers"] <= 8 and ev["orders_per_buyer"] >= 2
    ev = next(f.evidence for f in report.flags if f.kind == "refund_spike")
    assert ev["rate"] >= 3 * ev["expected_rate"] and ev["p_value"] <= 1e-5
    assert all(1.0 <= s["score"] <= 5.0 for s in report.scores.values()) and len(report.scores) >= 5


def test_scores_are_written_to_shops_and_audited(market: tuple[Path, Store, dict[str, str]]) -> None:
    _, store, _ = market
    report = check_stores(store)
    assert store_scores(store, report, actor="monitor") == len(report.scores)
    shop, parts = next(iter(report.scores.items()))
    entry = store.audit_entries(shop)[0]
    assert entry["action"] == "experience_score" and entry["after"] == {"experience_score": parts["score"]}
    assert store_scores(store, report, actor="monitor") == 0  # unchanged scores are not rewritten
    r = xingqu("stores", "check", "--json", db=store.url)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert {f["shop"] for f in data["flags"] if f["kind"] == "brushing"} == report.flagged("brushing")
