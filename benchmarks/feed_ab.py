"""Closed-loop A/B of the default feed pipeline against most-popular, ALS-only, the same feed with its
sequence-aware parts switched off, and the oracle, on the simulator (visits page by page, interest in
motion: ``xingqu.sim.intent``).

    python benchmarks/feed_ab.py [--seeds 5] [--preset demo] [--days 14]

Prints quality GMV per 1,000 impressions, budget fit (share of shown products inside the user's true
price band), GPM and coverage per arm (mean ± 95 % interval over seeds), the feed's ratio to each
other arm per seed and on the means (with a 95 % interval of the per-seed ratios), and its share of
the oracle's quality GMV per 1,000 impressions.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from xingqu.pipelines.feed import FeedConfig
from xingqu.sim.ab import BUILTIN, run_ab, t95
from xingqu.sim.config import preset
from xingqu.sim.policies import FeedPolicy

ARMS = {
    "popular": BUILTIN["popular"],
    "als": BUILTIN["als"],
    "feed": BUILTIN["feed"],
    "feed_no_seq": lambda ctx: FeedPolicy("feed_no_seq", config=FeedConfig().without_sequence()),
    "oracle": BUILTIN["oracle"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--days", type=int, default=14, help="test days per seed (after 14 warm-up days)")
    args = ap.parse_args()
    arms = tuple(ARMS)
    start = time.perf_counter()
    report = run_ab(
        preset(args.preset, seed=args.seed),
        ARMS,
        seeds=args.seeds,
        test_days=args.days,
        progress=lambda d, t: print(f"  seed {d}/{t} done ({time.perf_counter() - start:.0f} s)", flush=True),
    )
    print(f"\nmachine: {platform.machine()}, {platform.python_version()}; seeds {report.seeds}")
    print(f"{'metric':<24}" + "".join(f"{a:>22}" for a in arms))
    for metric in ("quality_gmv_per_1000", "budget_fit", "gpm", "coverage", "new_customer_share"):
        cells = "".join(
            f"{report.arms[a][metric].mean:>13,.3f} ± {report.arms[a][metric].ci:<6,.3f}" for a in arms
        )
        print(f"{metric:<24}{cells}")
    feed = np.array(report.arms["feed"]["quality_gmv_per_1000"].values)
    for base in ("popular", "als", "feed_no_seq", "oracle"):
        other = np.array(report.arms[base]["quality_gmv_per_1000"].values)
        ratios = feed / other
        half = t95(len(ratios) - 1) * ratios.std(ddof=1) / np.sqrt(len(ratios)) if len(ratios) > 1 else np.nan
        per_seed = ", ".join(f"{x:.3f}" for x in ratios)
        print(
            f"feed ÷ {base}: {feed.mean() / other.mean():.3f} on the means; per seed {per_seed} "
            f"(mean {ratios.mean():.3f} ± {half:.3f})"
        )
    print(f"feed budget fit: {report.arms['feed']['budget_fit'].mean:.3f}; {report.seconds:.0f} s")


if __name__ == "__main__":
    main()
