"""Feed latency at scale: 100,000 products and 1,000,000 users (the simulator's large preset).

    python benchmarks/feed_latency.py [--days 4] [--requests 2000] [--runs 3]

Builds the large preset's world, simulates ``--days`` organic days of it (impressions, clicks, orders…),
imports the catalogue into an embedded SQLite store (servability is asked of it on every request, as in
production: the servable set kept in memory, brought up to date from the store's change log), fits the
feed through the same code as ``xingqu train`` (ALS, item-kNN, content, popular, trending,
recency-weighted item-kNN and transition retrievers, profiles, LambdaRank on ``--groups`` user-days of
the last day's impressions) and
serves it with an ANN (faiss HNSW) index over the ALS item factors. Then measures single-request
``recommend(user, 20)`` with every rule on (p50 / p99 over ``--requests`` random users, several runs)
and batch throughput, with one BLAS thread as a server process runs it, and the time spent per stage
(recent events, candidates, rules, ranker, servability, rerank, explanations).
"""

from __future__ import annotations

import argparse
import gc
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from xingqu.features.market import MarketTables
from xingqu.feed_training import fit_feed, load_feed_parts, save_feed_parts
from xingqu.ingest import import_path
from xingqu.models import Recommender
from xingqu.online.servability import store_servability
from xingqu.pipelines.feed import Feed, FeedModel, FeedTrace
from xingqu.sim.config import preset
from xingqu.sim.run import Market
from xingqu.sim.writer import Ids, catalog_tables, events_table
from xingqu.store import Store

RETRIEVERS = {
    "als": {"factors": 64, "reg": 0.1, "alpha": 4.0, "iterations": 10},
    "itemknn": {"neighbors": 100, "shrink": 10.0},
    "popular": {},
    "content": {"title_weight": 0.5},
    "trending": {"half_life_days": 3.0},
    "recentknn": {"neighbors": 100, "shrink": 10.0, "half_life": 5.0, "window": 50},
    "transition": {"window": 5, "backward": 0.0, "beta": 0.3, "last": 5, "half_life": 1.0},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=4)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch-users", type=int, default=5000)
    ap.add_argument("--groups", type=int, default=5000, help="impression groups the ranker learns from")
    ap.add_argument("--cache", type=Path, help="keep the fitted feed here and load it on later runs")
    ap.add_argument("--threads", type=int, default=1, help="BLAS threads while serving (a server's: 1)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    cache = args.cache
    cached = cache is not None and (cache / "feed" / "feed.json").exists() and (cache / "catalogue").is_dir()
    events = None
    if cached:
        print(f"world's catalogue and fitted feed from {cache}", flush=True)
    else:
        tables, events = simulate_world(args.days)
    with tempfile.TemporaryDirectory() as tmp:
        folder = cache / "catalogue" if cached else Path(tmp) / "catalogue"
        if not cached:
            folder.mkdir(parents=True, exist_ok=True)
            for kind in ("brands", "shops", "products"):  # what servability reads
                pq.write_table(tables[kind], folder / f"{kind}.parquet")
        store = Store(f"sqlite:///{Path(tmp) / 'store.db'}")
        t = time.perf_counter()
        import_path(store, folder)
        print(f"catalogue imported in {time.perf_counter() - t:.0f} s", flush=True)
        t = time.perf_counter()
        if cached:
            retrievers = {k: Recommender.load(cache / k) for k in RETRIEVERS}
            model = load_feed_parts(cache / "feed", retrievers, sp.load_npz(cache / "history.npz").tocsr())
            print(f"feed loaded from {cache} in {time.perf_counter() - t:.0f} s", flush=True)
        else:
            model = fit_feed(
                MarketTables.of(tables, events), RETRIEVERS, label_days=1.0, max_groups=args.groups
            )
            meta = model.ranker.meta if model.ranker else None
            print(f"feed fitted in {time.perf_counter() - t:.0f} s (ranker: {meta})", flush=True)
            if cache is not None:
                shutil.copytree(folder, cache / "catalogue", dirs_exist_ok=True)
                for k, r in model.retrievers.items():
                    r.save(cache / k)
                save_feed_parts(model, cache / "feed")
                sp.save_npz(cache / "history.npz", model.history)
        assert model.ranker is not None
        t = time.perf_counter()
        feed = Feed(model, store_servability(store).servable)  # as ``xingqu serve`` asks it
        gc.freeze()  # as a server does once its model is loaded: requests' collections skip it
        print(
            f"served with ANN over {len(feed.prepared.ann)} factor model(s), index built in "
            f"{time.perf_counter() - t:.1f} s",
            flush=True,
        )
        with threadpool_limits(args.threads):
            serve(args, feed, model, len(model.cat.items), t0)


def simulate_world(days: int) -> tuple[dict[str, pa.Table], pa.Table]:
    """The large preset's catalogue tables and ``days`` organic days of its events."""
    t0 = time.perf_counter()
    market = Market(preset("large", days=days))
    w = market.world
    ids = Ids(w)
    parts: list[pa.Table] = []
    rows = 0
    for day in range(days):
        for part in market.organic_day(day):
            if len(part):
                parts.append(events_table(part, ids, day, rows))
                rows += parts[-1].num_rows
    events = pa.concat_tables(parts)
    print(
        f"simulated {w.n_users:,} users, {w.n_products:,} products, {events.num_rows:,} events "
        f"in {time.perf_counter() - t0:.0f} s",
        flush=True,
    )
    return catalog_tables(w, ids), events


def serve(args: argparse.Namespace, feed: Feed, model: FeedModel, n_products: int, t0: float) -> None:
    """Single requests and batches against one loaded feed; prints latency, stages and throughput."""
    rng = np.random.default_rng(7)
    user_ids = model.profiles.users.ids
    for u in user_ids[rng.integers(0, len(user_ids), 50)]:  # warm-up
        feed.recommend(u, 20)
    p50s, p99s, means, lengths = [], [], [], []
    trace = FeedTrace()
    for run in range(args.runs):
        sample = user_ids[rng.integers(0, len(user_ids), args.requests)]
        lat = np.empty(len(sample))
        for k, u in enumerate(sample):
            s = time.perf_counter()
            items = feed.recommend(u, 20, trace=trace)
            lat[k] = (time.perf_counter() - s) * 1000
            lengths.append(len(items))
        p50s.append(np.percentile(lat, 50))
        p99s.append(np.percentile(lat, 99))
        means.append(lat.mean())
        print(
            f"  run {run + 1}: p50 {p50s[-1]:.2f} ms, p99 {p99s[-1]:.2f} ms, mean {means[-1]:.2f} ms",
            flush=True,
        )
    served = args.runs * args.requests
    print(
        "time per request by stage: "
        + ", ".join(f"{k} {v / served * 1000:.2f} ms" for k, v in trace.seconds.items())
    )
    batch = user_ids[rng.integers(0, len(user_ids), args.batch_users)]
    rates = []
    for _ in range(args.runs):
        s = time.perf_counter()
        for lo in range(0, len(batch), 512):
            feed.recommend_many(batch[lo : lo + 512].tolist(), 20)
        rates.append(len(batch) / (time.perf_counter() - s))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nmachine: {platform.machine()}, Python {platform.python_version()}, 2 cores")
    print(f"catalogue {n_products:,} products, {len(user_ids):,} users; n = 20, every rule on")
    print(
        f"single request: p50 {np.median(p50s):.2f} ms, p99 {np.median(p99s):.2f} ms "
        f"(medians of {args.runs} runs × {args.requests} requests; mean {np.median(means):.2f} ms); "
        f"items per feed: min {min(lengths)}, mean {np.mean(lengths):.1f}"
    )
    print(
        f"batch: {np.median(rates):,.0f} users/s (median of {args.runs} runs of {len(batch):,} users, "
        f"512 per call); peak RSS {peak:,.0f} MB; total {time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
