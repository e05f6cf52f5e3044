"""Matching people, goods and creators, judged on the simulator (and timed at scale).

    python benchmarks/matching.py [--seeds 5] [--products 20] [--skip-large | --skip-quality] [--large-days 3]

Quality (demo preset, each seed its own world): train on days 1–20, judge on days 21–30.
- Lookalikes: the N = 50 users most like a seed; precision = share of them who buy in days 21–30 (seeds
  excluded), against random users and against the brand's (else the shop's) followers, with 95 % bootstrap
  intervals over the judged targets. Per product (seed: its buyers so far, at least 10) and per brand (seed:
  buyers of any of its goods, judged on future buyers of any of them). A demo world has only a handful of
  products with 10 buyers in 20 days, so the per-product figure needs many seeds (``--seeds 40``) to mean
  anything; the per-brand one holds at 5.
- Creators for goods: true collaboration GMV (the simulator's expected quality GMV of the product shown to
  the creator's followers) of the top 5 recommended creators, against 5 random creators (the expectation)
  and the 5 most-followed.
- Selection: true expected GPM of the creator's followers for the top 3 recommended categories against the
  creator's current categories, for creators who sell outside what their fans followed them for (planted)
  and for every creator.

Timing (large preset, 1,000,000 users, 100,000 products, 10,000 creators; ``--large-days`` simulated days):
portrait of a creator with 1,000,000 followers; lookalike of 10,000 seeds; creators for a product.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from xingqu.features.creators import MatchStats
from xingqu.features.groups import Groups
from xingqu.features.market import MarketTables, market_dataset
from xingqu.features.portraits import Portraits
from xingqu.features.profiles import Catalogue, build_profiles
from xingqu.models import ALS
from xingqu.pipelines.audience import MIN_SEEDS, AudienceIndex, lookalike
from xingqu.pipelines.creators import CreatorMatcher
from xingqu.pipelines.selection import Selector
from xingqu.sim.config import preset
from xingqu.sim.matching_truth import category_gpm, collaboration_gmv
from xingqu.sim.run import Market
from xingqu.sim.writer import Ids, catalog_tables, events_table

ALS_CONFIG = {"factors": 64, "reg": 0.1, "alpha": 4.0}
N_LOOKALIKE = 50
LOOKALIKE_LEVELS = ("product", "brand")


def simulate(cfg_name: str, seed: int, days: int, **overrides: object) -> tuple[Market, Ids, list[pa.Table]]:
    market = Market(preset(cfg_name, seed=seed, days=days, **overrides))
    ids = Ids(market.world)
    per_day: list[pa.Table] = []
    rows = 0
    for day in range(days):
        parts = [events_table(p, ids, day, rows) for p in market.organic_day(day) if len(p)]
        per_day.append(pa.concat_tables(parts))
        rows += per_day[-1].num_rows
    return market, ids, per_day


def build(tables: dict[str, pa.Table], events: pa.Table, seconds: dict[str, float] | None = None):
    """Everything matching needs, from the catalogue tables and the log; ``seconds`` gets each part's time."""
    seconds = {} if seconds is None else seconds

    def timed(name: str, make):
        t = time.perf_counter()
        out = make()
        seconds[name] = time.perf_counter() - t
        return out

    market = MarketTables.of(tables, events)
    groups = timed("groups", lambda: Groups.build(market))
    portraits = timed("portraits", lambda: Portraits.build(market, groups))
    data = timed("dataset", lambda: market_dataset(market))
    als = timed("als", lambda: ALS(**ALS_CONFIG).fit(data))
    stats = timed("creator stats", lambda: MatchStats.build(market, groups))
    cat = timed("catalogue", lambda: Catalogue.build(market, groups.items))
    profiles, _ = timed("profiles", lambda: build_profiles(market, groups.users, cat))
    index = timed(
        "audience index", lambda: AudienceIndex.build(portraits, als.user_factors, data.users, profiles)
    )
    return groups, portraits, index, stats, CreatorMatcher(index, stats, profiles, cat)


def quality(seed: int, n_products: int) -> dict[str, list[float]]:
    t0 = time.perf_counter()
    market = Market(preset("demo", seed=seed, days=30))
    ids = Ids(market.world)
    w = market.world
    train_parts, judge_parts, rows = [], [], 0
    for day in range(30):
        if day == 20:
            state = market.state.copy()
        parts = [events_table(p, ids, day, rows) for p in market.organic_day(day) if len(p)]
        table = pa.concat_tables(parts)
        rows += table.num_rows
        (train_parts if day < 20 else judge_parts).append(table)
    tables = catalog_tables(w, ids)
    groups, portraits, index, stats, matcher = build(tables, pa.concat_tables(train_parts))
    judge = pa.concat_tables(judge_parts)
    # future buyers per product (kept or not: a purchase is the behaviour predicted)
    pay = judge.filter(pa.compute.equal(judge["event_type"], "pay"))
    fu = groups.users.lookup(pay["user_id"].to_numpy(zero_copy_only=False))
    fi = groups.items.lookup(pay["product_id"].to_numpy(zero_copy_only=False))
    future = sp.csr_matrix((np.ones(len(fu)), (fi, fu)), shape=(len(groups.items), len(groups.users)))
    future.data[:] = 1
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {
        k: []
        for k in (
            *(
                f"{level}_{k}"
                for level in LOOKALIKE_LEVELS
                for k in ("hits", "n", "random", "fo_hits", "fo_n")
            ),
            "cr_ours",
            "cr_random",
            "cr_followed",
            "sel_drift_ours",
            "sel_drift_current",
            "sel_all_ours",
            "sel_all_current",
        )
    }
    buyers_so_far = np.diff(groups.last_paid.indptr)
    products = [i for i in np.argsort(-buyers_so_far, kind="stable") if buyers_so_far[i] >= 3][:n_products]
    creators_only = np.flatnonzero(stats.is_creator)
    most_followed = creators_only[np.argsort(-stats.followers[creators_only], kind="stable")[:5]]
    sim_creator = {c: k for k, c in enumerate(ids.creators.to_pylist())}
    sim_product = {p: k for k, p in enumerate(ids.products.to_pylist())}
    for i in products:
        pid = groups.items.ids[i]
        seeds = groups.buyers(np.array([i]), window=False)
        ours = [sim_creator[m.creator_id] for m in matcher.for_product(pid, n=5)]
        truth_all = collaboration_gmv(
            market,
            state,
            np.array([sim_creator[c] for c in groups.creators.ids[creators_only]]),
            sim_product[pid],
            20.0,
        )
        if truth_all.sum() > 0:  # a product nobody would buy (violating, sold out) says nothing
            truth = dict(zip(creators_only.tolist(), truth_all.tolist(), strict=True))
            k_of = {sim_creator[groups.creators.ids[c]]: c for c in creators_only}
            out["cr_ours"].append(sum(truth[k_of[c]] for c in ours))
            out["cr_random"].append(5 * float(np.mean(truth_all)))
            out["cr_followed"].append(sum(truth[c] for c in most_followed))
        if len(seeds) >= MIN_SEEDS:
            b = groups.item_brand[i]
            shops = groups.brand_shops(b) if b >= 0 else groups.item_shop[[i]]
            judge_lookalike(out, "product", index, seeds, future[i].indices, groups.shop_followers(shops))
    # brands: seed = everyone who kept a purchase of the brand's goods, judged on the brand's future buyers
    for b in range(len(groups.brands)):
        items = groups.items_of(brand=b)
        seeds = groups.buyers(items, window=False)
        if len(seeds) >= MIN_SEEDS:
            fut = np.unique(future[items].indices)
            judge_lookalike(out, "brand", index, seeds, fut, groups.shop_followers(groups.brand_shops(b)))
    # selection: creators with at least 30 followers
    selector = Selector(portraits, stats)
    sold = np.bincount(np.nonzero(groups.last_paid)[0], minlength=len(groups.items))
    by_cat = {}
    for c in range(len(groups.categories)):
        items = np.flatnonzero((groups.item_category == c) & stats.item_listed)
        best = items[np.argsort(-sold[items], kind="stable")[:15]]
        by_cat[c] = np.array([sim_product[groups.items.ids[j]] for j in best], dtype=np.int64)
    sim_cat = {name: k for k, name in enumerate(w.cat_names)}
    by_sim_cat = {sim_cat[groups.categories.ids[c]]: v for c, v in by_cat.items()}
    fans = np.diff(groups.follows.indptr)
    for k in creators_only[fans[creators_only] >= 30]:
        sk = sim_creator[groups.creators.ids[k]]
        if not current_categories(groups, stats, k):
            continue
        now = current_categories(groups, stats, k)
        picks, _ = selector.categories(groups.creators.ids[k], 3)
        gpm = category_gpm(market, state, sk, by_sim_cat, 20.0, rng=rng)
        ours = np.mean([gpm[sim_cat[p.category]] for p in picks[: len(now)]])  # as many as it sells now
        current = np.mean([gpm[sim_cat[c]] for c in now])
        out["sel_all_ours"].append(float(ours))
        out["sel_all_current"].append(float(current))
        if w.k_drifted[sk]:
            out["sel_drift_ours"].append(float(ours))
            out["sel_drift_current"].append(float(current))
    print(
        f"  seed {seed}: lookalikes for {len(out['product_n'])} products and {len(out['brand_n'])} brands, "
        f"{len(out['sel_all_ours'])} creators "
        f"({len(out['sel_drift_ours'])} drifted), {time.perf_counter() - t0:.0f} s",
        flush=True,
    )
    return out


def judge_lookalike(
    out: dict[str, list[float]],
    level: str,
    index: AudienceIndex,
    seeds: np.ndarray,
    future: np.ndarray,
    followers: np.ndarray,
) -> None:
    """Hits among the N users most like the seed, and what random users and the followers would score."""
    fut = np.setdiff1d(future, seeds)
    if len(fut) == 0:
        return
    users = index.groups.users
    look = lookalike(index, seeds, n=N_LOOKALIKE)
    chosen = users.lookup(np.array(look.users, dtype=object))
    out[f"{level}_hits"].append(float(np.isin(chosen, fut).sum()))
    out[f"{level}_n"].append(float(len(chosen)))
    out[f"{level}_random"].append(len(fut) / (len(users) - len(seeds)) * len(chosen))
    followers = np.setdiff1d(followers, seeds)
    # followers' precision, for as many of them as the lookalike returns (none: nothing to compare)
    take = min(len(followers), N_LOOKALIKE)
    out[f"{level}_fo_hits"].append(float(np.isin(followers, fut).sum()) / max(len(followers), 1) * take)
    out[f"{level}_fo_n"].append(float(take))


def ratio_interval(
    num: np.ndarray, num_n: np.ndarray, den: np.ndarray, den_n: np.ndarray, draws: int = 2000
) -> tuple[float, float]:
    """95 % bootstrap interval (over the judged products or brands) of one pooled precision over another."""
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(num), (draws, len(num)))
    a = num[pick].sum(axis=1) / np.maximum(num_n[pick].sum(axis=1), 1)
    b = den[pick].sum(axis=1) / np.maximum(den_n[pick].sum(axis=1), 1)
    r = a / np.where(b > 0, b, np.nan)
    lo, hi = np.nanpercentile(r, [2.5, 97.5])
    return float(lo), float(hi)


def current_categories(groups: Groups, stats: MatchStats, k: int) -> list[str]:
    """A creator's current top categories as the log shows them: by its own sales (up to three), else by
    the goods it carries."""
    by_sales = stats.creator_gmv_by_category[k]
    source = by_sales if by_sales.sum() > 0 else stats.category_share[k]
    top = [c for c in np.argsort(-source, kind="stable")[:3] if source[c] > 0]
    return [str(groups.categories.ids[c]) for c in top]


def timings(days: int, runs: int) -> None:
    t0 = time.perf_counter()
    market, ids, per_day = simulate("large", 42, days)
    events = pa.concat_tables(per_day)
    tables = catalog_tables(market.world, ids)
    # one creator followed by every user: the portrait the issue asks to time
    users = tables["users"]["user_id"]
    mega = tables["creators"]["creator_id"][0].as_py()
    extra = pa.table(
        {
            "user_id": users,
            "kind": pa.array(["follow"] * len(users)),
            "target_id": pa.array([mega] * len(users)),
            "level": pa.array([0] * len(users), pa.int64()),
            "since": pa.nulls(len(users), tables["relations"].schema.field("since").type),
        }
    ).cast(tables["relations"].schema)
    tables["relations"] = pa.concat_tables([tables["relations"], extra])
    print(
        f"large preset: {len(users):,} users, {market.world.n_products:,} products, "
        f"{len(market.world.k_kind):,} creators, {events.num_rows:,} events "
        f"({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    t = time.perf_counter()
    parts: dict[str, float] = {}
    groups, portraits, index, _, matcher = build(tables, events, parts)
    print(
        f"indexes built in {time.perf_counter() - t:.0f} s ("
        + ", ".join(f"{k} {v:.1f} s" for k, v in parts.items())
        + ")",
        flush=True,
    )
    buyers = np.diff(groups.last_paid.indptr)
    product = groups.items.ids[int(np.argmax(buyers))]
    seeds = np.random.default_rng(1).choice(len(groups.users), 10_000, replace=False)
    portrait_s, look_s, creators_s = [], [], []
    for _ in range(runs):
        t = time.perf_counter()
        p = portraits.portrait("creator", mega, "followers")
        portrait_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        lookalike(index, seeds, n=100_000)
        look_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        matcher._audience = None  # each run builds the audience matrix too
        matcher.for_product(product, n=20)
        creators_s.append(time.perf_counter() - t)
    print(
        f"portrait of {p.size:,} followers: median {np.median(portrait_s):.3f} s "
        f"(runs {np.round(portrait_s, 3).tolist()})"
    )
    print(
        f"lookalike of 10,000 seeds over {len(groups.users):,} users (top 100,000): "
        f"median {np.median(look_s):.2f} s "
        f"(runs {np.round(look_s, 2).tolist()})"
    )
    print(
        f"creators for a product over {len(groups.creators):,} creators: "
        f"median {np.median(creators_s):.3f} s "
        f"(runs {np.round(creators_s, 3).tolist()})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=42)
    ap.add_argument("--products", type=int, default=20)
    ap.add_argument("--skip-large", action="store_true", help="quality only")
    ap.add_argument("--skip-quality", action="store_true", help="large-preset timings only")
    ap.add_argument("--large-days", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    if not args.skip_quality:
        report_quality(args.first_seed, args.seeds, args.products)
    if not args.skip_large:
        timings(args.large_days, args.runs)


def report_quality(first_seed: int, seeds: int, products: int) -> None:
    """Pool the quality figures over the seeds' worlds and print them."""
    pooled: dict[str, list[float]] = {}
    for s in range(first_seed, first_seed + seeds):
        for k, v in quality(s, products).items():
            pooled.setdefault(k, []).extend(v)
    for level in LOOKALIKE_LEVELS:
        n = sum(pooled[f"{level}_n"])
        if not n:
            print(f"\nlookalike per {level}: no {level} with {MIN_SEEDS} buyers and future buyers")
            continue
        hits, ns, rnd, fo, fo_n = (
            np.array(pooled[f"{level}_{k}"]) for k in ("hits", "n", "random", "fo_hits", "fo_n")
        )
        la, p_rnd, p_fo = hits.sum() / n, rnd.sum() / n, fo.sum() / max(fo_n.sum(), 1)
        r_lo, r_hi = ratio_interval(hits, ns, rnd, ns)
        f_lo, f_hi = ratio_interval(hits, ns, fo, fo_n)
        print(
            f"\nlookalike per {level}, precision@{N_LOOKALIKE} for its future buyers "
            f"({len(ns)} {level}s, {hits.sum():.0f} hits): {la:.4f}; "
            f"random {p_rnd:.4f} ({la / p_rnd:.1f}×, 95 % {r_lo:.1f}–{r_hi:.1f}); "
            f"brand/shop followers {p_fo:.4f} ({la / p_fo if p_fo else float('inf'):.1f}×, "
            f"95 % {f_lo:.1f}–{f_hi:.1f})"
        )
    ours, rnd_c, fol = (sum(pooled[k]) for k in ("cr_ours", "cr_random", "cr_followed"))
    print(
        f"creators for goods, true collaboration GMV of the top 5 (yuan, summed over "
        f"{len(pooled['cr_ours'])} products): ours {ours:,.0f}; "
        f"random {rnd_c:,.0f} ({ours / rnd_c:.2f}×); five most-followed {fol:,.0f} ({ours / fol:.2f}×)"
    )
    d_o, d_c = np.mean(pooled["sel_drift_ours"]), np.mean(pooled["sel_drift_current"])
    a_o, a_c = np.mean(pooled["sel_all_ours"]), np.mean(pooled["sel_all_current"])
    print(
        f"selection, true GPM of the top recommended categories (as many as the creator sells now, up to 3) "
        f"against its current ones: drifted creators ({len(pooled['sel_drift_ours'])}) ours "
        f"{d_o:.1f} vs current {d_c:.1f} ({d_o / d_c:.2f}×); all creators ({len(pooled['sel_all_ours'])}) "
        f"ours "
        f"{a_o:.1f} vs current {a_c:.1f} ({a_o / a_c:.2f}×)"
    )


if __name__ == "__main__":
    main()
