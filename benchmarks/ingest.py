"""Import generated events from Parquet into SQLite, PostgreSQL and the event lake: events/s and peak memory.

Each import runs in a fresh child process so its peak RSS is its own. Prints the median of
``--runs`` runs per backend. PostgreSQL is measured when ``--postgres URL`` or
``XINGQU_TEST_POSTGRES_URL`` names a server (a scratch database is created and dropped). The lake
import (``--lake-events``, 3M by default; rollups kept in SQLite) is measured beside a floor timed in
the same run, alternating with it: a bare ``pyarrow.parquet.write_table`` of the same rows, already
in memory, with pyarrow's default options.

    python benchmarks/ingest.py [--events 1000000] [--lake-events 3000000] [--runs 3]
        [--backends sqlite,postgresql,lake] [--postgres postgresql://…/postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _synth import write_catalog, write_content, write_events

CHILD = r"""
import json, resource, sys, time
from xingqu.store import Store
from xingqu.ingest import import_path
store = Store(sys.argv[1])
if len(sys.argv) > 3:
    from xingqu.store.lake import LakeEventLog
    store.init()
    store.use_lake(LakeEventLog(sys.argv[3]))
t = time.perf_counter()
cpu = time.process_time()
report = import_path(store, sys.argv[2])
elapsed = time.perf_counter() - t
print(json.dumps({"seconds": elapsed, "cpu_s": time.process_time() - cpu, "written": report.written,
                  "rows": report.rows, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

#: The floor: the same rows written by a bare ``pyarrow.parquet.write_table`` (read first, not timed).
FLOOR = r"""
import json, sys, time
import pyarrow.parquet as pq
table = pq.read_table(sys.argv[1])
t = time.perf_counter()
pq.write_table(table, sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - t, "rows": table.num_rows}))
"""


def _child(url: str, path: Path, *extra: str, script: str = CHILD) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", script, url, str(path), *extra], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _pg_scratch(admin_url: str, name: str) -> tuple[str, callable]:
    import sqlalchemy as sa

    from xingqu.store import normalise_url

    admin = sa.create_engine(normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        c.exec_driver_sql(f"CREATE DATABASE {name}")
    url = (
        sa.engine.make_url(normalise_url(admin_url)).set(database=name).render_as_string(hide_password=False)
    )

    def drop() -> None:
        with admin.connect() as c:
            c.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()

    return url, drop


def bench_backend(label: str, make_url, catalog: Path, events: Path, runs: int) -> dict[str, float]:
    results = []
    for i in range(runs):
        url, cleanup = make_url(i)
        try:
            _child(url, catalog)
            results.append(_child(url, events))
        finally:
            cleanup()
    rates = [r["rows"] / r["seconds"] for r in results]
    summary = {
        "backend": label,
        "events": results[0]["rows"],
        "written": results[0]["written"],
        "median_s": statistics.median(r["seconds"] for r in results),
        "median_events_per_s": statistics.median(rates),
        "runs_events_per_s": [round(x) for x in rates],
        "peak_mb": max(r["peak_mb"] for r in results),
    }
    print(
        f"{label:<10} {summary['events']:>9,} events  median {summary['median_s']:6.2f} s  "
        f"{summary['median_events_per_s']:>9,.0f} events/s  (runs: {summary['runs_events_per_s']})  "
        f"peak {summary['peak_mb']:,.0f} MB",
        flush=True,
    )
    return summary


def bench_lake(root: Path, catalog: Path, events: Path, runs: int) -> dict[str, object]:
    """The lake import of ``events`` (catalogue imported first, not timed), each run after a run of the
    floor, so that both see the same load."""
    lake_runs, floor_runs = [], []
    for i in range(runs):
        floor_runs.append(_child(str(events), root / f"floor{i}.parquet", script=FLOOR))
        (root / f"floor{i}.parquet").unlink()
        db, lake = root / f"lake{i}.db", root / f"lake{i}"
        _child(f"sqlite:///{db}", catalog, str(lake))
        lake_runs.append(_child(f"sqlite:///{db}", events, str(lake)))
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        shutil.rmtree(lake)
    rates = [r["rows"] / r["seconds"] for r in lake_runs]
    floors = [r["rows"] / r["seconds"] for r in floor_runs]
    floors_median = statistics.median(floors)
    summary = {
        "backend": "lake",
        "events": lake_runs[0]["rows"],
        "written": lake_runs[0]["written"],
        "median_s": statistics.median(r["seconds"] for r in lake_runs),
        "median_cpu_s": statistics.median(r["cpu_s"] for r in lake_runs),
        "median_events_per_s": statistics.median(rates),
        "runs_events_per_s": [round(x) for x in rates],
        "peak_mb": max(r["peak_mb"] for r in lake_runs),
        "floor_median_events_per_s": statistics.median(floors),
        "floor_runs_events_per_s": [round(x) for x in floors],
    }
    print(
        f"{'lake':<10} {summary['events']:>9,} events  median {summary['median_s']:6.2f} s "
        f"(CPU {summary['median_cpu_s']:.2f} s)  {summary['median_events_per_s']:>9,.0f} events/s  "
        f"(runs: {summary['runs_events_per_s']})  peak {summary['peak_mb']:,.0f} MB",
        flush=True,
    )
    floor, share = summary["floor_median_events_per_s"], summary["median_events_per_s"] / floors_median
    print(
        f"{'floor':<10} {summary['events']:>9,} rows    bare pyarrow.parquet.write_table: {floor:>9,.0f} "
        f"rows/s (runs: {summary['floor_runs_events_per_s']}); the lake import runs at {share:.0%} of it",
        flush=True,
    )
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000, help="events imported into SQL stores")
    ap.add_argument("--lake-events", type=int, default=3_000_000, help="events imported into the lake")
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--products", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--backends", default="sqlite,postgresql,lake", help="which to measure, in order")
    ap.add_argument("--postgres", default=os.environ.get("XINGQU_TEST_POSTGRES_URL"))
    args = ap.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at start"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        catalog = root / "catalog"
        write_catalog(catalog, args.users, args.products)
        write_content(catalog)
        out = []
        if "sqlite" in backends or "postgresql" in backends:
            events = root / "events.parquet"
            _generate(events, args.events, args)

            def sqlite_url(i: int):
                db = root / f"bench{i}.db"
                return f"sqlite:///{db}", lambda: [
                    Path(str(db) + s).unlink(missing_ok=True) for s in ("", "-wal", "-shm")
                ]

            if "sqlite" in backends:
                out.append(bench_backend("sqlite", sqlite_url, catalog, events, args.runs))
            if "postgresql" in backends and args.postgres:
                out.append(
                    bench_backend(
                        "postgresql",
                        lambda i: _pg_scratch(args.postgres, f"xingqu_bench_{os.getpid()}_{i}"),
                        catalog,
                        events,
                        args.runs,
                    )
                )
            elif "postgresql" in backends:
                print("postgresql: skipped (no --postgres URL or XINGQU_TEST_POSTGRES_URL)")
            events.unlink()
        if "lake" in backends:
            events = root / "events-lake.parquet"
            _generate(events, args.lake_events, args)
            out.append(bench_lake(root, catalog, events, args.runs))
        print(f"load average {os.getloadavg()[0]:.1f} at the end")
        print(json.dumps(out))


def _generate(events: Path, n: int, args: argparse.Namespace) -> None:
    t = time.perf_counter()
    write_events(events, n, args.users, args.products)
    size_mb = events.stat().st_size / 1e6
    print(f"generated {n:,} events ({size_mb:.1f} MB Parquet) in {time.perf_counter() - t:.1f} s", flush=True)


if __name__ == "__main__":
    main()
