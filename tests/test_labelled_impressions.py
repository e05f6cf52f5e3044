"""The ranker's labelled impressions, against a plain reading of their definition: impressions grouped
by user and day, each labelled by what the same user did to the same product that day (a click, cart
or order: 1; bought: 2 to 4 by the value's third among everything bought), only groups that can teach
an order (two rows or more, one of them labelled)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from xingqu.dataset import Vocabulary
from xingqu.features.market import MarketTables, arrow_schema
from xingqu.feed_training import labelled_impressions

DAY = 86_400_000
T0 = 20_000 * DAY  # midnight UTC
USERS = ["u0", "u1"]
PRODUCTS = ["p0", "p1", "p2"]
KINDS = ["impression", "impression", "impression", "click", "add_to_cart", "order", "pay", "refund", "review"]

event = st.tuples(
    st.integers(0, 2 * 24 - 1),  # hour
    st.sampled_from([*USERS, "u-unknown"]),
    st.sampled_from([*PRODUCTS, None]),
    st.sampled_from(KINDS),
    st.integers(0, 3),  # order number
    st.sampled_from([9.9, 59.0, 120.0, 399.0, 1299.0]),
)


def _records(rows: list[tuple[int, str, str | None, str, int, float]]) -> list[dict[str, object]]:
    records = []
    for k, (hour, user, product, kind, order, amount) in enumerate(rows):
        paid = kind in ("order", "pay", "refund")
        records.append(
            {
                "event_id": f"e{k:04d}",
                "event_type": kind,
                "ts": T0 + hour * 3_600_000 + k,
                "user_id": user,
                "product_id": product,
                "order_id": f"o{user}{order}" if paid else None,
                "amount": amount if paid else None,
                "position": float(k % 7),
            }
        )
    return records


def _reference(rows: list[dict[str, object]], users: list[str], items: list[str], since: int) -> list[tuple]:
    """Each kept group as (user, [(item, label, position, ts)…]), in user then day order."""
    rows = [r for r in rows if r["ts"] >= since and r["product_id"] is not None]  # type: ignore[operator]
    first_day = min((r["ts"] // DAY for r in rows), default=0)  # type: ignore[operator]
    refunded = {r["order_id"] for r in rows if r["event_type"] == "refund"}
    rows = [r for r in rows if r["user_id"] in users and r["product_id"] in items]

    def key(r: dict[str, object]) -> tuple[object, object, int]:
        return (r["user_id"], r["product_id"], r["ts"] // DAY - first_day)  # type: ignore[operator]

    engaged = {key(r) for r in rows if r["event_type"] in ("click", "add_to_cart", "order", "pay")}
    value = {}
    for r in rows:  # the last kept pay of a key sets its value
        if r["event_type"] == "pay" and r["order_id"] not in refunded:
            value[key(r)] = r["amount"]
    cuts = np.quantile(list(value.values()), [1 / 3, 2 / 3]) if value else None
    groups: dict[tuple[int, int], list[tuple[int, int, float, int]]] = {}
    for r in rows:
        if r["event_type"] != "impression":
            continue
        label = 1 if key(r) in engaged else 0
        if key(r) in value:
            label = 2 + int(np.searchsorted(cuts, value[key(r)], side="right"))
        g = (users.index(r["user_id"]), r["ts"] // DAY - first_day)  # type: ignore[arg-type, operator]
        groups.setdefault(g, []).append((items.index(r["product_id"]), label, r["position"], r["ts"]))  # type: ignore[arg-type]
    return [
        (g[0], rows_)
        for g, rows_ in sorted(groups.items())
        if len(rows_) >= 2 and max(label for _, label, _, _ in rows_) > 0
    ]


@settings(max_examples=300, deadline=None)
@given(st.lists(event, min_size=0, max_size=40), st.integers(0, 1))
def test_labelled_impressions_follow_their_definition(
    rows: list[tuple[int, str, str | None, str, int, float]], since_day: int
) -> None:
    records = _records(rows)
    events = pa.Table.from_pylist(records, schema=arrow_schema("events"))
    users, items = Vocabulary(np.array(USERS, dtype=object)), Vocabulary(np.array(PRODUCTS, dtype=object))
    market = MarketTables(arrow_schema("products").empty_table(), arrow_schema("users").empty_table(), events)
    since = T0 + since_day * DAY
    got = labelled_impressions(market, users, items, since)
    want = _reference(records, USERS, PRODUCTS, since)
    assert got.users.tolist() == [u for u, _ in want]
    for g, (_, rows_) in enumerate(want):
        assert got.items[g].tolist() == [r[0] for r in rows_]
        assert got.labels[g].tolist() == [r[1] for r in rows_]
        assert got.positions[g].tolist() == [r[2] for r in rows_]
        assert got.times[g].tolist() == [r[3] for r in rows_]
