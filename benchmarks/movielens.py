"""Offline accuracy: xingqu's default blend against tuned baselines, on MovieLens-100K and on the
simulator's demo preset read from the store.

Protocol (both data sets): per-user temporal hold-out (last 20 % of each user's interactions, at least
one), full-catalogue ranking with training items excluded; every model, the blend included, tuned on a
validation split carved from training data the same way. On MovieLens all ratings count as
interactions. Also times the whole ``xingqu evaluate`` command on MovieLens (training included).

    python benchmarks/movielens.py [--data ../shared/data/ml-100k/ml-100k.inter] [--runs 3] [--skip-demo]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parents[1] / "shared" / "data" / "ml-100k" / "ml-100k.inter"
SHOWN = ("ndcg@10", "recall@20", "ndcg@20", "hitrate@10", "mrr", "coverage@20")


def table(title: str, report: dict) -> None:
    models = report["models"]
    print(f"\n{title}  ({report['train_interactions']:,} train / {report['test_interactions']:,} test)")
    print(f"{'model':<10}" + "".join(f"{m:>13}" for m in SHOWN))
    for name, r in models.items():
        print(f"{name:<10}" + "".join(f"{r['metrics'][m]:>13.4f}" for m in SHOWN))
    base = [n for n in models if n != "blend"]
    for m in ("ndcg@10", "recall@20"):
        best = max(base, key=lambda n: models[n]["metrics"][m])
        b, v = models["blend"]["metrics"][m], models[best]["metrics"][m]
        print(
            f"blend {m} {b:.4f} vs best baseline {best} {v:.4f}: {'at or above' if b >= v else 'BELOW'} "
            f"({(b / v - 1) * 100:+.1f} %)"
        )
    print("blend:", json.dumps(models["blend"]["config"]))


def run_cli(args: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "xingqu.cli.app", *args],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--runs", type=int, default=3, help="timed runs of the evaluate command")
    ap.add_argument("--skip-demo", action="store_true")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ml.json"
        cmd = [
            "evaluate",
            str(args.data),
            "--user-col",
            "user_id",
            "--item-col",
            "item_id",
            "--out",
            str(out),
        ]
        times = [run_cli(cmd) for _ in range(args.runs)]
        print(
            f"xingqu evaluate on MovieLens-100K, whole command: median {statistics.median(times):.2f} s "
            f"(runs {[round(t, 2) for t in times]})"
        )
        table("MovieLens-100K", json.loads(out.read_text()))
        if args.skip_demo:
            return
        db = f"sqlite:///{Path(tmp) / 'demo.db'}"
        env = {**os.environ, "XINGQU_DB": db}
        run_cli(["simulate", "--preset", "demo", "--out", str(Path(tmp) / "market"), "--quiet"], env)
        run_cli(["import", str(Path(tmp) / "market"), "--quiet"], env)
        demo_out = Path(tmp) / "demo.json"
        t = run_cli(
            [
                "evaluate",
                "--model",
                "popular",
                "--model",
                "itemknn",
                "--model",
                "ease",
                "--model",
                "als",
                "--model",
                "content",
                "--model",
                "trending",
                "--model",
                "blend",
                "--out",
                str(demo_out),
            ],
            env,
        )
        print(f"\nxingqu evaluate on the demo preset's store: {t:.1f} s")
        table("Simulator demo preset (store)", json.loads(demo_out.read_text()))


if __name__ == "__main__":
    main()
