"""Closed-loop A/B of the default feed pipeline against most-popular and ALS-only on the simulator.

    python benchmarks/feed_ab.py [--seeds 5] [--preset demo]

Prints quality GMV per 1,000 impressions, budget fit (share of shown products inside the user's true
price band), GPM and coverage per arm (mean ± 95 % interval over seeds), and the feed's lift over each
baseline per seed and on the means.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from xingqu.sim.ab import BUILTIN, run_ab
from xingqu.sim.config import preset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    arms = ("popular", "als", "feed")
    start = time.perf_counter()
    report = run_ab(
        preset(args.preset, seed=args.seed),
        {a: BUILTIN[a] for a in arms},
        seeds=args.seeds,
        progress=lambda d, t: print(f"  seed {d}/{t} done ({time.perf_counter() - start:.0f} s)", flush=True),
    )
    print(f"\nmachine: {platform.machine()}, {platform.python_version()}; seeds {report.seeds}")
    print(f"{'metric':<24}" + "".join(f"{a:>24}" for a in arms))
    for metric in ("quality_gmv_per_1000", "budget_fit", "gpm", "coverage", "new_customer_share"):
        cells = "".join(
            f"{report.arms[a][metric].mean:>15,.3f} ± {report.arms[a][metric].ci:<6,.3f}" for a in arms
        )
        print(f"{metric:<24}{cells}")
    feed = np.array(report.arms["feed"]["quality_gmv_per_1000"].values)
    for base in ("popular", "als"):
        other = np.array(report.arms[base]["quality_gmv_per_1000"].values)
        per_seed = ", ".join(f"{x:+.1%}" for x in feed / other - 1)
        print(f"feed vs {base}: {feed.mean() / other.mean() - 1:+.1%} on the means (per seed: {per_seed})")
    print(f"feed budget fit: {report.arms['feed']['budget_fit'].mean:.3f}; {report.seconds:.0f} s")


if __name__ == "__main__":
    main()
