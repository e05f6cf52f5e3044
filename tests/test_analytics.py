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
    for name in ("brands", "shops", "creators", "users", "products", "relations"):
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
        # product impressions: two through a creator and one through the shop's own account on day 1,
        # one with no account on day 2
        {**_ev("i1", "impression", DAY1, "u001", "p-serum", None, None, "c-xiaomei"), "amount": None},
        {**_ev("i2", "impression", DAY1, "u002", "p-serum", None, None, "c-xiaomei"), "amount": None},
        {**_ev("i3", "impression", DAY1, "u001", "p-dress", None, None, "c-qingmu"), "amount": None},
        {**_ev("i4", "impression", DAY2, "u002", "p-charger", None, None), "amount": None},
    ]
    import_path(store, write_rows(tmp_path / "events.csv", rows, COLS))
    products = TABLES["products"]
    with store.writing() as conn:
        conn.execute(
            sa.update(products).where(products.c.product_id == "p-charger").values(status="taken_down")
        )
    return store


def test_gmv_and_quality_gmv_by_hand(shop_floor: Store) -> None:
    s = gmv_summary(shop_floor)
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
    assert s.impressions == 4 and s.gpm == pytest.approx(600.0 / 4 * 1000)


def test_gmv_by_day_and_channel(shop_floor: Store) -> None:
    rows = gmv_by_period(shop_floor, "day", by="channel")
    got = {(r["period"], r["channel"]): (r["gmv_paid"], r["quality_gmv"], r["gpm"]) for r in rows}
    assert got == {
        ("2026-06-01", "creator"): (10000, 0, pytest.approx(100.0 / 2 * 1000)),
        ("2026-06-01", "self"): (20000, 20000, pytest.approx(200.0 / 1 * 1000)),
        ("2026-06-02", "other"): (30000, 0, pytest.approx(300.0 / 1 * 1000)),
    }  # o3 (unpaid, 06-02) is placed GMV only
    month = gmv_by_period(shop_floor, "month")
    assert [(r["period"], r["gmv_placed"]) for r in month] == [("2026-06-01", 65000)]
    week = gmv_by_period(shop_floor, "week")
    assert [r["period"] for r in week] == ["2026-06-01"]  # a Monday
    cats = gmv_by_period(shop_floor, "month", by="category")
    assert {r["category"]: r["gmv_paid"] for r in cats} == {
        "digital_3c": 30000,
        "women_apparel": 20000,
        "beauty_skincare": 10000,
    }
    shops = gmv_by_period(shop_floor, "month", by="shop", top=1)
    assert [(r["shop"], r["gmv_paid"]) for r in shops] == [("s-haixing", 30000)]


def test_one_shop_only(shop_floor: Store) -> None:
    s = gmv_summary(shop_floor, shop_id="s-haixing")
    assert (s.orders, s.gmv_paid, s.quality_gmv) == (2, 30000, 0)


def test_simulated_gmv_matches_the_truth_to_the_fen(tmp_path: Path) -> None:
    report = simulate(preset("tiny"), tmp_path / "m")
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    import_path(store, tmp_path / "m")
    s = gmv_summary(store)
    truth = json.loads((tmp_path / "m" / "truth" / "summary.json").read_text(encoding="utf-8"))
    assert s.gmv_paid == truth["paid_gmv_fen"] == report.paid_gmv_fen
    assert s.refunded == truth["refunded_fen"]


def test_cli_report_gmv(shop_floor: Store, tmp_path: Path) -> None:
    url = shop_floor.url
    r = xingqu("report", "gmv", "--period", "day", "--by", "channel", "--json", db=url)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["total"]["quality_gmv"] == 20000 and len(data["rows"]) == 3
    r = xingqu("report", "gmv", "--csv", str(tmp_path / "g.csv"), "--chart", str(tmp_path / "g.svg"), db=url)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "g.csv").read_text(encoding="utf-8").splitlines()[0].startswith("period,orders")
    assert (tmp_path / "g.svg").read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert "quality GMV ¥200.00" in r.stdout
    assert xingqu("report", "gmv", "--period", "year", db=url).returncode == 2
    assert xingqu("report", "gmv", "--by", "colour", db=url).returncode == 2


def test_channels_customers_and_private_domain_by_hand(shop_floor: Store, tmp_path: Path) -> None:
    from xingqu.analytics.channels import channel_growth, private_domain_share
    from xingqu.analytics.customers import customer_metrics

    orders = load_orders(shop_floor)
    (week,) = channel_growth(shop_floor, "week")
    assert (week["gmv_self"], week["gmv_creator"], week["gmv_other"]) == (20000, 10000, 30000)
    assert week["self_share"] == pytest.approx(20000 / 60000)
    # u001 follows c-xiaomei (sample relations), so o1 bought through her is private-domain GMV
    assert private_domain_share(shop_floor, orders)["private_share"] == pytest.approx(10000 / 60000)
    # a second order of u001 at s-yunshan on day 2 makes them a returning buyer there
    more = [
        _ev("e1", "order", DAY2, "u001", "p-mask", "o5", 6900),
        _ev("e2", "pay", DAY2, "u001", "p-mask", "o5", 6900),
    ]
    import_path(shop_floor, write_rows(tmp_path / "events-more.csv", more, COLS))
    orders = load_orders(shop_floor)
    whole = customer_metrics(orders)
    assert (whole["buyers"], whole["new_buyers"], whole["returning_buyers"]) == (3, 3, 0)
    assert whole["gmv_returning"] == 6900 and whole["repeat_purchase_rate"] == pytest.approx(1 / 2)
    day2 = customer_metrics(orders, orders.paid_ts >= 1780329600000)  # 2026-06-02T00:00+08:00
    assert (day2["buyers"], day2["new_buyers"], day2["returning_buyers"]) == (2, 1, 1)
    assert day2["new_share_by_gmv"] == pytest.approx(30000 / 36900)


def test_live_session_and_funnel_by_hand(store: Store, tmp_path: Path) -> None:
    from xingqu.analytics.funnel import event_counts, funnel_by_surface, gpm
    from xingqu.analytics.live import live_sessions

    for name in ("brands", "shops", "creators", "users", "products", "content"):
        import_path(store, next(SAMPLE.glob(f"{name}.*")))
    live = "l-yunshan-0505"  # 2026-05-05 19:00–22:00 +08:00, the shop's own account
    cols = [*COLS, "content_id", "surface", "watch_s"]
    rows = [
        {
            **_ev("v1", "live_enter", "2026-05-05T19:30:00+08:00", "u001", None, None, None),
            "content_id": live,
            "surface": "live_room",
            "watch_s": 100.0,
        },
        {
            **_ev("v2", "live_enter", "2026-05-05T20:00:00+08:00", "u002", None, None, None),
            "content_id": live,
            "surface": "live_room",
            "watch_s": 200.0,
        },
        {
            **_ev("i1", "impression", "2026-05-05T19:31:00+08:00", "u001", "p-serum", None, None),
            "content_id": live,
            "surface": "live_room",
        },
        {
            **_ev("i2", "impression", "2026-05-05T20:01:00+08:00", "u002", "p-serum", None, None),
            "content_id": live,
            "surface": "live_room",
        },
        {
            **_ev("k1", "click", "2026-05-05T19:32:00+08:00", "u001", "p-serum", None, None),
            "content_id": live,
            "surface": "live_room",
        },
        {
            **_ev("o1", "order", "2026-05-05T19:33:00+08:00", "u001", "p-serum", "L1", 15900, "c-yunshan"),
            "content_id": live,
            "surface": "live_room",
        },
        {
            **_ev("p1", "pay", "2026-05-05T19:34:00+08:00", "u001", "p-serum", "L1", 15900, "c-yunshan"),
            "content_id": live,
            "surface": "live_room",
        },
        {
            **_ev("o2", "order", "2026-05-08T10:00:00+08:00", "u002", "p-mask", "L2", 6900, "c-yunshan"),
            "content_id": live,
            "surface": "video",
        },
        {
            **_ev("p2", "pay", "2026-05-08T10:00:00+08:00", "u002", "p-mask", "L2", 6900, "c-yunshan"),
            "content_id": live,
            "surface": "video",
        },
    ]
    for r in rows:
        r["quantity"] = 1 if r["event_type"] == "order" else None
    import_path(store, write_rows(tmp_path / "events.csv", rows, cols))
    orders = load_orders(store)
    (session,) = [s for s in live_sessions(store, orders) if s["session"] == live]
    assert session["self_broadcast"] is True
    assert (session["gmv_in_session"], session["gmv_7d"], session["orders"]) == (15900, 15900 + 6900, 2)
    assert (session["entries"], session["viewers"], session["watch_s"]) == (2, 2, 300.0)
    assert session["conversion"] == pytest.approx(2 / 2)
    assert session["gpm"] == pytest.approx(159.0 / 2 * 1000)
    counts = event_counts(store)
    room = next(r for r in funnel_by_surface(counts) if r["surface"] == "live_room")
    assert (room["impressions"], room["clicks"], room["orders"], room["paid_orders"]) == (2, 1, 1, 1)
    assert room["ctr"] == pytest.approx(0.5) and room["order_to_pay"] == pytest.approx(1.0)
    g = gpm(store, counts)
    assert g["live_gpm"] == pytest.approx((159.0 + 69.0) / 2 * 1000)
    assert g["product_gpm"] == pytest.approx((159.0 + 69.0) / 2 * 1000)


def test_cli_reports(shop_floor: Store, tmp_path: Path) -> None:
    url = shop_floor.url
    for args in (["funnel"], ["customers", "--period", "day"], ["live"], ["channels"], ["shop", "s-haixing"]):
        r = xingqu("report", *args, "--json", db=url)
        assert r.returncode == 0, (args, r.stderr)
        json.loads(r.stdout)
    page = json.loads(xingqu("report", "shop", "s-haixing", "--json", db=url).stdout)
    assert page["gmv"]["gmv_paid"] == 30000 and page["gmv"]["quality_gmv"] == 0
    r = xingqu("report", "channels", "--csv", "-", db=url)
    assert r.stdout.splitlines()[0].startswith("period,gmv_self,gmv_creator,gmv_other")


def test_report_total_is_the_summary_of_everything(shop_floor: Store) -> None:
    from xingqu.analytics import gmv_report

    whole = gmv_summary(shop_floor).to_dict()
    for by, top in ((None, None), ("channel", 1), ("shop", 1), ("category", None)):
        rows, total = gmv_report(shop_floor, "day", by, top=top)
        assert total.to_dict() == pytest.approx(whole), by
        if by == "channel":  # the channel with most GMV paid: other (30000) over self (20000)
            assert {r["channel"] for r in rows} == {"other"}


def test_day_rollups_give_the_figures_of_a_scan(tmp_path: Path) -> None:
    from xingqu.analytics import gmv_report
    from xingqu.governance.actions import take_down

    simulate(preset("tiny", days=6), tmp_path / "m")
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    import_path(store, tmp_path / "m")
    with store.reading() as conn:
        sold = conn.exec_driver_sql(
            "SELECT product_id, shop_id FROM order_facts WHERE paid > 0 LIMIT 2"
        ).all()
    take_down(store, sold[0][0], reason="found counterfeit", actor="t")
    with store.writing() as conn:  # a suspended shop and a poorly scored one
        conn.exec_driver_sql("UPDATE shops SET status = 'suspended' WHERE shop_id = ?", (sold[1][1],))
        conn.exec_driver_sql("UPDATE shops SET experience_score = 3.9")
    for period in ("day", "week", "month"):
        for by in (None, "channel"):
            fast = gmv_report(store, period, by)
            slow = gmv_report(store, period, by, day_rollups=False)
            assert len(fast[0]) == len(slow[0]) > 0
            for a, b in zip(fast[0], slow[0], strict=True):
                assert a["period"] == b["period"] and a.get("channel") == b.get("channel")
                assert {k: v for k, v in a.items() if k not in ("period", "channel")} == pytest.approx(
                    {k: v for k, v in b.items() if k not in ("period", "channel")}
                )
            assert fast[1].to_dict() == pytest.approx(slow[1].to_dict())
            assert fast[1].violating > 0 and fast[1].quality_gmv_weighted < fast[1].quality_gmv
