"""Simulator speed and memory: the demo preset, and a 10,000,000-event slice of the large preset.

Each run is a fresh child process (its own peak RSS), writing to a temporary folder. Prints the
median of ``--runs`` runs. Targets: demo preset ≤ 60 s; large preset ≥ 200,000 events/s with peak
memory ≤ 4 GB.

    python benchmarks/simulate.py [--runs 3] [--large-days 6]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

CHILD = r"""
import json, resource, sys, tempfile
from xingqu.sim.config import preset
from xingqu.sim.run import simulate
name, days = sys.argv[1], int(sys.argv[2])
cfg = preset(name, days=days or None)
with tempfile.TemporaryDirectory() as out:
    r = simulate(cfg, out)
print(json.dumps({"seconds": r.seconds, "events": r.events,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(name: str, days: int, runs: int) -> dict[str, object]:
    results = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, name, str(days)], check=True, capture_output=True, text=True
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    rates = [r["events"] / r["seconds"] for r in results]
    summary = {
        "preset": name,
        "days": days or "preset",
        "events": results[0]["events"],
        "median_s": statistics.median(r["seconds"] for r in results),
        "median_events_per_s": statistics.median(rates),
        "runs_s": [round(r["seconds"], 2) for r in results],
        "peak_mb": max(r["peak_mb"] for r in results),
    }
    print(
        f"{name:<6} {summary['events']:>11,} events  median {summary['median_s']:7.2f} s  "
        f"{summary['median_events_per_s']:>10,.0f} events/s  runs {summary['runs_s']}  "
        f"peak {summary['peak_mb']:,.0f} MB",
        flush=True,
    )
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--large-days", type=int, default=6, help="days of the large preset (6 ≈ 10.7M events)")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    out = [run("demo", 0, args.runs), run("large", args.large_days, args.runs)]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
