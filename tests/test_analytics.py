"""GMV and quality GMV computed by hand on a small fixture, and against the simulator's truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import SAMPLE
from helpers import write_rows
from test_cli import xingqu
from xingqu.analytics import gmv_by_period, gmv_summary, load_orders
from xingqu.ingest import import_path
from xingqu.sim.config import preset
from xingqu.sim.run import simulate
from xingqu.store import Store
from xingqu.store.schema import TABLES

COLS = [
    "event_id",
    "event_type",
    "ts",
    "user_id",
    "product_id",
    "creator_id",
    "order_id",
    "quantity",
    "amount",
    "refund_reason",
]
DAY1, DAY2 = "2026-06-01T10:00:00+08:00", "2026-06-02T23:30:00+08:00"


def _ev(
    eid: str,
    etype: str,
    ts: str,
    user: str,
    product: str,
    order: str,
    amount: int,
    creator: str | None = None,
    reason: str | None = None,
) -> dict[str, object]:
    return {
        "event_id": eid,
        "event_type": etype,
        "ts": ts,
        "user_id": user,
        "product_id": product,
        "creator_id": creator,
        "order_id": order,
        "quantity": 1 if etype == "order" else None,
        "amount": amount,
        "refund_reason": reason,
    }


@pytest.fixture
def shop_floor(store: Store, tmp_path: Path) -> Store:
    """Sample catalogue plus four orders whose figures are worked out by hand below."""
    for name in ("brands", "shops", "creators", "users", "products"):
        f = next(SAMPLE.glob(f"{name}.*"))
        import_path(store, f)
    rows = [
        _ev("a1", "order", DAY1, "u001", "p-serum", "o1", 10000, "c-xiaomei"),  # via a creator
        _ev("a2", "pay", DAY1, "u001", "p-serum", "o1", 10000, "c-xiaomei"),
        _ev("a3", "refund", DAY2, "u001", "p-serum", "o1", 10000, reason="quality"),
        _ev("b1", "order", DAY1, "u001", "p-dress", "o2", 20000, "c-qingmu"),  # the shop's own account
        _ev("b2", "pay", DAY1, "u001", "p-dress", "o2", 20000, "c-qingmu"),
        _ev("c1", "order", DAY2, "u003", "p-earbuds", "o3", 5000),  # never paid
        _ev("d1", "order", DAY2, "u002", "p-charger", "o4", 30000),  # mall, later taken down
        _ev("d2", "pay", DAY2, "u002", "p-charger", "o4", 30000),
        _ev("d3", "refund", DAY2, "u002", "p-charger", "o4", 5000, reason="no_reason_7day"),
    ]
    import_path(store, write_rows(tmp_path / "events.csv", rows, COLS))
    products = TABLES["products"]
    with store.writing() as conn:
        conn.execute(
            sa.update(products).where(products.c.product_id == "p-charger").values(status="taken_down")
        )
    return store


def test_gmv_and_quality_gmv_by_hand(shop_floor: Store) -> None:
    s = gmv_summary(load_orders(shop_floor), impressions=2000)
    assert (s.orders, s.paid_orders, s.paying_users, s.units) == (4, 3, 2, 3)
    assert s.gmv_placed == 10000 + 20000 + 5000 + 30000
    assert s.gmv_paid == 60000
    assert s.refunded == 15000
    assert s.net_gmv == 45000
    assert s.violating == 30000 - 5000  # o4's net: its product was taken down after the sale
    assert s.quality_gmv == 45000 - 25000
    assert s.gap == 60000 - 20000
    assert s.refund_rate == pytest.approx(2 / 3)
    assert s.quality_refund_rate == pytest.approx(1 / 3)
    assert s.refund_share == pytest.approx(15000 / 60000)
    assert s.aov == pytest.approx(60000 / 2)
    # o1 nets 0 in a 4.8-score shop (weight 1); o2 nets 20000 in a 4.5-score shop (weight 4.5 / 4.7)
    assert s.quality_gmv_weighted == pytest.approx(20000 * 4.5 / 4.7)
    assert s.gpm == pytest.approx(600.0 / 2000 * 1000)


def test_gmv_by_day_and_channel(shop_floor: Store) -> None:
    rows = gmv_by_period(load_orders(shop_floor), "day", by_channel=True)
    got = {(r["period"], r["channel"]): (r["gmv_paid"], r["quality_gmv"]) for r in rows}
    assert got == {
        ("2026-06-01", "creator"): (10000, 0),
        ("2026-06-01", "self"): (20000, 20000),
        ("2026-06-02", "other"): (30000, 0),
    }  # o3 (unpaid, 06-02) is placed GMV only
    month = gmv_by_period(load_orders(shop_floor), "month")
    assert [(r["period"], r["gmv_placed"]) for r in month] == [("2026-06-01", 65000)]
    week = gmv_by_period(load_orders(shop_floor), "week")
    assert [r["period"] for r in week] == ["2026-06-01"]  # a Monday


def test_one_shop_only(shop_floor: Store) -> None:
    s = gmv_summary(load_orders(shop_floor, shop_id="s-haixing"))
    assert (s.orders, s.gmv_paid, s.quality_gmv) == (2, 30000, 0)


def test_simulated_gmv_matches_the_truth_to_the_fen(tmp_path: Path) -> None:
    report = simulate(preset("tiny"), tmp_path / "m")
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    import_path(store, tmp_path / "m")
    s = gmv_summary(load_orders(store))
    truth = json.loads((tmp_path / "m" / "truth" / "summary.json").read_text(encoding="utf-8"))
    assert s.gmv_paid == truth["paid_gmv_fen"] == report.paid_gmv_fen
    assert s.refunded == truth["refunded_fen"]


def test_cli_report_gmv(shop_floor: Store, tmp_path: Path) -> None:
    url = shop_floor.url
    r = xingqu("report", "gmv", "--period", "day", "--by-channel", "--json", db=url)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["total"]["quality_gmv"] == 20000 and len(data["rows"]) == 3
    r = xingqu("report", "gmv", "--csv", str(tmp_path / "g.csv"), "--chart", str(tmp_path / "g.svg"), db=url)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "g.csv").read_text(encoding="utf-8").splitlines()[0].startswith("period,orders")
    assert (tmp_path / "g.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert "quality GMV ¥200.00" in r.stdout
    assert xingqu("report", "gmv", "--period", "year", db=url).returncode == 2
