"""Training at scale: every retriever on a 10,000,000-event slice of the simulator's large preset
(1,000,000 users, 100,000 products), read from its Parquet event log in batches.

The slice is simulated first (not timed); the timed part runs in a child process so that its peak
memory is its own: building the dataset, then fitting each retriever. EASE refuses catalogues over
30,000 items by design, which the output shows. Target: ≤ 5 minutes and ≤ 8 GB in all.

    python benchmarks/train_scale.py [--days 6]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from xingqu.dataset import load_parquet_folder
from xingqu.models import REGISTRY, ModelError
out = {}
t0 = time.perf_counter()
data = load_parquet_folder(sys.argv[1])
out["dataset"] = {"seconds": time.perf_counter() - t0, "users": data.n_users, "items": data.n_items,
                  "pairs": int(data.matrix.nnz)}
for kind in ("popular", "trending", "itemknn", "ease", "als", "bpr", "content"):
    t = time.perf_counter()
    try:
        REGISTRY[kind]().fit(data)
        out[kind] = {"seconds": time.perf_counter() - t}
    except ModelError as exc:
        out[kind] = {"seconds": time.perf_counter() - t, "refused": str(exc)}
out["total_s"] = time.perf_counter() - t0
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=6, help="days of the large preset (6 ≈ 10.7M events)")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        market = Path(tmp) / "market"
        t = time.perf_counter()
        sim = subprocess.run(
            [
                sys.executable,
                "-m",
                "xingqu.cli.app",
                "simulate",
                "--preset",
                "large",
                "--days",
                str(args.days),
                "--out",
                str(market),
                "--json",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        events = json.loads(sim.stdout)["events"]
        print(f"simulated {events:,} events in {time.perf_counter() - t:.0f} s (not timed below)")
        run = subprocess.run(
            [sys.executable, "-c", CHILD, str(market)], check=True, capture_output=True, text=True
        )
        out = json.loads(run.stdout.strip().splitlines()[-1])
    d = out["dataset"]
    print(
        f"dataset: {d['users']:,} users × {d['items']:,} products, {d['pairs']:,} weighted pairs "
        f"from {events:,} events in {d['seconds']:.1f} s"
    )
    for kind in ("popular", "trending", "itemknn", "ease", "als", "bpr", "content"):
        r = out[kind]
        note = f"refused: {r['refused']}" if "refused" in r else "fitted"
        print(f"  {kind:<9} {r['seconds']:7.1f} s  {note}")
    print(f"total {out['total_s']:.1f} s, peak memory {out['peak_mb']:,.0f} MB")
    print(json.dumps({"events": events, **out}))


if __name__ == "__main__":
    main()
