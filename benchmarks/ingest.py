"""Import 1,000,000 generated events from Parquet into SQLite and PostgreSQL: events/s and peak memory.

Each import runs in a fresh child process so its peak RSS is its own. Prints the median of
``--runs`` runs per backend. PostgreSQL is measured when ``--postgres URL`` or
``XINGQU_TEST_POSTGRES_URL`` names a server (a scratch database is created and dropped).

    python benchmarks/ingest.py [--events 1000000] [--runs 3] [--postgres postgresql://…/postgres]
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

sys.path.insert(0, str(Path(__file__).parent))
from _synth import write_catalog, write_content, write_events

CHILD = r"""
import json, resource, sys, time
from xingqu.store import Store
from xingqu.ingest import import_path
store = Store(sys.argv[1])
t = time.perf_counter()
report = import_path(store, sys.argv[2])
elapsed = time.perf_counter() - t
print(json.dumps({"seconds": elapsed, "written": report.written, "rows": report.rows,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _child(url: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, url, str(path)], check=True, capture_output=True, text=True
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--products", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--postgres", default=os.environ.get("XINGQU_TEST_POSTGRES_URL"))
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        catalog = root / "catalog"
        write_catalog(catalog, args.users, args.products)
        write_content(catalog)
        events = root / "events.parquet"
        t = time.perf_counter()
        write_events(events, args.events, args.users, args.products)
        print(
            f"generated {args.events:,} events ({events.stat().st_size / 1e6:.1f} MB Parquet) "
            f"in {time.perf_counter() - t:.1f} s"
        )

        def sqlite_url(i: int):
            db = root / f"bench{i}.db"
            return f"sqlite:///{db}", lambda: [
                Path(str(db) + s).unlink(missing_ok=True) for s in ("", "-wal", "-shm")
            ]

        out = [bench_backend("sqlite", sqlite_url, catalog, events, args.runs)]
        if args.postgres:
            out.append(
                bench_backend(
                    "postgresql",
                    lambda i: _pg_scratch(args.postgres, f"xingqu_bench_{os.getpid()}_{i}"),
                    catalog,
                    events,
                    args.runs,
                )
            )
        else:
            print("postgresql: skipped (no --postgres URL or XINGQU_TEST_POSTGRES_URL)")
        print(json.dumps(out))


if __name__ == "__main__":
    main()
