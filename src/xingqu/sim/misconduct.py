"""Planted store misconduct, the ground truth store monitoring is measured against.

- brushing (刷单): during its run, a shop places ``brushing_orders_per_day`` orders a day through a ring
  of linked accounts, pays them within minutes and refunds them within hours ("no reason" refunds), to
  inflate its sales;
- refund spike: during its bad batch a shop's refund chance is multiplied and refunds are mostly for
  quality (``Behaviour.refund_chance``).
Both are drawn in ``generate_world`` (``World.s_misconduct``) from a random stream of their own.
"""

from __future__ import annotations

import numpy as np

from xingqu.sim.behaviour import EV, REFUND_REASONS, SURF, Events, MarketState, _events
from xingqu.sim.world import World

DAY_MS = 86_400_000
MINUTE_MS = 60_000


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
