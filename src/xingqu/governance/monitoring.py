"""Store monitoring (店铺监控): the experience score and flags with evidence, from the event log.

Flags (each over sliding windows of ``window_days`` days of paid orders):
- ``refund_spike``: the shop's quality refund rate (quality or not-as-described refunds ÷ paid orders)
  in a window against what is expected of it — its own rate outside the window, shrunk toward its
  category's rate with the weight of ``prior_orders`` orders: flagged when, in some window, at least
  ``min_orders`` paid orders have ``spike_min_refunds`` quality refunds or more, ``spike_ratio`` times
  the expected rate, and an exact binomial tail probability of ``spike_p`` or less (small, because every
  shop and window is tested);
- ``brushing`` (刷单): orders refunded within ``fast_refund_hours`` of payment, concentrated on few
  buyers — at least ``brushing_min_orders`` such orders in a window, ``brushing_share`` of the window's
  paid orders, and ``brushing_orders_per_buyer`` of them per buyer on average (a ring of linked accounts);
- ``review_collapse``: the mean rating of the last ``window_days`` days at least ``collapse_drop`` stars
  under the mean before, with ``collapse_min_reviews`` reviews on each side.

A shop whose busiest window holds fewer than ``min_orders`` paid orders is too small to judge for refund
spikes: the report lists it (``too_small``) rather than calling it clean. ``spike_detection_chance`` and
``brushing_detection_chance`` give the chance these tests fire for a shop of a given daily volume (their
power), so that a planted or suspected incident can be told apart from one no test could see.

Experience score (店铺体验分, ``domain.md`` §6.8), on the last 90 days with at least 30 paid orders:
product = negative-review rate (1–2★) and quality refund rate, logistics = logistics-damage refund rate,
service = seller-fault refund rate; each rate maps to 1–5 by its percentile among shops of the same
category (lowest rate 5), dimensions are means of their rates' points, and the score is
0.4 · product + 0.3 · logistics + 0.3 · service.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.stats import binom

from xingqu.store import Store
from xingqu.store.rollups import DAY_MS, day_number

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class MonitorSettings:
    window_days: int = 7
    min_orders: int = 15
    spike_ratio: float = 3.0
    spike_p: float = 1e-5  # of the binomial tail; small, since every shop and window is tested
    spike_min_refunds: int = 4
    prior_orders: float = 50.0  # weight of the category's rate in a shop's expected rate, in orders
    fast_refund_hours: float = 6.0
    brushing_min_orders: int = 15
    brushing_share: float = 0.2
    brushing_orders_per_buyer: float = 2.0
    collapse_drop: float = 1.0
    collapse_min_reviews: int = 10
    score_days: int = 90
    score_min_orders: int = 30


@dataclass
class Flag:
    shop: str
    kind: str  # refund_spike | brushing | review_collapse
    evidence: dict[str, Any]


@dataclass
class MonitorReport:
    flags: list[Flag] = field(default_factory=list)
    scores: dict[str, dict[str, float]] = field(
        default_factory=dict
    )  # shop → product/logistics/service/score
    busiest: dict[str, int] = field(default_factory=dict)  # shop → paid orders in its busiest window
    min_orders: int = MonitorSettings.min_orders

    def flagged(self, kind: str | None = None) -> set[str]:
        return {f.shop for f in self.flags if kind is None or f.kind == kind}

    @property
    def too_small(self) -> list[str]:
        """Shops with too few paid orders in every window for a refund spike to show: not judged."""
        return sorted(s for s, n in self.busiest.items() if n < self.min_orders)

    def to_dict(self) -> dict[str, Any]:
        return {
            "flags": [asdict(f) for f in self.flags],
            "scores": self.scores,
            "judged": len(self.busiest) - len(self.too_small),
            "too_small": self.too_small,
            "too_small_below_orders": self.min_orders,
        }


def _windows(
    days: np.ndarray, values: dict[str, np.ndarray], width: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Sums of each value over every window of ``width`` days that holds at least one event:
    (window start days, sums per value)."""
    starts = np.unique(days - width + 1)
    lo = np.searchsorted(days, starts, side="left")
    hi = np.searchsorted(days, starts + width, side="left")
    sums = {}
    for name, v in values.items():
        cum = np.concatenate([[0.0], np.cumsum(v, dtype=np.float64)])
        sums[name] = cum[hi] - cum[lo]
    return starts, sums


def check_stores(store: Store, settings: MonitorSettings | None = None) -> MonitorReport:
    """Every shop's flags and experience score, from orders, refunds and reviews in the store."""
    st = settings or MonitorSettings()
    orders = store.rollups.paid_orders_by_shop()
    refund_at = _first_refunds(store)
    reviews = _reviews(store)
    report = MonitorReport(min_orders=st.min_orders)
    if not orders:
        return report
    cols = list(zip(*orders, strict=True))
    order_id = np.array(cols[0], dtype=object)
    shop = np.array(cols[1], dtype=object)
    user = np.array(cols[2], dtype=object)
    pay_ts = np.array(cols[3], dtype=np.int64)
    quality = np.array(cols[4], dtype=np.int64) > 0
    category = np.array([c.split(">")[0] if c else "" for c in cols[5]], dtype=object)
    refund_ts = np.array([refund_at.get(x, (0, None))[0] for x in order_id], dtype=np.int64)
    reason = np.array([refund_at.get(x, (0, None))[1] for x in order_id], dtype=object)
    fast = (refund_ts > 0) & (refund_ts - pay_ts <= st.fast_refund_hours * HOUR_MS)
    day = day_number(pay_ts)

    # category baselines of the quality refund rate
    base: dict[str, float] = {}
    for c in np.unique(category):
        m = category == c
        base[str(c)] = float(quality[m].mean())
    order = np.lexsort((day, shop))
    shop_s, day_s = shop[order], day[order]
    bounds = np.flatnonzero(np.r_[True, shop_s[1:] != shop_s[:-1], True])
    for a, b in itertools.pairwise(bounds):
        idx = order[a:b]
        name = str(shop_s[a])
        cats, counts = np.unique(category[idx], return_counts=True)
        baseline = max(base[str(cats[np.argmax(counts)])], 1e-3)
        starts, sums = _windows(
            day_s[a:b], {"n": np.ones(len(idx)), "q": quality[idx], "fast": fast[idx]}, st.window_days
        )
        n, q = sums["n"], sums["q"]
        report.busiest[name] = int(n.max())
        # expected rate: the shop's own rate outside the window, shrunk toward its category's, so that a
        # shop whose refunds were always high is not news, and a small shop borrows its category's rate
        n_out, q_out = len(idx) - n, quality[idx].sum() - q
        expected = (q_out + st.prior_orders * baseline) / (n_out + st.prior_orders)
        # exact binomial tail: the chance of this many quality refunds or more at the expected rate
        tail = binom.sf(q - 1, n, expected)
        spike = (
            (n >= st.min_orders)
            & (q >= st.spike_min_refunds)
            & (q >= st.spike_ratio * expected * n)
            & (tail <= st.spike_p)
        )
        if spike.any():
            k = int(np.argmin(np.where(spike, tail, np.inf)))
            report.flags.append(
                Flag(
                    name,
                    "refund_spike",
                    {
                        "window_start_day": _iso(int(starts[k])),
                        "window_days": st.window_days,
                        "paid_orders": int(n[k]),
                        "quality_refunds": int(q[k]),
                        "rate": round(float(q[k] / n[k]), 4),
                        "expected_rate": round(float(expected[k]), 4),
                        "category_rate": round(baseline, 4),
                        "p_value": float(f"{tail[k]:.3g}"),
                    },
                )
            )
        f = sums["fast"]
        if (f >= st.brushing_min_orders).any():
            k = int(np.argmax(f))
            in_window = idx[(day[idx] >= starts[k]) & (day[idx] < starts[k] + st.window_days) & fast[idx]]
            buyers = len(set(user[in_window].tolist()))
            per_buyer = len(in_window) / max(buyers, 1)
            if f[k] / n[k] >= st.brushing_share and per_buyer >= st.brushing_orders_per_buyer:
                report.flags.append(
                    Flag(
                        name,
                        "brushing",
                        {
                            "window_start_day": _iso(int(starts[k])),
                            "window_days": st.window_days,
                            "paid_orders": int(n[k]),
                            "refunded_within_hours": st.fast_refund_hours,
                            "fast_refunds": int(f[k]),
                            "buyers": buyers,
                            "orders_per_buyer": round(per_buyer, 1),
                            "example_orders": sorted(str(x) for x in order_id[in_window][:5]),
                        },
                    )
                )
    report.flags += _review_collapse(reviews, st)
    report.scores = _scores(shop, category, pay_ts, quality, reason, reviews, st)
    report.flags.sort(key=lambda fl: (fl.kind, fl.shop))
    return report


def _event_rows(store: Store, event_type: str, columns: list[str], required: str) -> list[tuple[Any, ...]]:
    """(columns…) of the log's events of one type whose ``required`` column is set, times as UTC ms."""
    out: list[tuple[Any, ...]] = []
    for batch in store.events.scan(columns, event_types=[event_type]):
        batch = batch.filter(pc.is_valid(batch.column(required)))
        cols = [pc.cast(batch.column(c), pa.int64()) if c == "ts" else batch.column(c) for c in columns]
        out.extend(zip(*(c.to_pylist() for c in cols), strict=True))
    return out


def _first_refunds(store: Store) -> dict[str, tuple[int, Any]]:
    """Each refunded order's first refund time and least refund reason (as SQL's min over its refunds)."""
    out: dict[str, tuple[int, Any]] = {}
    for oid, ts, reason in _event_rows(store, "refund", ["order_id", "ts", "refund_reason"], "order_id"):
        if oid in out:
            t0, r0 = out[oid]
            out[oid] = (min(t0, ts), r0 if reason is None else reason if r0 is None else min(r0, reason))
        else:
            out[oid] = (ts, reason)
    return out


def _reviews(store: Store) -> list[tuple[str, int, int]]:
    """(shop, time, rating) of every rated review of a known product."""
    shops = store.catalogue.product_shops()
    return [
        (shops[pid], ts, rating)
        for pid, ts, rating in _event_rows(store, "review", ["product_id", "ts", "rating"], "rating")
        if pid in shops
    ]


def spike_detection_chance(
    orders_per_day: float,
    base_rate: float,
    incident_rate: float,
    incident_days: int,
    total_days: int,
    settings: MonitorSettings | None = None,
    draws: int = 4_000,
    seed: int = 0,
) -> float:
    """The chance the refund-spike test fires for a shop of ``orders_per_day`` paid orders whose quality
    refund rate goes from ``base_rate`` to ``incident_rate`` for ``incident_days`` of ``total_days``
    (Poisson orders, binomial refunds; every window over the incident is tested, as ``check_stores``
    does). Estimated from ``draws`` simulated months, so within about ±0.015."""
    st = settings or MonitorSettings()
    w, d = st.window_days, incident_days
    span = d + 2 * (w - 1)  # every day of every window that overlaps the incident
    rate = np.where((np.arange(span) >= w - 1) & (np.arange(span) < w - 1 + d), incident_rate, base_rate)
    rng = np.random.default_rng(seed)
    n_day = rng.poisson(orders_per_day, (draws, span))
    q_day = rng.binomial(n_day, rate)
    total = orders_per_day * max(total_days, span)
    fired = np.zeros(draws, dtype=bool)
    for k in range(span - w + 1):
        n = n_day[:, k : k + w].sum(axis=1)
        q = q_day[:, k : k + w].sum(axis=1)
        n_out = np.maximum(total - n, 0.0)
        expected = (base_rate * n_out + st.prior_orders * base_rate) / (n_out + st.prior_orders)
        tail = binom.sf(q - 1, n, expected)
        fired |= (
            (n >= st.min_orders)
            & (q >= st.spike_min_refunds)
            & (q >= st.spike_ratio * expected * n)
            & (tail <= st.spike_p)
        )
    return float(fired.mean())


def brushing_detection_chance(
    orders_per_day: float,
    fake_per_day: int,
    ring: int,
    incident_days: int,
    settings: MonitorSettings | None = None,
    draws: int = 4_000,
    seed: int = 0,
) -> float:
    """The chance the brushing test fires for a shop of ``orders_per_day`` genuine paid orders that
    places ``fake_per_day`` fast-refunded orders a day through ``ring`` accounts for ``incident_days``:
    it must stand out of the window's genuine orders by share, and concentrate on few buyers."""
    st = settings or MonitorSettings()
    w = st.window_days
    fake = fake_per_day * min(incident_days, w)  # the busiest window of fake orders
    if fake < st.brushing_min_orders or fake / max(min(ring, fake), 1) < st.brushing_orders_per_buyer:
        return 0.0
    # check_stores judges the first window with the most fast refunds: it starts w - d days early
    genuine = np.random.default_rng(seed).poisson(orders_per_day * w, draws)
    return float((fake / (fake + genuine) >= st.brushing_share).mean())


def _iso(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def _review_collapse(reviews: list[Any], st: MonitorSettings) -> list[Flag]:
    if not reviews:
        return []
    end = max(int(ts) for _, ts, _ in reviews)
    cut = end - st.window_days * DAY_MS
    recent: dict[str, list[int]] = defaultdict(list)
    before: dict[str, list[int]] = defaultdict(list)
    for shop, ts, rating in reviews:
        (recent if ts > cut else before)[shop].append(int(rating))
    out = []
    for shop, now in recent.items():
        then = before.get(shop, [])
        if len(now) >= st.collapse_min_reviews and len(then) >= st.collapse_min_reviews:
            drop = float(np.mean(then) - np.mean(now))
            if drop >= st.collapse_drop:
                out.append(
                    Flag(
                        shop,
                        "review_collapse",
                        {
                            "recent_mean": round(float(np.mean(now)), 2),
                            "recent_reviews": len(now),
                            "before_mean": round(float(np.mean(then)), 2),
                            "before_reviews": len(then),
                            "drop": round(drop, 2),
                        },
                    )
                )
    return out


def _points(rates: dict[str, float], categories: dict[str, str]) -> dict[str, float]:
    """Each shop's rate as 1–5 points by its percentile among shops of its category (lowest rate 5)."""
    out: dict[str, float] = {}
    by_cat: dict[str, list[str]] = defaultdict(list)
    for s in rates:
        by_cat[categories[s]].append(s)
    for shops in by_cat.values():
        values = np.array([rates[s] for s in shops])
        for s, v in zip(shops, values, strict=True):
            worse = float((values < v).mean())  # share of peers doing better
            out[s] = round(5.0 - 4.0 * worse, 2)
    return out


def _scores(
    shop: np.ndarray,
    category: np.ndarray,
    pay_ts: np.ndarray,
    quality: np.ndarray,
    reason: np.ndarray,
    reviews: list[Any],
    st: MonitorSettings,
) -> dict[str, dict[str, float]]:
    since = int(pay_ts.max()) - st.score_days * DAY_MS
    recent = pay_ts >= since
    negative: dict[str, list[int]] = defaultdict(list)
    for s, ts, rating in reviews:
        if ts >= since:
            negative[s].append(int(rating) <= 2)
    rates: dict[str, dict[str, float]] = defaultdict(dict)
    cats: dict[str, str] = {}
    for s in np.unique(shop[recent]):
        m = recent & (shop == s)
        n = int(m.sum())
        if n < st.score_min_orders:
            continue
        s = str(s)
        vals, counts = np.unique(category[m], return_counts=True)
        cats[s] = str(vals[np.argmax(counts)])
        rates["quality"][s] = float(quality[m].mean())
        rates["negative"][s] = float(np.mean(negative[s])) if negative.get(s) else 0.0
        rates["logistics"][s] = float((reason[m] == "logistics_damage").mean())
        rates["service"][s] = float((reason[m] == "seller_fault").mean())
    points = {k: _points(v, cats) for k, v in rates.items()}
    out = {}
    for s in cats:
        product = (points["quality"][s] + points["negative"][s]) / 2
        logistics, service = points["logistics"][s], points["service"][s]
        out[s] = {
            "product": round(product, 2),
            "logistics": logistics,
            "service": service,
            "score": round(0.4 * product + 0.3 * logistics + 0.3 * service, 2),
        }
    return out


def store_scores(store: Store, report: MonitorReport, actor: str) -> int:
    """Write the report's experience scores to the shops, auditing each change; returns how many."""
    now = int(time.time() * 1000)
    changed = 0
    with store.writing() as conn:
        current = store.catalogue.experience_scores(conn)
        for shop, parts in report.scores.items():
            if shop not in current or current[shop] == parts["score"]:
                continue
            store.catalogue.set_experience_score(conn, shop, parts["score"])
            store.append_audit(
                conn,
                actor=actor,
                action="experience_score",
                subject_kind="shop",
                subject_id=shop,
                reason=json.dumps(parts),
                before={"experience_score": current[shop]},
                after={"experience_score": parts["score"]},
                at_ms=now,
            )
            changed += 1
    return changed
