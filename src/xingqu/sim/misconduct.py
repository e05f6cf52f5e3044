"""Planted store misconduct, the ground truth store monitoring is measured against.

- brushing (刷单): during its run, a shop places ``brushing_orders_per_day`` orders a day through a ring
  of linked accounts, pays them within minutes and refunds them within hours ("no reason" refunds), to
  inflate its sales;
- refund spike: during its bad batch a shop's refund chance is multiplied and refunds are mostly for
  quality (``Behaviour.refund_chance``).
Both are planted by ``plant`` (``World.s_misconduct``) from a random stream of their own, once the
calibrated behaviour says how many paid orders a day each shop can expect: among the shops where store
monitoring's tests would fire with at least ``incident_min_detection`` chance at that volume (a bad batch
in a shop of three orders a week is invisible to anyone), and early enough for its refunds to arrive
within the window. ``planted_incidents`` measures, after the run, each incident's chance of being seen
at the volume the shop really had, next to whether it was flagged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from xingqu.governance.monitoring import (
    MonitorReport,
    MonitorSettings,
    brushing_detection_chance,
    spike_detection_chance,
)
from xingqu.sim.behaviour import (
    _APPAREL,
    _APPAREL_REASONS,
    _FAKE_REASONS,
    _OTHER_REASONS,
    EV,
    REFUND_REASONS,
    SURF,
    Events,
    MarketState,
    _events,
)
from xingqu.sim.world import World
from xingqu.store import Store
from xingqu.store.rollups import day_number

DAY_MS = 86_400_000
MINUTE_MS = 60_000
REFUND_LAG_DAYS = 8  # refunds come up to 7 days after payment (Behaviour.respond)
QUALITY = [REFUND_REASONS.index("quality"), REFUND_REASONS.index("not_as_described")]
#: A shop's incident is detectable when monitoring's test fires with at least this chance.
DETECTABLE = 0.5


def quality_rates(
    categories: list[str], refund_rates: np.ndarray, multiplier: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per category, the quality refund rate (quality or not-as-described refunds per paid order)
    normally and during a bad batch."""
    normal = np.array(
        [(_APPAREL_REASONS if c in _APPAREL else _OTHER_REASONS)[QUALITY].sum() for c in categories]
    )
    return refund_rates * normal, np.minimum(0.95, refund_rates * multiplier) * _FAKE_REASONS[QUALITY].sum()


def plant(w: World, orders_per_day: np.ndarray, settings: MonitorSettings | None = None) -> None:
    """Choose the brushing and bad-batch shops, their first days and brushing rings (into ``w``)."""
    cfg = w.cfg
    st = settings or MonitorSettings()
    n_shops = len(w.s_type)
    mrng = np.random.default_rng([cfg.seed, 7])
    n_b, n_s = round(cfg.brushing_share * n_shops), round(cfg.refund_spike_share * n_shops)
    last = cfg.days - cfg.incident_days - REFUND_LAG_DAYS
    last = last if last >= 0 else cfg.days - cfg.incident_days
    w.s_incident_day = mrng.integers(0, max(1, last + 1), n_shops)
    w.s_expected_orders = np.asarray(orders_per_day, dtype=float)
    base, bad = quality_rates(
        w.cat_names, np.array([c.refund_rate for c in cfg.categories]), cfg.spike_refund_multiplier
    )
    order = mrng.permutation(n_shops)
    # a shop without goods can neither push orders nor ship a bad batch
    taken: set[int] = set(np.flatnonzero(np.bincount(w.p_shop, minlength=n_shops) == 0).tolist())

    cache: dict[tuple[int, int, float], float] = {}

    def chance(kind: int, shop: int) -> float:
        lam = float(orders_per_day[shop])
        lam = round(lam, 1) if lam < 10 else float(round(lam))  # nearby volumes share one estimate
        c = int(w.s_category[shop]) if kind == 2 else -1
        key = (kind, c, lam)
        if key not in cache:
            if kind == 1:
                cache[key] = brushing_detection_chance(
                    lam, cfg.brushing_orders_per_day, cfg.brushing_ring, cfg.incident_days, st
                )
            elif lam * st.window_days < st.min_orders / 2:  # no window comes near the test's minimum
                cache[key] = 0.0
            else:
                cache[key] = spike_detection_chance(lam, base[c], bad[c], cfg.incident_days, cfg.days, st)
        return cache[key]

    for kind, n in ((2, n_s), (1, n_b)):
        chosen: list[int] = []
        seen: list[tuple[float, int]] = []
        for shop in order.tolist():
            if len(chosen) == n:
                break
            if shop in taken:
                continue
            p = chance(kind, shop)
            seen.append((p, shop))
            if p >= cfg.incident_min_detection:
                chosen.append(shop)
        # too few shops where it would show: the ones closest to it
        rest = sorted((x for x in seen if x[1] not in chosen), key=lambda x: (-x[0], x[1]))
        chosen += [shop for _, shop in rest[: n - len(chosen)]]
        for shop in chosen:
            w.s_misconduct[shop] = kind
            w.s_detection[shop] = next(p for p, s in seen if s == shop)
        taken.update(chosen)
    brushing = np.flatnonzero(w.s_misconduct == 1)
    w.s_ring = {
        int(sh): mrng.choice(w.n_users, min(w.n_users, cfg.brushing_ring), replace=False) for sh in brushing
    }


def brushing_events(w: World, day: int, state: MarketState, rng: np.random.Generator) -> list[Events]:
    """The order, pay and refund events of every brushing run on ``day`` (same-day refunds)."""
    cfg = w.cfg
    start = w.s_incident_day
    active = np.flatnonzero((w.s_misconduct == 1) & (start <= day) & (day < start + cfg.incident_days))
    out: list[Events] = []
    bounds = np.searchsorted(w.p_shop, np.arange(len(w.s_misconduct) + 1))  # products are sorted by shop
    for shop in active.tolist():
        own = np.arange(bounds[shop], bounds[shop + 1])
        if len(own) == 0:
            continue
        n = cfg.brushing_orders_per_day
        targets = rng.choice(own, min(len(own), 3), replace=False)  # a few products get pushed
        product = rng.choice(targets, n)
        user = rng.choice(w.s_ring[shop], n)
        ordered = w.start_ms + day * DAY_MS + rng.integers(8 * 60, 19 * 60, n) * MINUTE_MS
        paid = ordered + rng.integers(1, 10, n) * MINUTE_MS
        refunded = paid + rng.integers(30, 240, n) * MINUTE_MS
        order = state.next_order + np.arange(n, dtype=np.int64)
        state.next_order += n
        amount = w.p_price[product].astype(np.int64)
        one = np.ones(n, dtype=np.int64)
        shop_page = np.full(n, SURF["shop_page"], dtype=np.int8)
        out.append(
            _events(
                n,
                EV["order"],
                ordered,
                user,
                product=product,
                order=order,
                quantity=one,
                amount=amount,
                surface=shop_page,
            )
        )
        out.append(
            _events(
                n,
                EV["pay"],
                paid,
                user,
                product=product,
                order=order,
                quantity=one,
                amount=amount,
                surface=shop_page,
            )
        )
        reason = np.full(n, REFUND_REASONS.index("no_reason_7day"), dtype=np.int8)
        out.append(
            _events(
                n, EV["refund"], refunded, user, product=product, order=order, amount=amount, reason=reason
            )
        )
    return out


@dataclass
class Incident:
    """A planted incident, the chance monitoring could see it at the shop's real volume, and the verdict."""

    shop: str
    kind: str
    start_day: int
    orders_per_day: float  # the shop's genuine paid orders a day outside the incident
    chance: float  # of the monitoring test firing at that volume
    flagged: bool

    @property
    def detectable(self) -> bool:
        return self.chance >= DETECTABLE


def planted_incidents(
    store: Store, market: Path | str, report: MonitorReport, settings: MonitorSettings | None = None
) -> list[Incident]:
    """Every incident planted in the simulated ``market`` (imported into ``store``), with its chance of
    being seen at the volume the shop had outside the incident, and whether ``report`` flagged it."""
    st = settings or MonitorSettings()
    market = Path(market)
    summary = json.loads((market / "truth" / "summary.json").read_text(encoding="utf-8"))
    cfg = summary["config"]
    cats = summary["categories"]
    days, incident_days = int(cfg["days"]), int(cfg["incident_days"])
    truth = [r for r in pq.read_table(market / "truth" / "shops.parquet").to_pylist() if r["misconduct"]]
    if not truth:
        return []
    from datetime import datetime

    first_day = day_number(np.array([int(datetime.fromisoformat(cfg["start"]).timestamp() * 1000)]))[0]
    shops = [r["shop_id"] for r in truth]
    rows = store.rollups.paid_order_times(shops)
    by_shop: dict[str, list[tuple[int, bool]]] = {s: [] for s in shops}
    for shop, ts, q in rows:
        by_shop[shop].append((int(day_number(np.array([int(ts)]))[0] - first_day), q > 0))
    refund = np.array([c["refund_rate"] for c in cfg["categories"]])
    _base, bad = quality_rates(cats, refund, float(cfg["spike_refund_multiplier"]))
    category_of = _shop_categories(market, cats)
    out = []
    for r in truth:
        start = int(r["incident_start_day"])
        orders = by_shop[r["shop_id"]]
        outside = [q for d, q in orders if not start <= d < start + incident_days]
        lam = len(outside) / max(days - incident_days, 1)
        if r["misconduct"] == "brushing":
            p = brushing_detection_chance(
                lam, int(cfg["brushing_orders_per_day"]), int(cfg["brushing_ring"]), incident_days, st
            )
        else:
            c = category_of[r["shop_id"]]
            own = (sum(outside) + st.prior_orders * _base[c]) / (len(outside) + st.prior_orders)
            p = spike_detection_chance(lam, own, bad[c], incident_days, days, st)
        out.append(
            Incident(
                r["shop_id"],
                r["misconduct"],
                start,
                round(lam, 2),
                round(p, 3),
                r["shop_id"] in report.flagged(r["misconduct"]),
            )
        )
    return sorted(out, key=lambda i: (i.kind, i.shop))


def _shop_categories(market: Path, cats: list[str]) -> dict[str, int]:
    """Each shop's main level-1 category (of most of its products), as a category index."""
    products = pq.read_table(market / "products.parquet", columns=["shop_id", "category"]).to_pylist()
    counts: dict[str, dict[int, int]] = {}
    for p in products:
        c = cats.index(p["category"].split(">")[0])
        counts.setdefault(p["shop_id"], {}).setdefault(c, 0)
        counts[p["shop_id"]][c] += 1
    return {s: max(cs, key=lambda c: (cs[c], -c)) for s, cs in counts.items()}


def incident_summary(incidents: list[Incident]) -> dict[str, dict[str, float]]:
    """Per kind: planted, detectable, flagged among detectable, recall on detectable, undetectable count,
    and the expected number flagged (the sum of chances) against the number flagged."""
    out = {}
    for kind in sorted({i.kind for i in incidents}):
        mine = [i for i in incidents if i.kind == kind]
        det = [i for i in mine if i.detectable]
        out[kind] = {
            "planted": len(mine),
            "detectable": len(det),
            "undetectable": len(mine) - len(det),
            "found_detectable": sum(i.flagged for i in det),
            "recall_detectable": sum(i.flagged for i in det) / len(det) if det else float("nan"),
            "found": sum(i.flagged for i in mine),
            "expected_found": round(sum(i.chance for i in mine), 2),
        }
    return out
