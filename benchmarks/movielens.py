"""Offline accuracy: xingqu's default blend against tuned peers, on MovieLens-100K under every
evaluation protocol and on the simulator's demo preset read from the store.

Protocols (``xingqu evaluate --protocol``): ``temporal`` holds out each user's last 20 % of
interactions (at least one), ``next-item`` their last interaction, ``next-session`` their last
session (30-minute gaps). Full-catalogue ranking with training items excluded; vocabularies from
training only; every model, the blend included, tuned on a validation split cut from training by the
same protocol. The peers: popular, item-kNN, RP3β, EASE, ALS, recency-weighted item-kNN and the
item-to-item transition model. On MovieLens all ratings count as interactions. Each protocol's whole
``xingqu evaluate`` command is timed (training and tuning included), wall clock and CPU.

``--with KIND`` (repeatable; e.g. ``sasrec``, which needs the ``seq`` extra) measures retrievers that are
not blend members: a second ``evaluate`` per protocol tunes them as peers and adds them to the blend
(``--blend-with``); their rows, their fit time on the full training split (with scoring the test users)
and the blend with them beside the default blend are printed.

    python benchmarks/movielens.py [--data ../shared/data/ml-100k/ml-100k.inter] [--runs 1] [--skip-demo]
                                   [--with sasrec]
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
PROTOCOLS = ("temporal", "next-item", "next-session")
#: The default blend should reach this multiple of the best tuned peer on NDCG@10 and Recall@20.
TARGET = 1.05


def table(title: str, report: dict) -> list[bool]:
    """Print a report's models side by side and the blend against the best peer; whether each target
    (NDCG@10, Recall@20) was met."""
    models = report["models"]
    users = int(next(iter(models.values()))["metrics"]["users"])
    print(
        f"\n{title}  ({report['train_interactions']:,} train / {report['test_interactions']:,} test "
        f"interactions, {users:,} test users)"
    )
    print(f"{'model':<11}" + "".join(f"{m:>13}" for m in SHOWN))
    for name, r in models.items():
        print(f"{name:<11}" + "".join(f"{r['metrics'][m]:>13.4f}" for m in SHOWN))
    base = [n for n in models if n != "blend"]
    met = []
    for m in ("ndcg@10", "recall@20"):
        best = max(base, key=lambda n: models[n]["metrics"][m])
        b, v = models["blend"]["metrics"][m], models[best]["metrics"][m]
        met.append(b >= TARGET * v)
        print(
            f"blend {m} {b:.4f} vs best peer {best} {v:.4f}: {b / v:.3f}× "
            f"({'meets' if met[-1] else 'MISSES'} the {TARGET}× target)"
        )
    print("blend:", json.dumps(models["blend"]["config"]))
    return met


def with_extra(extra: list[str], cmd: list[str], default_out: Path, out: Path) -> None:
    """Evaluate ``extra`` retrievers as peers and as added blend members; print them beside the default
    blend of the same protocol (``default_out``)."""
    models = [a for k in (*extra, "blend") for a in ("--model", k)]
    blend_with = [a for k in extra for a in ("--blend-with", k)]
    at = cmd.index("--out")
    wall, cpu = run_cli([*cmd[:at], *models, *blend_with, "--out", str(out)])
    base = json.loads(default_out.read_text())["models"]
    report = json.loads(out.read_text())["models"]
    label = "blend+" + "+".join(extra)
    print(f"{'model':<11}" + "".join(f"{m:>13}" for m in SHOWN))
    for name in extra:
        r = report[name]
        print(f"{name:<11}" + "".join(f"{r['metrics'][m]:>13.4f}" for m in SHOWN))
        print(f"  {name}: fit on the full training split and scoring: {r['seconds']:.1f} s; {r['config']}")
    for name, r in (("blend", base["blend"]), (label, report["blend"])):
        print(f"{name:<11}" + "".join(f"{r['metrics'][m]:>13.4f}" for m in SHOWN))
    for m in ("ndcg@10", "recall@20"):
        b, w = base["blend"]["metrics"][m], report["blend"]["metrics"][m]
        print(f"{label} {m} {w:.4f} vs blend {b:.4f}: {w / b - 1:+.1%}")
    weights = {k: v["weight"] for k, v in report["blend"]["config"]["members"].items()}
    print(f"{label} weights: {json.dumps(weights)}")
    print(f"evaluate with {', '.join(extra)} (tuning included): {wall:.1f} s wall, {cpu:.1f} s CPU")


def run_cli(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run a command of ``xingqu``; its wall-clock and CPU seconds (the child's user + system time)."""
    start, before = time.perf_counter(), os.times()
    subprocess.run(
        [sys.executable, "-m", "xingqu.cli.app", *args],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    after = os.times()
    cpu = after.children_user - before.children_user + after.children_system - before.children_system
    return time.perf_counter() - start, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--runs", type=int, default=1, help="timed runs of each evaluate command")
    ap.add_argument("--skip-demo", action="store_true")
    ap.add_argument(
        "--with", dest="extra", action="append", default=[], help="a retriever outside the blend to measure"
    )
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        summary = []
        for protocol in PROTOCOLS:
            out = Path(tmp) / f"ml-{protocol}.json"
            cmd = [
                "evaluate",
                str(args.data),
                "--user-col",
                "user_id",
                "--item-col",
                "item_id",
                "--protocol",
                protocol,
                "--out",
                str(out),
            ]
            runs = [run_cli(cmd) for _ in range(args.runs)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            met = table(f"MovieLens-100K, {protocol}", json.loads(out.read_text()))
            print(
                f"xingqu evaluate --protocol {protocol}, whole command: {wall:.1f} s wall, {cpu:.1f} s CPU "
                f"(median of {args.runs}; target ≤ 30 s)"
            )
            summary.append((protocol, met, wall))
            if args.extra:
                with_extra(args.extra, cmd, out, Path(tmp) / f"ml-{protocol}-with.json")
        print("\nsummary (blend ≥ 1.05× the best tuned peer; evaluate ≤ 30 s):")
        for protocol, (ndcg, recall), wall in summary:
            print(
                f"  {protocol:<13} NDCG@10 {'met' if ndcg else 'MISSED'}, Recall@20 "
                f"{'met' if recall else 'MISSED'}, {wall:.1f} s {'met' if wall <= 30 else 'MISSED'}"
            )
        if args.skip_demo:
            return
        db = f"sqlite:///{Path(tmp) / 'demo.db'}"
        env = {**os.environ, "XINGQU_DB": db}
        run_cli(["simulate", "--preset", "demo", "--out", str(Path(tmp) / "market"), "--quiet"], env)
        run_cli(["import", str(Path(tmp) / "market"), "--quiet"], env)
        demo_out = Path(tmp) / "demo.json"
        peers = (
            "popular",
            "itemknn",
            "rp3beta",
            "ease",
            "als",
            "recentknn",
            "transition",
            "content",
            "trending",
        )
        t, _cpu = run_cli(
            ["evaluate", *(a for p in (*peers, "blend") for a in ("--model", p)), "--out", str(demo_out)], env
        )
        print(f"\nxingqu evaluate on the demo preset's store: {t:.1f} s")
        table("Simulator demo preset (store)", json.loads(demo_out.read_text()))


if __name__ == "__main__":
    main()
