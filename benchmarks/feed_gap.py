"""Where the feed's distance to the oracle lies: its lists valued by the simulator's truth.

    python benchmarks/feed_gap.py [--seeds 42,43] [--users 2500] [--n 4] [--preset demo]

For each seed: the organic warm-up of ``xingqu.sim.ab`` (14 days), the default feed fitted on it as the
closed loop fits it, and at 20:00 of the next day a list of ``--n`` products for a sample of that
day's active users. Every list is valued by the simulator's true expected quality GMV
(``Behaviour.expected_value``) and printed as a share of the oracle's lists' value. Beside the feed:

- ``candidates by truth``: the feed's own candidates, rules and caps, ranked by the true value (what
  a perfect ranker could reach from them);
- ``feed + true X``: the ranker's score plus the true part X of the utility (twice its weight, the
  slope of a log expected value in it), as if the ranker knew that part of the shopper's taste.

An offline view of one moment, not the closed loop (``benchmarks/feed_ab.py``): no visit, page or
response follows, so its shares differ from the loop's; it says which knowledge the ranker lacks.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa

import xingqu.pipelines.feed.serve as serve
from xingqu.domain.units import DAY_MS
from xingqu.features.market import MarketTables
from xingqu.feed_training import fit_feed
from xingqu.pipelines.feed import Feed, FeedConfig
from xingqu.sim.config import preset
from xingqu.sim.policies import FEED_RETRIEVERS, MarketView, OraclePolicy
from xingqu.sim.run import Market
from xingqu.sim.writer import Ids, catalog_tables, events_table

WARMUP_DAYS = 14
#: Parts of the utility a ranker could be told, by the names printed.
PARTS = {
    "style": ["style"],
    "price": ["price"],
    "function": ["function"],
    "interest": ["interest"],
    "brand": ["brand"],
    "moving": ["intent", "session", "similar"],
}


def warmed_up(name: str, seed: int) -> tuple[Market, Ids, dict[str, pa.Table], pa.Table]:
    """A world after its organic warm-up: market (state at its end), ids, catalogue and the event log."""
    cfg = preset(name, seed=seed).model_copy(update={"seed": seed, "days": WARMUP_DAYS + 1})
    market = Market(cfg)
    ids = Ids(market.world)
    log: list[pa.Table] = []
    for day in range(WARMUP_DAYS):
        for part in market.organic_day(day):
            if len(part):
                log.append(events_table(part, ids, day, sum(t.num_rows for t in log)))
    return market, ids, catalog_tables(market.world, ids), pa.concat_tables(log)


def shares(name: str, seed: int, n_users: int, n: int) -> dict[str, float]:
    """Each arm's lists' true value as a share of the oracle's, on one seed."""
    market, ids, catalog, log = warmed_up(name, seed)
    w, b, state = market.world, market.behaviour, market.state
    rng = np.random.default_rng([seed, 99])
    users = np.flatnonzero(rng.random(w.n_users) < w.u_activity)[:n_users]
    user_ids = ids.users.take(pa.array(users)).to_pylist()
    user_index = {u: i for i, u in enumerate(ids.users.to_pylist())}
    product_index = {p: i for i, p in enumerate(ids.products.to_pylist())}
    now = w.start_ms + WARMUP_DAYS * DAY_MS + 20 * 3_600_000
    day = (now - w.start_ms) / DAY_MS
    view = MarketView(catalog["products"], catalog["users"], log, catalog)
    servable = set(view.available(now).tolist())

    def value(lists: list[list[str]]) -> float:
        u = np.repeat(users, [len(x) for x in lists])
        p = np.array([product_index[x] for shown in lists for x in shown], dtype=np.int64)
        return float(b.expected_value(u, p, day, state).sum())

    oracle = OraclePolicy(b, state, ids.products, user_index, w.start_ms)
    best = value(oracle.recommend(user_ids, n, now))
    model = fit_feed(MarketTables.of(view.tables, log), FEED_RETRIEVERS)
    feed = Feed(model, lambda asked: servable.intersection(asked), FeedConfig())
    item_ids = np.asarray(model.cat.items.ids, dtype=object)
    served_score = serve.score

    def pairs(req: object, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The world's (user, product) indices of a request's candidates, row-major."""
        u = np.repeat([user_index[x] for x in req.user_ids], items.shape[1])  # type: ignore[attr-defined]
        return u, np.array([product_index[x] for x in item_ids[items.ravel()]], dtype=np.int64)

    def by_truth(req, prep, items, mask):  # type: ignore[no-untyped-def]
        ev = b.expected_value(*pairs(req, items), day, state)  # what the lists are valued by
        return np.log(np.maximum(ev, 1e-12)).reshape(items.shape).astype(np.float32)

    def told(names: list[str]) -> Callable[..., np.ndarray]:
        def scored(req, prep, items, mask):  # type: ignore[no-untyped-def]
            parts = b.parts(*pairs(req, items), day, state)
            known = sum(2 * w.cfg.weights[k] * parts[k] for k in names)
            return served_score(req, prep, items, mask) + known.reshape(items.shape).astype(np.float32)

        return scored

    arms: dict[str, Callable[..., np.ndarray]] = {"feed": served_score, "candidates by truth": by_truth}
    arms |= {f"feed + true {k}": told(v) for k, v in PARTS.items()}
    out = {}
    try:
        for arm, scorer in arms.items():
            serve.score = scorer  # the one stage that differs between arms
            lists = [[i.product_id for i in f] for f in feed.recommend_many(user_ids, n, now_ms=now)]
            out[arm] = value(lists) / best
    finally:
        serve.score = served_score
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="42,43")
    ap.add_argument("--users", type=int, default=2500)
    ap.add_argument("--n", type=int, default=4, help="products per list (a closed-loop page holds 4)")
    ap.add_argument("--preset", default="demo")
    args = ap.parse_args()
    start = time.perf_counter()
    seeds = [int(s) for s in args.seeds.split(",")]
    per_seed = [shares(args.preset, s, args.users, args.n) for s in seeds]
    print(f"share of the oracle's true value, lists of {args.n}, {args.users} users, seeds {seeds}")
    for arm in per_seed[0]:
        values = [r[arm] for r in per_seed]
        cells = ", ".join(f"{v:.3f}" for v in values)
        print(f"{arm:<24} {np.mean(values):.3f}  (per seed {cells})")
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
