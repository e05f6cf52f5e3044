"""Report speed on the large preset: the daily GMV / quality GMV / GPM report by channel, and one shop's
compass page, on the embedded default (SQLite) and on PostgreSQL.

The marketplace is the large preset (1,000,000 users, 100,000 products, 30 days) with a higher click
rate and click-to-pay rate than the default, so that it holds more than 1,000,000 orders among its
~64,000,000 events. It is simulated once into ``--data`` and imported once per store (rollups are kept
at ingest); later runs reuse both. The daily report is also timed the slow way, as a baseline: one scan
of every order instead of the day rollups. Each figure is the median of ``--runs`` calls in one process after
one warm-up call, and the report is also timed end to end through the CLI (a fresh process, median of
three). Targets: daily report ≤ 5 s, compass page ≤ 1 s.

    python benchmarks/analytics.py --data /tmp/bench/large --sqlite /tmp/bench/large.db \
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from xingqu.analytics import gmv_report
from xingqu.analytics.compass import compass_page
from xingqu.ingest import import_path
from xingqu.sim.config import preset
from xingqu.sim.run import simulate
from xingqu.store import Store
from xingqu.store.schema import daily_totals_table, order_facts_table

OVERRIDES = {"target_ctr": 0.2, "target_click_to_pay": 0.12}


def timed(fn: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    fn()  # warm-up: caches, statistics, first connection
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def cli_seconds(url: str, args: list[str], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "xingqu", *args, "--db", url, "--json"],
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sizes(store: Store) -> tuple[int, int]:
    """Events (from the daily rollup) and orders in the store."""
    with store.reading() as conn:
        events = conn.execute(sa.select(sa.func.sum(daily_totals_table.c.n))).scalar_one() or 0
        orders = conn.execute(sa.select(sa.func.count()).select_from(order_facts_table)).scalar_one()
    return int(events), int(orders)


def busiest_shop(store: Store) -> tuple[str, int]:
    o = order_facts_table
    with store.reading() as conn:
        shop, n = conn.execute(
            sa.select(o.c.shop_id, sa.func.count().label("n"))
            .where(o.c.shop_id.is_not(None))
            .group_by(o.c.shop_id)
            .order_by(sa.desc("n"))
            .limit(1)
        ).one()
    return str(shop), int(n)


def bench(name: str, url: str, data: Path, runs: int) -> dict[str, object]:
    store = Store(url)
    store.init()
    events, orders = sizes(store)
    imported = None
    if orders == 0:
        start = time.perf_counter()
        report = import_path(store, data)
        seconds = time.perf_counter() - start
        written = sum(f.written for f in report.files if f.kind == "events")
        imported = {"seconds": round(seconds, 1), "events_per_s": round(written / seconds)}
        events, orders = sizes(store)
    shop, shop_orders = busiest_shop(store)
    daily, daily_runs = timed(lambda: gmv_report(store, "day", "channel"), runs)
    # baseline: the same report from a scan of every order (no day rollups)
    scan, _scan_runs = timed(
        lambda: gmv_report(store, "day", "channel", day_rollups=False), max(1, runs // 2)
    )
    page, page_runs = timed(lambda: compass_page(store, shop, 30), runs)
    rows, _total = gmv_report(store, "day", "channel")
    cli = cli_seconds(url, ["report", "gmv", "--period", "day", "--by", "channel"])
    result = {
        "store": name,
        "events": events,
        "orders": orders,
        "import": imported,
        "daily_by_channel_s": round(daily, 3),
        "daily_runs_s": [round(t, 3) for t in daily_runs],
        "daily_rows": len(rows),
        "daily_scan_baseline_s": round(scan, 3),
        "daily_cli_s": round(cli, 2),
        "compass_shop": shop,
        "compass_shop_orders": shop_orders,
        "compass_s": round(page, 3),
        "compass_runs_s": [round(t, 3) for t in page_runs],
    }
    print(
        f"{name:<10} {events:>12,} events {orders:>10,} orders | daily GMV/quality GMV/GPM by channel "
        f"({len(rows)} rows): median {daily:.3f} s (scan of all orders {scan:.2f} s; CLI end to end "
        f"{cli:.2f} s) | compass of {shop} "
        f"({shop_orders:,} orders): median {page:.3f} s",
        flush=True,
    )
    store.close()
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="folder of the simulated large preset")
    ap.add_argument("--sqlite", type=Path, required=True, help="SQLite store file (imported if empty)")
    ap.add_argument("--postgres", help="PostgreSQL URL (imported if empty)")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    if not any(args.data.glob("events-*.parquet")):
        cfg = preset("large", **OVERRIDES)
        print(f"simulating the large preset with {OVERRIDES} into {args.data} …", flush=True)
        r = simulate(cfg, args.data)
        print(f"  {r.events:,} events in {r.seconds:.0f} s", flush=True)
    out = [bench("sqlite", f"sqlite:///{args.sqlite}", args.data, args.runs)]
    if args.postgres:
        out.append(bench("postgresql", args.postgres, args.data, args.runs))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
