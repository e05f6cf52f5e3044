"""Per-core throughput of each Spark job over an event lake (the capacity model's inputs, docs/scale.md):
events read per second per core for the weighted interactions, bought-together counts, the daily
rollups and the per-pair sums behind user profiles (every column computed, written to Spark's no-op
sink), and ALS's seconds per iteration for the resulting matrix. Medians of ``--runs`` (after one
warm-up run, which pays the JVM's start and compilation).

    python benchmarks/spark_jobs.py --db sqlite:///s.db --lake ./lake [--master local[2]] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from xingqu.dataset import load_dataset
from xingqu.distributed import jobs
from xingqu.distributed.engine import SparkEngine
from xingqu.models.factors import ALSConfig
from xingqu.store import Store
from xingqu.store.lake import LakeEventLog


def cores_of(master: str) -> int:
    if master.startswith("local[") and master[6:-1].isdigit():
        return int(master[6:-1])
    return os.cpu_count() or 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--lake", required=True)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--als-iterations", type=int, default=5)
    args = ap.parse_args()
    store = Store(args.db)
    store.use_lake(LakeEventLog(args.lake))
    engine = SparkEngine(args.master)
    cores = cores_of(args.master)
    print(f"{os.cpu_count()} cores, Spark {args.master}, load average {os.getloadavg()[0]:.1f} at start")
    events = jobs.events_frame(engine.spark, store.lake)  # type: ignore[arg-type]
    n = events.count()
    products = jobs.catalogue_frame(engine.spark, store, "products", ["product_id", "shop_id"])
    creators = jobs.catalogue_frame(engine.spark, store, "creators", ["creator_id", "kind"])
    now = jobs.last_event_ms(events)
    work = {
        "weighted interactions": lambda: jobs.weighted_interactions(events, half_life_days=30).count(),
        "bought together": lambda: jobs.bought_together(events)[0].count(),
        "daily rollups": lambda: jobs.daily_counts(events, products, creators).count(),
        "profile sums": lambda: jobs.profile_pairs(events, now).write.format("noop").mode("overwrite").save(),
    }
    print(f"{n:,} events in the lake")
    for name, job in work.items():
        job()  # warm-up
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            job()
            times.append(time.perf_counter() - t)
        med = statistics.median(times)
        print(f"{name:<22} {med:7.2f} s  {n / med / cores:>12,.0f} events/s per core  (runs {times})")
    base = load_dataset(store)
    matrix = engine.matrix(store, base.users, base.items)
    config = ALSConfig(factors=64, iterations=args.als_iterations)
    engine.als(matrix, config)  # warm-up
    t = time.perf_counter()
    engine.als(matrix, config)
    per_iter = (time.perf_counter() - t) / args.als_iterations
    per_pair = per_iter * cores / max(matrix.nnz, 1) * 1e6
    print(
        f"ALS (64 factors)       {per_iter:7.2f} s per iteration for {matrix.shape[0]:,} users × "
        f"{matrix.shape[1]:,} products, {matrix.nnz:,} pairs ({per_pair:.2f} core-µs per pair and iteration)"
    )


if __name__ == "__main__":
    main()
