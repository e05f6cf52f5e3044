"""Past one machine, side by side: each offline stage (import, train, batch scoring of every user, the
daily report) on the one-machine SQL path, the one-machine lake path and Spark over the lake, in one run
— wall time and peak memory of the whole process tree (the JVM and Python workers included).

The market is simulated first (not timed). Each stage is one ``xingqu`` command in a child process;
memory is sampled from /proc every 0.2 s. Spark reads the lake the lake path imported (its import row
is the lake's). Targets on the large preset (30 days, ~53M events): lake import ≥ 500,000 events/s;
the lake path trains in ≤ 15 min and ≤ 12 GB; Spark local completes every stage.

    python benchmarks/scale.py [--preset large] [--days 30] [--master local[2]] [--paths sql,lake,spark]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

from _procs import run

STAGES = ("import", "train", "score", "report")


def split_market(market: Path, work: Path) -> tuple[Path, Path]:
    """The simulated market as two folders of links, its catalogue files and its daily events files,
    imported one after the other so that the events' own rate is measured."""
    catalogue, events = work / "catalogue", work / "events"
    for folder in (catalogue, events):
        folder.mkdir(parents=True, exist_ok=True)
    for f in sorted(market.iterdir()):
        if f.is_file():
            link = (events if f.name.startswith("events") else catalogue) / f.name
            if not link.exists():
                link.symlink_to(f.resolve())
    if not any(events.iterdir()):
        raise SystemExit(f"{market}: no events files")
    return catalogue, events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="large", help="simulator preset (tiny, demo, large)")
    ap.add_argument("--days", type=int, default=30, help="days simulated")
    ap.add_argument("--users", type=int, default=None, help="override the preset's users")
    ap.add_argument("--products", type=int, default=None, help="override the preset's products")
    ap.add_argument("--master", default="local[2]", help="Spark master")
    ap.add_argument(
        "--workers", type=int, default=2, help="processes scoring every user on the one-machine paths"
    )
    ap.add_argument("--paths", default="sql,lake,spark", help="which paths to run, in order")
    ap.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    ap.add_argument(
        "--stages", default=",".join(STAGES), help="import alone, or every stage (import,train,score,report)"
    )
    args = ap.parse_args()
    paths = [p for p in args.paths.split(",") if p]
    stages = [s for s in args.stages.split(",") if s]
    if stages not in (["import"], list(STAGES)):
        raise SystemExit(f"--stages: 'import' or '{','.join(STAGES)}'")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("XINGQU_")}
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        market = work / "market"
        if not (market / "users.parquet").exists():
            sim = ["simulate", "--preset", args.preset, "--days", str(args.days), "--out", str(market), "-q"]
            if args.users:
                sim += ["--users", str(args.users)]
            if args.products:
                sim += ["--products", str(args.products)]
            t, _, _ = run(sim, env)
            print(f"simulated {args.preset} ({args.days} days) in {t:.0f} s (not counted)")
        results: dict[str, dict[str, tuple[float, int]]] = {}
        events_imported = 0
        for path in paths:
            name = "lake" if path == "spark" else path
            db = f"sqlite:///{work / (name + '.db')}"
            lake = ["--events", str(work / "lake")] if name == "lake" else []
            eng = ["--engine", "spark", "--master", args.master] if path == "spark" else []
            workers = [] if path == "spark" else ["--workers", str(args.workers)]
            models = ["--models-dir", str(work / f"models-{path}")]
            row: dict[str, tuple[float, int]] = {}
            if path != "spark":  # a kept folder's earlier store, lake and models start afresh
                lake_dir = [work / "lake"] if name == "lake" else []
                for old in [*work.glob(f"{name}.db*"), *lake_dir, work / f"models-{path}"]:
                    shutil.rmtree(old) if old.is_dir() else old.unlink(missing_ok=True)
                run(["init", "--db", db, "-q"], env)
                catalogue, events_folder = split_market(market, work / "parts")
                t1, peak1, out1 = run(["import", str(catalogue), "--db", db, *lake, "--json"], env)
                t2, peak2, out2 = run(["import", str(events_folder), "--db", db, *lake, "--json"], env)
                rep1, rep2 = json.loads(out1), json.loads(out2)
                events = sum(f["rows"] for f in rep2["files"] if f["kind"] == "events")
                events_imported = events
                row["import"] = (t1 + t2, max(peak1, peak2))
                print(
                    f"{path}: imported the catalogue in {rep1['seconds']:.1f} s, then {events:,} events in "
                    f"{rep2['seconds']:.1f} s ({events / rep2['seconds']:,.0f} events/s)",
                    flush=True,
                )
            else:
                row["import"] = results.get("lake", {}).get("import", (float("nan"), 0))
            if "train" not in stages:
                results[path] = row
                continue
            row["train"] = run(["train", "--db", db, *lake, *models, *eng, "-q"], env)[:2]
            print(f"{path}: trained in {row['train'][0]:.0f} s", flush=True)
            scored = work / f"feeds-{path}{'' if path == 'spark' else '.jsonl'}"
            row["score"] = run(
                [
                    "recommend",
                    "--all-users",
                    "-n",
                    "20",
                    "--out",
                    str(scored),
                    "--db",
                    db,
                    *lake,
                    *models,
                    *eng,
                    *workers,
                ],
                env,
            )[:2]
            print(f"{path}: scored every user in {row['score'][0]:.0f} s", flush=True)
            row["report"] = run(["report", "daily", "--db", db, *lake, *eng, "--json"], env)[:2]
            results[path] = row
        print()
        if not events_imported and (work / "lake" / "events").exists():  # Spark alone, on a kept lake
            import pyarrow.dataset as ds

            events_imported = ds.dataset(work / "lake" / "events", format="parquet").count_rows()
        print(f"{events_imported:,} events; wall seconds / peak GB of the process tree")
        print(f"{'stage':<8}" + "".join(f"{p:>22}" for p in paths))
        for stage in [s for s in STAGES if s in stages]:
            cells = []
            for p in paths:
                t, peak = results[p][stage]
                shared = " (lake's)" if p == "spark" and stage == "import" else ""
                cells.append(f"{t:>8.1f} s {peak / 2**30:>5.2f} GB{shared}")
            print(f"{stage:<8}" + "".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
