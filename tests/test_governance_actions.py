"""Takedown, reinstatement and the append-only audit log, on every backend; the v1 → v2 migration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from conftest import SAMPLE
from test_cli import xingqu
from xingqu.errors import NotFoundError, StoreError, UserError
from xingqu.governance.actions import reinstate, take_down
from xingqu.ingest import import_path
from xingqu.store import Store
from xingqu.store.migrations import LATEST_VERSION


@pytest.fixture
def loaded(store: Store) -> Store:
    import_path(store, SAMPLE)
    return store


def test_takedown_is_immediate_and_audited(loaded: Store) -> None:
    assert "p-serum" in loaded.servable_products(["p-serum", "p-mask"])
    change = take_down(loaded, "p-serum", reason="counterfeit complaint #42", actor="ops:li")
    assert change == {"product": "p-serum", "before": "listed", "after": "taken_down"}
    assert loaded.servable_products(["p-serum", "p-mask"]) == {"p-mask"}
    reinstate(loaded, "p-serum", reason="appeal upheld", actor="ops:wang")
    entries = loaded.audit_entries("p-serum")
    assert [(e["action"], e["actor"], e["before"], e["after"], e["reason"]) for e in entries] == [
        ("reinstate", "ops:wang", {"status": "taken_down"}, {"status": "listed"}, "appeal upheld"),
        ("takedown", "ops:li", {"status": "listed"}, {"status": "taken_down"}, "counterfeit complaint #42"),
    ]
    with pytest.raises(UserError, match="already listed"):
        reinstate(loaded, "p-serum", reason="again", actor="ops")
    with pytest.raises(NotFoundError):
        take_down(loaded, "p-nope", reason="x", actor="ops")
    with pytest.raises(UserError, match="a reason is required"):
        take_down(loaded, "p-mask", reason=" ", actor="ops")
    assert len(loaded.audit_entries()) == 2  # refused changes leave no entry


def test_products_of_a_suspended_shop_are_served_nowhere(loaded: Store) -> None:
    shops = sa.table("shops", sa.column("shop_id"), sa.column("status"))
    ids = ["p-serum", "p-dress", "p-earbuds"]
    assert loaded.servable_products(ids) == set(ids)
    with loaded.writing() as conn:
        conn.execute(sa.update(shops).where(shops.c.shop_id == "s-yunshan").values(status="suspended"))
    assert loaded.servable_products(ids) == {"p-dress", "p-earbuds"}


def test_the_audit_log_rejects_edits(loaded: Store) -> None:
    take_down(loaded, "p-mask", reason="prohibited claim", actor="ops")
    for statement in ("UPDATE audit_log SET reason = 'tidied'", "DELETE FROM audit_log"):
        with pytest.raises(StoreError, match="append-only"), loaded.writing() as conn:
            conn.exec_driver_sql(statement)
    assert [e["reason"] for e in loaded.audit_entries()] == ["prohibited claim"]


def test_a_version_1_store_is_migrated(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    store.init()
    with store.writing() as conn:  # make it look like a store written before the audit log existed
        conn.exec_driver_sql("DROP TABLE audit_log")
        conn.exec_driver_sql("UPDATE xingqu_meta SET value = '1' WHERE key = 'schema_version'")
    with pytest.raises(Exception, match="run 'xingqu init' to migrate"):
        store.require_ready()
    assert store.init() == LATEST_VERSION == 12
    with store.reading() as conn:  # the model registry (version 9) came with the migration
        assert conn.exec_driver_sql("SELECT count(*) FROM model_versions").scalar_one() == 0
    import_path(store, SAMPLE)
    seen = store.catalogue.servability_changes(0, 10_000)[0][-1]
    take_down(store, "p-cream", reason="r", actor="a")
    # the servability change log (version 12) records the takedown for processes keeping the set
    assert store.catalogue.servability_changes(seen, 10) == ([seen + 1], ["p-cream"])
    with pytest.raises(StoreError, match="append-only"), store.writing() as conn:
        conn.exec_driver_sql("DELETE FROM audit_log")


def test_cli_takedown_and_audit(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    assert xingqu("import", str(SAMPLE), "--quiet", db=db).returncode == 0
    r = xingqu("takedown", "p-watch", "--reason", "fake certificates", "--actor", "ops:zhao", db=db)
    assert r.returncode == 0 and "listed → taken_down" in r.stdout
    entries = json.loads(xingqu("audit", "--subject", "p-watch", "--json", db=db).stdout)
    assert entries[0]["actor"] == "ops:zhao" and entries[0]["after"] == {"status": "taken_down"}
    assert xingqu("takedown", "p-watch", "--reason", "again", db=db).returncode == 1
    assert xingqu("takedown", "p-watch", db=db).returncode == 2  # --reason is required


def test_review_queue_resolutions_set_status_and_are_audited(loaded: Store, tmp_path: Path) -> None:
    from xingqu.governance import Screener, review

    screener = Screener.default()
    listings = [
        {"id": "p-serum", "shop": "s-yunshan", "title": "云杉精华 全网销量第一"},
        {"id": "new-1", "shop": "s-qingmu", "title": "青木连衣裙 加微信下单"},
        {"id": "ok-1", "shop": "s-qingmu", "title": "青木连衣裙"},
    ]
    decided = [(screener.screen(x), x) for x in listings]
    assert review.enqueue(loaded, decided) == 2
    assert [e["listing_id"] for e in review.entries(loaded)] == ["new-1", "p-serum"] or sorted(
        e["listing_id"] for e in review.entries(loaded)
    ) == ["new-1", "p-serum"]
    out = review.resolve(loaded, "p-serum", approve=False, note="rank claim without source", actor="ops:li")
    assert out == {"listing": "p-serum", "review": "rejected", "product_status": "rejected"}
    assert "p-serum" not in loaded.servable_products(["p-serum"])
    assert (
        review.resolve(loaded, "new-1", approve=True, note="ok after edit", actor="ops:li")["product_status"]
        is None
    )
    with pytest.raises(UserError, match="already rejected"):
        review.resolve(loaded, "p-serum", approve=True, note="x", actor="ops")
    with pytest.raises(NotFoundError):
        review.resolve(loaded, "ok-1", approve=True, note="x", actor="ops")
    assert review.entries(loaded) == []
    audit = loaded.audit_entries("p-serum")
    assert audit[0]["action"] == "review_rejected" and audit[0]["after"]["product_status"] == "rejected"


def test_cli_screen_queue_and_review(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    assert xingqu("import", str(SAMPLE), "--quiet", db=db).returncode == 0
    f = tmp_path / "l.jsonl"
    f.write_text(
        json.dumps({"id": "p-dress", "shop": "s-qingmu", "title": "青木连衣裙 首发"}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    r = xingqu("screen", str(f), "--queue", db=db)
    assert r.returncode == 0 and "1 listings queued for review" in r.stderr
    queue = json.loads(xingqu("review", "list", "--json", db=db).stdout)
    assert [q["listing_id"] for q in queue] == ["p-dress"]
    r = xingqu("review", "reject", "p-dress", "--note", "unsupported claim", "--json", db=db)
    assert json.loads(r.stdout)["product_status"] == "rejected"
    assert (
        json.loads(xingqu("review", "list", "--status", "rejected", "--json", db=db).stdout)[0]["note"]
        == "unsupported claim"
    )


def test_points_accumulate_in_the_window_and_thresholds_act(loaded: Store) -> None:
    from xingqu.governance.points import PointRules, give_points, standing

    rules = PointRules.default()
    day = 86_400_000
    t0 = 1_780_000_000_000
    s = give_points(
        loaded,
        "s-haixing",
        "counterfeit",
        reason="fake earbuds",
        actor="ops",
        at_ms=t0,
        subject_id="p-earbuds",
    )
    assert (s.points, s.action, s.status) == (12, "warning", "active")
    assert loaded.servable_products(["p-earbuds"]) == {"p-earbuds"}  # a warning changes nothing
    s = give_points(
        loaded,
        "s-haixing",
        "price_fraud",
        reason="划线价 above 7-day low",
        actor="ops",
        at_ms=t0 + 10 * day,
        points=12,
    )
    assert (s.points, s.action, s.status) == (24, "restrict", "restricted")
    # a year after the first penalty it has left the window: 12 + 24 = 36, not 48
    s = give_points(
        loaded, "s-haixing", "order_brushing", reason="brushing ring", actor="ops", at_ms=t0 + 366 * day
    )
    assert (s.points, s.action, s.status) == (36, "restrict", "restricted")
    s = give_points(loaded, "s-haixing", "prohibited", reason="vape", actor="ops", at_ms=t0 + 367 * day)
    assert (s.points, s.action, s.status) == (48, "suspend", "suspended")
    assert loaded.servable_products(["p-earbuds", "p-charger", "p-serum"]) == {"p-serum"}
    assert standing(loaded, "s-haixing", at_ms=t0 + 367 * day, rules=rules).points == 48
    actions = [e["action"] for e in loaded.audit_entries("s-haixing")]
    assert actions == ["suspend", "points", "points", "restrict", "points", "points"]
    with pytest.raises(UserError, match="unknown violation"):
        give_points(loaded, "s-haixing", "rudeness", reason="x", actor="ops")
    with pytest.raises(NotFoundError):
        give_points(loaded, "s-nope", "counterfeit", reason="x", actor="ops")
    with loaded.engine.connect() as conn, pytest.raises(sa.exc.DBAPIError):
        conn.exec_driver_sql("UPDATE penalties SET points = 0")
        conn.commit()


def test_cli_points(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 's.db'}"
    assert xingqu("import", str(SAMPLE), "--quiet", db=db).returncode == 0
    r = xingqu("points", "give", "s-qingmu", "diversion", "--reason", "加微信 in titles", "--json", db=db)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["points"] == 4
    r = xingqu("points", "show", "s-qingmu", db=db)
    assert "4 points in the window, action none" in r.stdout and "diversion" in r.stdout
    assert xingqu("points", "give", "s-qingmu", "rudeness", "--reason", "x", db=db).returncode == 1
