"""Store monitoring against the simulator's planted misconduct: recall and precision of ``brushing``
and ``refund_spike`` flags over several seeds.

Each seed simulates a 30-day marketplace (20,000 users, 3,000 products, ~67 shops: 300 users a shop, so
that shops have the order volume a spike can show in) where 5 % of shops brush orders once and 5 % have
one bad batch, both among the biggest quarter of shops; imports it into a fresh SQLite store; runs
``check_stores``; and compares the flags with truth/shops.parquet. Targets: recall ≥ 0.9 at precision
≥ 0.8 for each kind.

    python benchmarks/monitoring.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from xingqu.governance.monitoring import check_stores
from xingqu.ingest import import_path
from xingqu.sim.config import SimConfig
from xingqu.sim.run import simulate
from xingqu.store import Store

KINDS = ("brushing", "refund_spike")


def one_seed(seed: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = SimConfig(
            users=20_000,
            products=3_000,
            creators=200,
            days=30,
            users_per_shop=300,
            brushing_share=0.05,
            refund_spike_share=0.05,
            seed=seed,
        )
        sim = simulate(cfg, tmp)
        store = Store(f"sqlite:///{tmp}/store.db")
        import_path(store, tmp)
        start = time.perf_counter()
        report = check_stores(store)
        seconds = time.perf_counter() - start
        truth = pq.read_table(Path(tmp) / "truth" / "shops.parquet").to_pylist()
        store.close()
    out: dict[str, object] = {
        "seed": seed,
        "events": sim.events,
        "shops": len(truth),
        "check_s": round(seconds, 2),
    }
    for kind in KINDS:
        planted = {r["shop_id"] for r in truth if r["misconduct"] == kind}
        flagged = report.flagged(kind)
        out[kind] = {"planted": len(planted), "flagged": len(flagged), "found": len(planted & flagged)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    runs = []
    for seed in range(1, args.seeds + 1):
        r = one_seed(seed)
        runs.append(r)
        print(
            f"seed {seed}: {r['events']:,} events, {r['shops']} shops, check {r['check_s']} s; "
            + "; ".join(
                f"{k} {r[k]['found']}/{r[k]['planted']} found, {r[k]['flagged']} flagged" for k in KINDS
            ),
            flush=True,
        )
    summary = {}
    for kind in KINDS:
        planted = sum(r[kind]["planted"] for r in runs)
        flagged = sum(r[kind]["flagged"] for r in runs)
        found = sum(r[kind]["found"] for r in runs)
        summary[kind] = {
            "planted": planted,
            "flagged": flagged,
            "found": found,
            "recall": found / planted if planted else 0.0,
            "precision": found / flagged if flagged else 0.0,
        }
        print(
            f"{kind:<13} recall {summary[kind]['recall']:.3f} ({found}/{planted})  "
            f"precision {summary[kind]['precision']:.3f} ({found}/{flagged})"
        )
    print(json.dumps({"runs": runs, "summary": summary}))


if __name__ == "__main__":
    main()
