"""Store monitoring against the simulator's planted misconduct, judged on what could be seen: for each
planted incident the chance the monitoring test fires at the shop's real volume (its power), recall on the
detectable incidents (chance ≥ 0.5), the count of undetectable ones, and precision, per kind.

Two worlds, several seeds each:
- ``demo``: the ``xingqu demo`` preset (5,000 users, 2,000 products, 125 shops over 30 days; about 3 % of
  shops brush orders once and 3 % have one bad batch);
- ``dense``: the same marketplace with 300 users a shop (20,000 users, 3,000 products, ~67 shops), where
  5 % of shops brush and 5 % have a bad batch: shops have the order volume a spike can show in.
Each seed simulates, imports into a fresh SQLite store, runs ``check_stores`` and compares the flags with
truth/shops.parquet. Target on the dense world: recall on detectable incidents ≥ 0.9 at precision ≥ 0.8.

    python benchmarks/monitoring.py [--seeds 5] [--worlds demo dense]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

from xingqu.governance.monitoring import check_stores
from xingqu.ingest import import_path
from xingqu.sim.config import SimConfig, preset
from xingqu.sim.misconduct import DETECTABLE, incident_summary, planted_incidents
from xingqu.sim.run import simulate
from xingqu.store import Store

KINDS = ("brushing", "refund_spike")


def world(name: str, seed: int) -> SimConfig:
    if name == "demo":
        return preset("demo", seed=seed)
    return SimConfig(
        users=20_000,
        products=3_000,
        creators=200,
        days=30,
        users_per_shop=300,
        brushing_share=0.05,
        refund_spike_share=0.05,
        seed=seed,
    )


def one_seed(name: str, seed: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        sim = simulate(world(name, seed), tmp)
        store = Store(f"sqlite:///{tmp}/store.db")
        import_path(store, tmp)
        start = time.perf_counter()
        report = check_stores(store)
        seconds = time.perf_counter() - start
        incidents = planted_incidents(store, tmp, report)
        store.close()
    out: dict[str, object] = {
        "world": name,
        "seed": seed,
        "events": sim.events,
        "shops": len(report.busiest),
        "too_small": len(report.too_small),
        "check_s": round(seconds, 2),
        "incidents": [i.__dict__ for i in incidents],
    }
    summary = incident_summary(incidents)
    for kind in KINDS:
        s = summary.get(kind, {"planted": 0, "detectable": 0, "found_detectable": 0, "found": 0})
        s = {**s, "flagged": len(report.flagged(kind))}
        out[kind] = s
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--worlds", nargs="+", default=["demo", "dense"], choices=["demo", "dense"])
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    result: dict[str, object] = {}
    for name in args.worlds:
        runs = []
        for seed in range(1, args.seeds + 1):
            r = one_seed(name, seed)
            runs.append(r)
            print(
                f"{name} seed {seed}: {r['events']:,} events, {r['shops']} shops ({r['too_small']} too "
                f"small to judge a spike), check {r['check_s']} s; "
                + "; ".join(
                    f"{k} {r[k]['found']}/{r[k]['planted']} found ({r[k]['detectable']} detectable, "
                    f"{r[k]['found_detectable']} of them found), {r[k]['flagged']} flagged"
                    for k in KINDS
                ),
                flush=True,
            )
        summary = {}
        for kind in KINDS:
            t = {
                k: sum(r[kind].get(k, 0) for r in runs) for k in ("planted", "detectable", "found_detectable")
            }
            t["found"] = sum(r[kind]["found"] for r in runs)
            t["flagged"] = sum(r[kind]["flagged"] for r in runs)
            t["expected_found"] = round(sum(r[kind].get("expected_found", 0.0) for r in runs), 2)
            t["undetectable"] = t["planted"] - t["detectable"]
            t["recall_detectable"] = t["found_detectable"] / t["detectable"] if t["detectable"] else None
            t["recall_all"] = t["found"] / t["planted"] if t["planted"] else None
            t["precision"] = t["found"] / t["flagged"] if t["flagged"] else None
            summary[kind] = t

            def f(x: float | None) -> str:
                return "n/a" if x is None else f"{x:.3f}"

            print(
                f"{name:<5} {kind:<13} recall on detectable {f(t['recall_detectable'])} "
                f"({t['found_detectable']}/{t['detectable']}), undetectable {t['undetectable']} "
                f"(chance < {DETECTABLE}); recall on all {f(t['recall_all'])} ({t['found']}/{t['planted']}, "
                f"{t['expected_found']} expected from the chances); precision {f(t['precision'])} "
                f"({t['found']}/{t['flagged']})"
            )
        result[name] = {"runs": runs, "summary": summary}
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
