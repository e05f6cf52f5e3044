"""Closed-loop A/B: policies choose the impressions, simulated users respond from their latent tastes.

Each seed builds one world and one organic warm-up history; every arm then starts from a copy of that
state, sees the same active users and draws its responses from the same random stream (common random
numbers: aligned position by position while the arms show lists of equal length), so the differences
between arms come mostly from the rankings. Metrics are averaged over seeds with 95 % confidence
intervals (Student t); as the arms share seeds, the intervals are conservative for comparing arms.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xingqu.sim.behaviour import DAY_MS, EV, SURF, Events, Exposure, MarketState
from xingqu.sim.config import SimConfig
from xingqu.sim.policies import FeedPolicy, MarketView, OraclePolicy, Policy, PopularPolicy, RandomPolicy
from xingqu.sim.run import Market
from xingqu.sim.visits import ITEM_MS, OpeningContent, hour_cohorts, page_times
from xingqu.sim.writer import Ids, catalog_tables, events_table

#: Two-sided 95 % Student t quantiles by degrees of freedom.
_T95 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    15: 2.131,
    20: 2.086,
    30: 2.042,
}

METRICS = (
    "impressions",
    "clicks",
    "orders",
    "gmv_yuan",
    "refunded_yuan",
    "quality_gmv_yuan",
    "gpm",
    "quality_gmv_per_1000",
    "new_customer_share",
    "budget_fit",
    "coverage",
)


def t95(df: int) -> float:
    if df <= 0:
        return math.nan
    keys = sorted(k for k in _T95 if k <= df)
    return _T95[keys[-1]] if df <= 30 else 1.96


@dataclass
class ArmContext:
    """What a policy factory may use: the market (for the oracle only), the arm's state, the seed."""

    market: Market
    state: MarketState
    ids: Ids
    seed: int


PolicyFactory = Callable[[ArmContext], Policy]

BUILTIN: dict[str, PolicyFactory] = {
    "random": lambda ctx: RandomPolicy(ctx.seed),
    "popular": lambda ctx: PopularPolicy(),
    "als": lambda ctx: FeedPolicy.als_only(),
    "feed": lambda ctx: FeedPolicy(),
    "oracle": lambda ctx: OraclePolicy(
        ctx.market.behaviour,
        ctx.state,
        ctx.ids.products,
        {u: i for i, u in enumerate(ctx.ids.users.to_pylist())},
        ctx.market.world.start_ms,
    ),
}


@dataclass
class ArmSummary:
    """One metric of one arm over seeds."""

    values: list[float]

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def ci(self) -> float:
        n = len(self.values)
        return t95(n - 1) * float(np.std(self.values, ddof=1)) / math.sqrt(n) if n > 1 else math.nan

    def interval(self) -> tuple[float, float]:
        return self.mean - self.ci, self.mean + self.ci


@dataclass
class ABReport:
    arms: dict[str, dict[str, ArmSummary]] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "seeds": self.seeds,
            "seconds": round(self.seconds, 2),
            "arms": {
                arm: {m: {"mean": s.mean, "ci95": s.ci, "values": s.values} for m, s in ms.items()}
                for arm, ms in self.arms.items()
            },
        }


def _arm_metrics(
    market: Market,
    events: Events,
    shown_u: np.ndarray,
    shown_p: np.ndarray,
    first_order: int,
    prior_pairs: np.ndarray,
    n_available: int,
) -> dict[str, float]:
    w = market.world
    in_window = events.order >= first_order
    pay = (events.etype == EV["pay"]) & in_window
    refund = (events.etype == EV["refund"]) & in_window
    gmv = float(events.amount[pay].sum())
    refunded = float(events.amount[refund].sum())
    refunded_orders = set(events.order[refund].tolist())
    bad = pay & market.behaviour.violating[np.maximum(events.product, 0)]
    bad &= ~np.isin(events.order, list(refunded_orders))
    qgmv = gmv - refunded - float(events.amount[bad].sum())
    impressions = len(shown_u)
    n_shops = len(w.s_type)
    pairs = np.unique(events.user[pay] * n_shops + w.p_shop[events.product[pay]])
    new = ~np.isin(pairs, prior_pairs)
    return {
        "impressions": float(impressions),
        "clicks": float((events.etype == EV["click"]).sum()),
        "orders": float(((events.etype == EV["order"]) & in_window).sum()),
        "gmv_yuan": gmv / 100,
        "refunded_yuan": refunded / 100,
        "quality_gmv_yuan": qgmv / 100,
        "gpm": gmv / 100 / impressions * 1000 if impressions else 0.0,
        "quality_gmv_per_1000": qgmv / 100 / impressions * 1000 if impressions else 0.0,
        "new_customer_share": float(new.mean()) if len(pairs) else 0.0,
        "budget_fit": float(w.in_band(shown_u, shown_p).mean()) if impressions else 0.0,
        "coverage": len(np.unique(shown_p)) / max(n_available, 1),
    }


def user_outcomes(
    market: Market,
    events: Events,
    shown_u: np.ndarray,
    first_order: int,
    prior_pairs: np.ndarray,
) -> dict[str, np.ndarray]:
    """Per-user sums of one arm's test period, by user index (what an online experiment's report is
    computed from): impressions, clicks, paid, refunded, violating (paid, not refunded, of goods
    found violating), paid orders and those that were the buyer's first at the shop."""
    w = market.world
    n = w.n_users
    in_window = events.order >= first_order
    pay = (events.etype == EV["pay"]) & in_window
    refund = (events.etype == EV["refund"]) & in_window
    refunded_orders = np.unique(events.order[refund])
    bad = pay & market.behaviour.violating[np.maximum(events.product, 0)]
    bad &= ~np.isin(events.order, refunded_orders)
    n_shops = len(w.s_type)
    pay_idx = np.flatnonzero(pay)
    pairs = events.user[pay_idx] * n_shops + w.p_shop[events.product[pay_idx]]
    _, first = np.unique(pairs, return_index=True)
    new = np.zeros(len(pay_idx), bool)
    new[first] = True
    new &= ~np.isin(pairs, prior_pairs)

    def count(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        w_ = None if weights is None else weights[mask].astype(np.float64)
        return np.bincount(events.user[mask], weights=w_, minlength=n).astype(np.float64)

    return {
        "impressions": np.bincount(shown_u, minlength=n).astype(np.float64),
        "clicks": count(events.etype == EV["click"]),
        "paid": count(pay, events.amount),
        "refunded": count(refund, events.amount),
        "violating": count(bad, events.amount),
        "orders": count(pay),
        "new_orders": np.bincount(events.user[pay_idx[new]], minlength=n).astype(np.float64),
    }


def history_outcomes(
    hist: pa.Table, user_index: dict[str, int], n_users: int, since_ms: int
) -> dict[str, np.ndarray]:
    """Per-user sums of the organic history after ``since_ms`` (the pre-period of CUPED): impressions,
    clicks, paid and quality (paid − refunded)."""
    recent = hist.filter(pc.greater_equal(pc.cast(hist["ts"], pa.int64()), since_ms))
    out = {}
    kind = recent["event_type"].to_numpy(zero_copy_only=False)
    users = np.array([user_index[u] for u in recent["user_id"].to_pylist()], dtype=np.int64)
    amount = np.nan_to_num(recent["amount"].to_numpy(zero_copy_only=False).astype(np.float64))
    for name, mask, weights in (
        ("pre_impressions", kind == "impression", None),
        ("pre_clicks", kind == "click", None),
        ("pre_paid", kind == "pay", amount),
        ("pre_quality", kind == "pay", amount),
    ):
        w_ = None if weights is None else weights[mask]
        out[name] = np.bincount(users[mask], weights=w_, minlength=n_users).astype(np.float64)
    refund = kind == "refund"
    out["pre_quality"] -= np.bincount(users[refund], weights=amount[refund], minlength=n_users)
    return out


class ArmLoop:
    """One arm's test days: each day's refunds that came due, then the visits in hourly cohorts
    (``xingqu.sim.visits``), page by page; everything that happens is told to the arm at once."""

    def __init__(
        self,
        market: Market,
        ids: Ids,
        policy: Policy,
        state: MarketState,
        seed: int,
        pages: int,
        per_page: int,
        product_index: dict[str, int],
        opening: OpeningContent,
    ) -> None:
        self.market, self.ids, self.policy, self.state, self.seed = market, ids, policy, state, seed
        self.pages, self.per_page, self.product_index, self.opening = pages, per_page, product_index, opening
        self.events: list[Events] = []
        self.shown_u: list[np.ndarray] = []
        self.shown_p: list[np.ndarray] = []
        self._seq = 0

    def _log(self, ev: Events, day: int) -> None:
        self.events.append(ev)
        if len(ev):
            table = events_table(ev, self.ids, day, self._seq)
            self._seq += table.num_rows
            self.policy.observe(table)

    def day(self, day: int) -> None:
        """Run one test day (the same users, visit times and draws in every arm)."""
        market, state, w = self.market, self.state, self.market.world
        intent = market.behaviour.intent
        act_rng = market.day_rng(day, stream=5)
        active = np.flatnonzero(act_rng.random(w.n_users) < w.u_activity)
        hour = np.where(
            act_rng.random(len(active)) < 0.6,
            act_rng.normal(20, 1.5, len(active)),
            act_rng.uniform(8, 23, len(active)),
        )
        self._seq = 0
        self._log(Events.concat(state.pending.pop(day, [])), day)
        for t_visit, users in hour_cohorts(w.start_ms + day * DAY_MS, active, hour):
            rng = np.random.default_rng([self.seed, 8, day, t_visit])
            intents = intent.start_visits(state, users, t_visit, day, rng)
            self._log(self.opening.open(state, users, intents, t_visit, rng, intent), day)
            user_ids = self.ids.users.take(pa.array(users)).to_pylist()
            for page in range(self.pages):
                t_req = page_times(t_visit, page, self.per_page)
                lists = self.policy.recommend(user_ids, self.per_page, t_req)
                lens = np.array([len(x) for x in lists], dtype=np.int64)
                shown = np.repeat(users, lens)
                products = np.array([self.product_index[p] for x in lists for p in x], dtype=np.int64)
                pos = np.arange(len(shown)) - np.repeat(np.cumsum(lens) - lens, lens)
                exp = Exposure(
                    shown,
                    products,
                    pos + page * self.per_page,
                    np.full(len(shown), SURF["feed"], np.int8),
                    np.full(len(shown), -1, np.int64),
                    t_req + pos * ITEM_MS,
                )
                page_rng = np.random.default_rng([self.seed, 6, day, t_visit, page])
                self._log(market.behaviour.respond(exp, day, state, page_rng), day)
                self.shown_u.append(shown)
                self.shown_p.append(products)
        state.sales *= 0.85


def run_seed(
    cfg: SimConfig,
    seed: int,
    policies: dict[str, PolicyFactory],
    warmup_days: int,
    test_days: int,
    slots: int | None = None,
    per_user: dict[str, dict[str, np.ndarray]] | None = None,
    pages: int = 2,
) -> dict[str, dict[str, float]]:
    """One world, one warm-up, every arm: metrics per arm (and, into ``per_user`` when given, each
    arm's per-user sums by user index, with the warm-up's last 14 days under "pre").

    Each test day, the active users visit in hourly cohorts (``xingqu.sim.visits``): a visit opens
    with a video or live room, then asks the arm for ``pages`` pages of the ``slots`` items, each
    answered (and told to the arm) before the next is asked."""
    cfg = cfg.model_copy(update={"seed": seed, "days": warmup_days + test_days})
    market = Market(cfg)
    w = market.world
    ids = Ids(w)
    history: list[pa.Table] = []
    for day in range(warmup_days):
        for part in market.organic_day(day):
            if len(part):
                history.append(events_table(part, ids, day, sum(t.num_rows for t in history)))
    catalog = catalog_tables(w, ids)
    hist = pa.concat_tables(history)
    n_shops = len(w.s_type)
    user_index = {u: i for i, u in enumerate(ids.users.to_pylist())}
    product_index = {p: i for i, p in enumerate(ids.products.to_pylist())}
    pays = hist.filter(pc.equal(hist["event_type"], "pay"))
    prior_pairs = (
        np.unique(
            np.array([user_index[u] for u in pays["user_id"].to_pylist()], dtype=np.int64) * n_shops
            + w.p_shop[np.array([product_index[p] for p in pays["product_id"].to_pylist()], dtype=np.int64)]
        )
        if pays.num_rows
        else np.zeros(0, np.int64)
    )
    slots = slots or max(1, round(cfg.impressions_per_visit))
    pages = max(1, min(pages, slots))
    per_page = -(-slots // pages)
    opening = OpeningContent(w)
    if per_user is not None:
        since = w.start_ms + max(0, warmup_days - 14) * DAY_MS
        per_user["pre"] = history_outcomes(hist, user_index, w.n_users, since)
    results: dict[str, dict[str, float]] = {}
    for name, factory in policies.items():
        state = market.state.copy()
        first_order = state.next_order
        policy = factory(ArmContext(market, state, ids, seed))
        policy.fit(MarketView(catalog["products"], catalog["users"], hist, catalog))
        loop = ArmLoop(market, ids, policy, state, seed, pages, per_page, product_index, opening)
        for day in range(warmup_days, warmup_days + test_days):
            loop.day(day)
        arm_events, shown_u, shown_p = loop.events, loop.shown_u, loop.shown_p
        later = [e for parts in state.pending.values() for e in parts]  # refunds after the window still count
        events = Events.concat(arm_events + later)
        n_avail = int(((w.p_created_day <= warmup_days + test_days - 1) & (w.p_stock > 0)).sum())
        if per_user is not None:
            per_user[name] = user_outcomes(market, events, np.concatenate(shown_u), first_order, prior_pairs)
        results[name] = _arm_metrics(
            market,
            events,
            np.concatenate(shown_u),
            np.concatenate(shown_p),
            first_order,
            prior_pairs,
            n_avail,
        )
    return results


def run_ab(
    cfg: SimConfig,
    policies: dict[str, PolicyFactory] | None = None,
    seeds: int | list[int] = 5,
    warmup_days: int = 14,
    test_days: int = 14,
    slots: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    pages: int = 2,
) -> ABReport:
    """Run every policy over several seeds; summarise each metric with a 95 % interval."""
    start = time.perf_counter()
    policies = policies or BUILTIN
    seed_list = list(range(cfg.seed, cfg.seed + seeds)) if isinstance(seeds, int) else list(seeds)
    report = ABReport(seeds=seed_list)
    per_seed = []
    for i, seed in enumerate(seed_list):
        per_seed.append(run_seed(cfg, seed, policies, warmup_days, test_days, slots, pages=pages))
        if progress is not None:
            progress(i + 1, len(seed_list))
    for arm in policies:
        report.arms[arm] = {m: ArmSummary([r[arm][m] for r in per_seed]) for m in METRICS}
    report.seconds = time.perf_counter() - start
    return report
