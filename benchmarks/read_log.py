"""Reading a store's whole event log into Arrow, as ``xingqu train`` and the matching tools do: every
column against only the columns the features read (``xingqu.features.market.MARKET_EVENT_COLUMNS``).

    xingqu simulate --out /tmp/log --preset demo --users 50000 --products 10000 --creators 1000 --days 30
    xingqu import /tmp/log --db sqlite:////tmp/log.db
    python benchmarks/read_log.py --db sqlite:////tmp/log.db [--runs 3]

Prints the median seconds and the Arrow size of each, measured alternately in the same process.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import pyarrow as pa

from xingqu.features.market import MARKET_EVENT_COLUMNS
from xingqu.store import Store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="store URL holding an imported event log")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    store = Store(args.db)
    store.require_ready()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    seconds: dict[str, list[float]] = {"all": [], "features": []}
    sizes: dict[str, tuple[int, int]] = {}
    for _ in range(args.runs):
        for name, columns in (("all", None), ("features", MARKET_EVENT_COLUMNS)):
            t = time.perf_counter()
            table = pa.Table.from_batches(list(store.iter_records("events", columns=columns)))
            seconds[name].append(time.perf_counter() - t)
            sizes[name] = (table.num_rows, table.nbytes)
            del table
    for name, label in (("all", "every column"), ("features", "the features' columns")):
        rows, nbytes = sizes[name]
        print(
            f"{label:<22} {rows:,} events  median {statistics.median(seconds[name]):.1f} s  "
            f"{nbytes / 1e6:,.0f} MB  (runs {[round(s, 1) for s in seconds[name]]})"
        )
    ratio = statistics.median(seconds["all"]) / statistics.median(seconds["features"])
    print(
        f"features' columns: {ratio:.2f}× faster, {sizes['features'][1] / sizes['all'][1]:.0%} of the memory"
    )


if __name__ == "__main__":
    main()
