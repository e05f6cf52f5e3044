"""Which events count for which arm. A user's arm is the one their feed responses were served from
(the exposure log); their events count for it when

- the event carries the ``request_id`` of one of their exposures (an impression logged by the app for a
  list the feed served, a click on it…);
- or, without a request id, it follows an impression credited to the arm within the attribution
  window (an order placed an hour after scrolling the feed);
- or it pays or refunds an order already credited (a refund a week later still counts against the
  arm that sold it).

Impressions come only from the app's logged events, never from what the feed returned: a list that
was fetched but not shown is not an impression. The pre-period (before the start) gives each user's
metric before the experiment, for CUPED."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from xingqu.experiments.analysis import COLUMNS, ArmData

#: Days before the start whose events give the pre-period metric.
PRE_DAYS = 14
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Exposure:
    """One feed response served from an experiment's arm."""

    request_id: str
    user_id: str
    arm: str
    ts: int
    latency_ms: float


def _ms(value: object) -> int:
    """An event time as UTC ms (Arrow timestamps arrive as datetimes)."""
    if isinstance(value, int):
        return value
    return int(value.timestamp() * 1000)  # type: ignore[attr-defined]


def credit(
    arms: Sequence[tuple[str, float]],
    exposures: Sequence[Exposure],
    events: pa.Table,
    *,
    start_ms: int,
    until_ms: int,
    window_ms: int,
    violating: Collection[str] = (),
    product_shops: Mapping[str, str] | None = None,
) -> list[ArmData]:
    """Per-user sums per arm (``analysis.COLUMNS``) from the exposure log and the exposed users' events
    (all of them: the history before the start decides who is a new customer of a shop)."""
    names = [a for a, _ in arms]
    by_request: dict[str, tuple[str, str]] = {}
    user_arm: dict[str, str] = {}
    latencies: dict[str, list[float]] = {a: [] for a in names}
    for e in exposures:
        if e.arm not in latencies:
            continue
        by_request[e.request_id] = (e.user_id, e.arm)
        user_arm.setdefault(e.user_id, e.arm)
        latencies[e.arm].append(e.latency_ms)
    users = {a: [u for u, arm in user_arm.items() if arm == a] for a in names}
    row_of = {u: k for a in names for k, u in enumerate(users[a])}
    sums = {a: {c: np.zeros(len(users[a])) for c in COLUMNS} for a in names}
    shops = product_shops or {}
    bad = set(violating)
    pre_from = start_ms - PRE_DAYS * DAY_MS
    last_imp: dict[str, int] = {}
    credited_orders: set[str] = set()
    buyers: set[tuple[str, str]] = set()
    ev = events.sort_by([("ts", "ascending"), ("event_id", "ascending")]) if events.num_rows else events
    cols = {c: ev.column(c).to_pylist() for c in ev.column_names if c in _READ}
    get = cols.get
    rids = get("request_id") or [None] * ev.num_rows
    for k in range(ev.num_rows):
        user = cols["user_id"][k]
        arm = user_arm.get(user)
        if arm is None:
            continue
        ts = _ms(cols["ts"][k])
        etype = cols["event_type"][k]
        product = cols["product_id"][k]
        amount = cols["amount"][k] or 0
        shop = cols["shop_id"][k] or shops.get(product or "", "")
        s, row = sums[arm], row_of[user]
        if ts < start_ms:
            if etype == "pay":
                buyers.add((user, shop))
            if ts >= pre_from:
                if etype == "impression":
                    s["pre_impressions"][row] += 1
                elif etype == "click":
                    s["pre_clicks"][row] += 1
                elif etype == "pay":
                    s["pre_paid"][row] += amount
                    s["pre_quality"][row] += amount
                elif etype == "refund":
                    s["pre_quality"][row] -= amount
            continue
        order = cols["order_id"][k]
        rid = rids[k]
        served = by_request.get(rid) if rid else None
        if served is not None and served[0] == user:
            counted = ts < until_ms + window_ms
        else:
            last = last_imp.get(user)
            counted = etype != "impression" and last is not None and ts - last <= window_ms
        if order and etype in ("pay", "refund") and order in credited_orders:
            counted = True
        if etype == "impression" and ts >= until_ms:
            counted = False  # shown after the experiment stopped taking traffic
        new_buyer = etype == "pay" and (user, shop) not in buyers
        if etype == "pay":
            buyers.add((user, shop))
        if not counted:
            continue
        if etype == "impression":
            last_imp[user] = ts
            s["impressions"][row] += 1
        elif etype == "click":
            s["clicks"][row] += 1
        elif etype in ("order", "pay"):
            if order:
                credited_orders.add(order)
            if etype == "pay":
                s["paid"][row] += amount
                s["orders"][row] += 1
                s["new_orders"][row] += 1 if new_buyer else 0
                if product in bad:
                    s["violating"][row] += amount
        elif etype == "refund":
            s["refunded"][row] += amount
            if product in bad:
                s["violating"][row] -= amount
    share = dict(arms)
    return [ArmData(a, share[a], sums[a], np.asarray(latencies[a], dtype=np.float64)) for a in names]


_READ = ("user_id", "ts", "event_type", "product_id", "amount", "shop_id", "order_id", "request_id")
