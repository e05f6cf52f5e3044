"""User profiles from a hand-written log: purchases (the last kept one per product, refunds not kept),
repurchase intervals, ignored impressions and the trend windows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from xingqu.dataset import Vocabulary
from xingqu.domain.units import DAY_MS
from xingqu.features.market import MarketTables, arrow_schema
from xingqu.features.profiles import Catalogue, build_profiles, event_sums

T0 = 1_750_000_000_000  # an instant in June 2025 (UTC ms)
LOG = [  # (days after T0, user, event, product, order)
    (0.0, "u0", "pay", "p1", "o1"),
    (5.0, "u0", "pay", "p1", "o2"),  # bought again 5 days later: p1's category repurchases in 5 days
    (6.0, "u0", "pay", "p1", "o3"),
    (6.5, "u0", "refund", "p1", "o3"),  # o3 taken back: the last kept purchase is o2's
    (7.0, "u1", "pay", "p2", "o4"),
    (7.5, "u9", "pay", "p2", "o5"),  # a user outside the vocabulary: counted in p2's pays only
    (8.0, "u1", "impression", "p1", None),
    (8.2, "u1", "pay", "p2", "o6"),
    (8.4, "u1", "refund", None, "o6"),  # a refund of the whole order, no product named: o6 not kept
    (8.5, "u1", "impression", "p1", None),
    (9.0, "u0", "impression", "p2", None),
    (9.5, "u0", "click", "p2", None),  # engaged: p2 not an ignored impression of u0's
    (10.0, "u1", "impression", "p2", None),
]


def hand_market() -> tuple[MarketTables, Vocabulary, Catalogue]:
    """The market of ``LOG`` (products p1, a snack, and p2, a rice cooker), users u0 and u1."""
    products = pa.Table.from_pylist(
        [
            {"product_id": p, "shop_id": "s1", "category": c, "title": p, "price": 1000, "stock": 5}
            for p, c in (("p1", "食品>零食"), ("p2", "家电>电饭煲"))
        ],
        schema=arrow_schema("products"),
    )
    events = pa.Table.from_pylist(
        [
            {
                "event_id": f"e{k}",
                "event_type": kind,
                "ts": T0 + int(day * DAY_MS),
                "user_id": user,
                "product_id": product,
                "order_id": order,
            }
            for k, (day, user, kind, product, order) in enumerate(LOG)
        ],
        schema=arrow_schema("events"),
    )
    market = MarketTables(products, arrow_schema("users").empty_table(), events)
    users = Vocabulary(np.array(["u0", "u1"], dtype=object))
    cat = Catalogue.build(market, Vocabulary(np.array(["p1", "p2"], dtype=object)))
    return market, users, cat


def test_bought_keeps_the_last_kept_purchase_and_repurchase_counts_its_days() -> None:
    market, users, cat = hand_market()
    profiles, stats = build_profiles(market, users, cat)
    assert profiles.bought.toarray().tolist() == [
        [(T0 + 5 * DAY_MS) / DAY_MS, 0.0],  # o2's day, not o1's and o2's added up
        [0.0, (T0 + 7 * DAY_MS) / DAY_MS],
    ]
    snacks, cookers = cat.categories.index("食品"), cat.categories.index("家电")
    assert stats.repurchase_days[snacks] == 5.0 and np.isinf(stats.repurchase_days[cookers])
    sums = event_sums(market, users, cat)
    assert sums.pays.tolist() == [3.0, 3.0] and sums.refunds.tolist() == [1.0, 0.0]
    # u1 saw p1 twice without engaging; u1 paid for p2 in the week, u0 clicked it: not ignored
    assert profiles.shown.toarray().tolist() == [[0.0, 0.0], [2.0, 0.0]]
    assert sums.now_ms == T0 + 10 * DAY_MS
    # less than 3 days old (after day 7): u1's pay of p2 (4) and u0's click on it (1); impressions 0
    assert sums.recent.tolist() == [0.0, 5.0]
