"""Import: every format, every kind of bad input named precisely, atomicity and idempotence."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import SAMPLE
from helpers import records, snapshot, write_rows
from xingqu.config import Settings
from xingqu.domain.arrow import arrow_schema
from xingqu.domain.records import KINDS
from xingqu.errors import NotFoundError, UserError, ValidationFailed
from xingqu.ingest import import_path, importer, kind_from_name
from xingqu.ingest.readers import FileError
from xingqu.store import Store

EVENT_COLS = [
    "event_id",
    "event_type",
    "ts",
    "user_id",
    "surface",
    "product_id",
    "order_id",
    "amount",
    "refund_reason",
]


def _event(i: int, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "event_id": f"t{i}",
        "event_type": "click",
        "ts": "2026-05-03T10:00:00+08:00",
        "user_id": "u001",
        "surface": "feed",
        "product_id": "p-serum",
    }
    row.update(kw)
    return row


@pytest.fixture
def loaded(store: Store) -> Store:
    import_path(store, SAMPLE)
    return store


def test_sample_folder_imports_every_kind_in_dependency_order(store: Store) -> None:
    report = import_path(store, SAMPLE)
    assert [f.kind for f in report.files] == [
        "brands",
        "shops",
        "creators",
        "users",
        "products",
        "content",
        "relations",
        "events",
    ]
    assert store.counts() == {
        "brands": 3,
        "shops": 3,
        "creators": 4,
        "users": 24,
        "products": 12,
        "content": 4,
        "relations": 24,  # 21 stored + 3 follows that only the event log records
        "events": 758,
    }
    assert report.rejected == 0


def test_reimport_of_events_is_a_no_op(loaded: Store) -> None:
    before = snapshot(loaded)
    report = import_path(loaded, SAMPLE / "events.csv")
    assert report.files[0].written == 0
    assert report.files[0].duplicates == 758
    assert snapshot(loaded) == before


def test_values_are_stored_exactly(loaded: Store) -> None:
    mask = next(r for r in records(loaded, "products") if r["product_id"] == "p-mask")
    assert mask["title"] == "云杉保濕面膜 10片裝"  # traditional characters kept as given
    assert mask["price"] == 6900 and mask["reference_price"] == 9900
    assert mask["style_tags"] == ["natural"]
    user = next(r for r in records(loaded, "users") if r["user_id"] == "u002")
    assert user["is_parent"] is True
    # 2025-03-12T08:00:00+08:00 is stored as UTC
    assert user["registered_at"].isoformat() == "2025-03-12T00:00:00+00:00"
    creator = next(r for r in records(loaded, "creators") if r["creator_id"] == "c-xiaomei")
    assert creator["main_categories"] == ["beauty_skincare", "women_apparel"]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_every_format_gives_the_same_records(loaded: Store, tmp_path: Path, suffix: str) -> None:
    rows = [
        _event(1, event_type="order", order_id="o1", amount=15900),
        _event(2, event_type="refund", order_id="o1", amount=15900, refund_reason="quality", product_id=None),
    ]
    import_path(loaded, write_rows(tmp_path / f"events{suffix}", rows, EVENT_COLS))
    got = [r for r in records(loaded, "events") if r["event_id"] in ("t1", "t2")]
    assert [(r["event_type"], r["amount"], r["order_id"], r["refund_reason"]) for r in got] == [
        ("order", 15900, "o1", None),
        ("refund", 15900, "o1", "quality"),
    ]
    assert got[0]["ts"].isoformat() == "2026-05-03T02:00:00+00:00"


def _fails(store: Store, path: Path) -> ValidationFailed:
    before = snapshot(store)
    with pytest.raises(ValidationFailed) as info:
        import_path(store, path)
    assert snapshot(store) == before, "a failed import must leave the store exactly as it was"
    return info.value


@pytest.mark.parametrize(
    ("bad", "field", "reason"),
    [
        ({"product_id": "p-nope"}, "product_id", "unknown product id"),
        ({"user_id": "ghost"}, "user_id", "unknown user id"),
        ({"ts": "2026-05-03 10:00"}, "ts", "ISO 8601"),
        ({"ts": "2026-02-30T10:00:00Z"}, "ts", "ISO 8601"),
        ({"event_type": "purchase"}, "event_type", "must be one of"),
        ({"surface": "tv"}, "surface", "must be one of"),
        ({"event_type": "order", "order_id": "o9", "amount": "-100"}, "amount", "at least 0"),
        ({"event_type": "order", "order_id": "o9", "amount": "159.00"}, "amount", "integer number of fen"),
        ({"event_type": "order", "order_id": "o9", "amount": "12.5"}, "amount", "integer number of fen"),
        ({"event_type": "order", "order_id": "o9", "amount": "abc"}, "amount", "not a number"),
        ({"event_type": "order", "amount": "100"}, "order_id", "required when event_type is 'order'"),
        (
            {"event_type": "refund", "order_id": "o9", "amount": "100"},
            "refund_reason",
            "required when event_type is 'refund'",
        ),
        ({"event_id": None}, "event_id", "required field is missing"),
        ({"event_id": " e1"}, "event_id", "spaces"),
    ],
)
def test_bad_event_values_are_named(
    loaded: Store, tmp_path: Path, bad: dict[str, object], field: str, reason: str
) -> None:
    rows = [_event(1), _event(2, **bad), _event(3)]
    err = _fails(loaded, write_rows(tmp_path / "events.csv", rows, EVENT_COLS))
    assert err.total == 1
    (e,) = err.errors
    assert (e.field, e.line, e.row) == (field, 3, 2)
    assert reason in e.reason
    assert "events.csv, line 3" in str(e)


def test_every_error_is_reported_up_to_the_limit(loaded: Store, tmp_path: Path) -> None:
    rows = [_event(i, product_id="p-nope") for i in range(120)]
    err = _fails(loaded, write_rows(tmp_path / "events.jsonl", rows, EVENT_COLS))
    assert err.total == 120
    assert len(err.errors) == 50
    assert [e.line for e in err.errors[:3]] == [1, 2, 3]
    assert "and 70 more" in str(err)


def test_negative_price_in_products(loaded: Store, tmp_path: Path) -> None:
    cols = ["product_id", "shop_id", "category", "title", "price"]
    rows = [
        {
            "product_id": "p-x",
            "shop_id": "s-yunshan",
            "category": "beauty_skincare",
            "title": "新品",
            "price": "-1",
        }
    ]
    err = _fails(loaded, write_rows(tmp_path / "products.csv", rows, cols))
    assert (err.errors[0].field, err.errors[0].reason) == ("price", "must be at least 0")


def test_unknown_reference_in_tags_and_conditional_reference(loaded: Store, tmp_path: Path) -> None:
    shops = [{"shop_id": "s-new", "name": "新店", "shop_type": "ordinary", "brand_ids": "b-yunshan|b-fake"}]
    err = _fails(
        loaded, write_rows(tmp_path / "shops.csv", shops, ["shop_id", "name", "shop_type", "brand_ids"])
    )
    assert (err.errors[0].field, err.errors[0].reason) == ("brand_ids", "names an unknown brand id")
    rel = [{"user_id": "u001", "kind": "membership", "target_id": "c-xiaomei"}]  # a creator, not a shop
    err = _fails(loaded, write_rows(tmp_path / "relations.csv", rel, ["user_id", "kind", "target_id"]))
    assert (err.errors[0].field, err.errors[0].reason) == ("target_id", "unknown shop id")


def test_wrong_encoding_names_line_and_byte(loaded: Store, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    write_rows(path, [_event(1), _event(2)], EVENT_COLS)
    data = path.read_bytes().replace(b"u001", "用户".encode("gb18030"), 1)
    path.write_bytes(data)
    before = snapshot(loaded)
    with pytest.raises(FileError, match=r"events.csv, line 2: not valid UTF-8 at byte"):
        import_path(loaded, path)
    assert snapshot(loaded) == before


def test_utf8_bom_is_accepted(loaded: Store, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "events.csv", [_event(1)], EVENT_COLS)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert import_path(loaded, path).written == 1


def test_structural_errors(loaded: Store, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("event_id,event_type,ts,user_id,pirce\n", encoding="utf-8")
    with pytest.raises(FileError, match="unknown column\\(s\\) 'pirce'"):
        import_path(loaded, path)
    path.write_text("event_id,event_type,user_id\n", encoding="utf-8")
    with pytest.raises(FileError, match="required column\\(s\\) 'ts' missing"):
        import_path(loaded, path)
    path.write_text("event_id,event_type,ts,user_id\ne1,click,2026-05-01T00:00:00Z\n", encoding="utf-8")
    err = _fails(loaded, path)
    assert err.errors[0].reason == "has 3 cells, the header has 4"
    jpath = tmp_path / "events.jsonl"
    jpath.write_text('{"event_id": "e1"\n[1, 2]\n{"event_id": "e2", "product_id": ["a"]}\n', encoding="utf-8")
    err = _fails(loaded, jpath)
    reasons = [(e.line, e.reason) for e in err.errors]
    assert reasons[0][0] == 1 and reasons[0][1].startswith("not valid JSON")
    assert reasons[1] == (2, "each line must be a JSON object")
    assert reasons[2] == (3, "expected a single value, got a JSON list")


def test_not_parquet(loaded: Store, tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(FileError, match="not a readable Parquet file"):
        import_path(loaded, path)


def test_typed_parquet_with_wrong_type_is_named(loaded: Store, tmp_path: Path) -> None:
    table = pa.table(
        {
            "event_id": ["e1"],
            "event_type": ["click"],
            "ts": [1.5],
            "user_id": ["u001"],
            "product_id": ["p-serum"],
        }
    )
    pq.write_table(table, tmp_path / "events.parquet")
    err = _fails(loaded, tmp_path / "events.parquet")
    assert (err.errors[0].field, err.errors[0].row) == ("ts", 1)
    assert "expected a timestamp" in err.errors[0].reason


def test_typed_parquet_in_canonical_schema(loaded: Store, tmp_path: Path) -> None:
    schema = arrow_schema("events")
    cols = {f.name: pa.nulls(2, f.type) for f in schema}
    cols.update(
        event_id=pa.array(["q1", "q2"]),
        event_type=pa.array(["video_play", "live_enter"]),
        ts=pa.array([1_777_600_000_000, 1_777_600_001_000], pa.timestamp("ms", "UTC")),
        user_id=pa.array(["u001", "u002"]),
        content_id=pa.array(["v-serum-demo", "l-yunshan-0505"]),
        watch_s=pa.array([12.5, 300.0]),
    )
    pq.write_table(pa.table(cols, schema=schema), tmp_path / "events-typed.parquet")
    assert import_path(loaded, tmp_path / "events-typed.parquet").written == 2


def test_folder_import_is_one_transaction(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "market"
    folder.mkdir()
    for f in SAMPLE.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    with (folder / "events.csv").open("a", encoding="utf-8") as fh:
        fh.write("bad1,click,2026-05-01T00:00:00Z,u001,feed,p-404,,,,,,,,,\n")
    before = snapshot(store)
    with pytest.raises(ValidationFailed) as info:
        import_path(store, folder)
    assert info.value.errors[0].reason == "unknown product id"
    assert snapshot(store) == before  # brands … relations were not written either


def test_skip_invalid_writes_valid_rows_and_rejects(loaded: Store, tmp_path: Path) -> None:
    rows = [_event(1), _event(2, product_id="p-404"), _event(3, ts="yesterday"), _event(4)]
    path = write_rows(tmp_path / "events.csv", rows, EVENT_COLS)
    report = import_path(loaded, path, skip_invalid=True)
    assert (report.written, report.rejected) == (2, 2)
    assert {r["event_id"] for r in records(loaded, "events")} >= {"t1", "t4"}
    assert not {"t2", "t3"} & {r["event_id"] for r in records(loaded, "events")}
    lines = [json.loads(x) for x in Path(report.rejects_path).read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["record"]["event_id"], r["errors"][0]["field"]) for r in lines] == [
        (3, "t2", "product_id"),
        (4, "t3", "ts"),
    ]


def test_duplicates_within_a_file(loaded: Store, tmp_path: Path) -> None:
    rows = [_event(1), _event(1), _event(2)]
    report = import_path(loaded, write_rows(tmp_path / "events.csv", rows, EVENT_COLS))
    assert (report.files[0].written, report.files[0].duplicates) == (2, 1)
    products = [
        {"product_id": "p-z", "shop_id": "s-yunshan", "category": "c", "title": "旧", "price": 100},
        {"product_id": "p-z", "shop_id": "s-yunshan", "category": "c", "title": "新", "price": 200},
    ]
    import_path(
        loaded,
        write_rows(
            tmp_path / "products.csv", products, ["product_id", "shop_id", "category", "title", "price"]
        ),
    )
    z = next(r for r in records(loaded, "products") if r["product_id"] == "p-z")
    assert (z["title"], z["price"], z["status"], z["stock"]) == ("新", 200, "listed", 0)


def test_kind_from_file_name() -> None:
    assert kind_from_name(Path("events-2026-05.parquet")) == "events"
    assert kind_from_name(Path("products.csv")) == "products"
    assert kind_from_name(Path("content_live.jsonl")) == "content"
    assert kind_from_name(Path("eventsfoo.csv")) is None


def test_plan_errors(store: Store, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        import_path(store, tmp_path / "missing.csv")
    (tmp_path / "orders.csv").write_text("a\n", encoding="utf-8")
    with pytest.raises(UserError, match="pass --kind"):
        import_path(store, tmp_path / "orders.csv")


def test_plus_signs_and_later_keys_after_an_error(store: Store, tmp_path: Path) -> None:
    import_path(store, SAMPLE)
    rows = [
        {"product_id": "p-plus", "shop_id": "s-yunshan", "category": "c", "title": "加号", "price": "+500"}
    ]
    import_path(store, write_rows(tmp_path / "products.csv", rows, list(rows[0])))
    assert next(r for r in records(store, "products") if r["product_id"] == "p-plus")["price"] == 500
    # a folder whose products file has one bad row: events naming the file's good products are not
    # reported as unknown, so the report lists only the real problem
    folder = tmp_path / "f"
    folder.mkdir()
    prods = [
        {"product_id": "p-a", "shop_id": "s-yunshan", "category": "c", "title": "甲", "price": "-1"},
        {"product_id": "p-b", "shop_id": "s-yunshan", "category": "c", "title": "乙", "price": "100"},
    ]
    write_rows(folder / "products.csv", prods, list(prods[0]))
    write_rows(folder / "events.csv", [_event(1, product_id="p-b")], EVENT_COLS)
    err = _fails(store, folder)
    assert [(e.field, e.reason) for e in err.errors] == [("price", "must be at least 0")]


def test_reject_files_appear_only_after_a_commit_and_folders_skip_them(loaded: Store, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    path = write_rows(folder / "events.csv", [_event(1), _event(2, product_id="p-404")], EVENT_COLS)
    import_path(loaded, path, skip_invalid=True)
    assert (folder / "events.csv.rejects.jsonl").exists()
    assert not list(folder.glob("*.part"))
    # the rejects file beside it is not read as a second events file
    report = import_path(loaded, folder, skip_invalid=True, rejects_path=tmp_path / "again.jsonl")
    assert [Path(f.path).name for f in report.files] == ["events.csv"]
    bad = write_rows(tmp_path / "users.csv", [{"user_id": "u-x", "gender": "X"}], ["user_id", "gender"])
    (tmp_path / "users.csv.rejects.jsonl").unlink(missing_ok=True)
    with pytest.raises(ValidationFailed):
        import_path(loaded, bad)
    assert not (tmp_path / "users.csv.rejects.jsonl").exists()


def test_a_json_line_with_two_bad_fields_is_one_rejected_row(loaded: Store, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    good = json.dumps(_event(1), ensure_ascii=False)
    path.write_text(
        good + '\n{"event_id": "t9", "product_id": ["x"], "user_id": {"a": 1}}\n', encoding="utf-8"
    )
    report = import_path(loaded, path, skip_invalid=True)
    assert (report.files[0].rows, report.files[0].rejected, report.written) == (2, 1, 1)
    lines = Path(report.rejects_path).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and {e["field"] for e in json.loads(lines[0])["errors"]} == {
        "product_id",
        "user_id",
    }


def test_keys_of_a_rolled_back_batch_stay_unknown_to_later_batches(loaded: Store) -> None:
    """A request batch that fails writes nothing, and the catalogue keys it carried are not remembered
    as known: a later batch naming them is refused as the store would refuse it."""
    from xingqu.ingest.importer import import_items

    user = {"user_id": "u-rolled-back"}
    bad = _event(901, user_id="u-rolled-back", event_type="teleport")
    with pytest.raises(ValidationFailed):
        import_items(loaded, {"users": [user], "events": [_event(900, user_id="u-rolled-back"), bad]})
    with pytest.raises(ValidationFailed, match="u-rolled-back"):
        import_items(loaded, {"events": [_event(902, user_id="u-rolled-back")]})
    import_items(loaded, {"users": [user]})  # committed now: its events are taken
    report = import_items(loaded, {"events": [_event(903, user_id="u-rolled-back")]})
    assert report.files[0].written == 1


def _reads(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The reads ``store`` makes from now on outside a write: transactions and single statements."""
    made: list[str] = []
    reading, read_small = store.reading, store.read_small

    def counted_reading() -> object:
        made.append("transaction")
        return reading()

    def counted_small(sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        made.append(sql.split(" FROM ")[1].split()[0])
        return read_small(sql, params)

    monkeypatch.setattr(store, "reading", counted_reading)
    monkeypatch.setattr(store, "read_small", counted_small)
    return made


def test_a_product_another_process_adds_is_found_by_a_store_that_remembered_others(
    loaded: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Committed keys are remembered per process, and only found ones: a product added by another
    process (another store on the same database) after this one was refused is taken by the next batch,
    and keys remembered as committed cost no read at all."""
    from xingqu.ingest.importer import import_items

    import_items(loaded, {"events": [_event(1000)]})  # p-serum and u001 now remembered
    made = _reads(loaded, monkeypatch)
    assert import_items(loaded, {"events": [_event(1001)]}).files[0].written == 1
    assert made == []  # every key it names was remembered: validated without the store
    with pytest.raises(ValidationFailed, match="unknown product id"):
        import_items(loaded, {"events": [_event(1002, product_id="p-elsewhere")]})
    assert made == ["products"]  # only the key not remembered is asked, in one statement
    other = Store(loaded.url)
    product = {
        "product_id": "p-elsewhere",
        "shop_id": "s-yunshan",
        "category": "beauty_skincare>skincare>serum",
        "title": "另一进程上架的精华",
        "price": 9900,
        "stock": 5,
    }
    import_items(other, {"products": [product]})
    other.close()
    assert import_items(loaded, {"events": [_event(1003, product_id="p-elsewhere")]}).files[0].written == 1
    assert made == ["products", "products"]  # a miss is not remembered: asked again, and found
    assert import_items(loaded, {"events": [_event(1003, product_id="p-elsewhere")]}).files[0].written == 0
    with loaded.reading() as conn:
        shop = conn.exec_driver_sql(
            "SELECT sum(n) FROM daily_counts WHERE shop_id = 's-yunshan' AND event_type = 'click'"
        ).scalar_one()
    assert int(shop) >= 3  # the new product's click counted once, for its shop


def test_posted_events_check_the_schema_inside_their_transaction(loaded: Store) -> None:
    """Once a store was seen current, the version is checked inside each batch's write transaction: a
    store stepped up by a newer release meanwhile is refused and nothing is written."""
    from xingqu.ingest.importer import import_items

    import_items(loaded, {"events": [_event(1100)]})
    assert loaded.seen_ready
    other = Store(loaded.url)
    with other.writing() as conn:
        conn.exec_driver_sql("UPDATE xingqu_meta SET value = '999' WHERE key = 'schema_version'")
    other.close()
    before = loaded.count("events")
    with pytest.raises(UserError, match="upgrade xingqu"):
        import_items(loaded, {"events": [_event(1101)]})
    assert loaded.count("events") == before


def test_a_failed_write_stops_the_reading_threads_before_the_error_is_raised(
    loaded: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch reader is closed on the importing thread: none of its threads outlives the error."""
    path = tmp_path / "events.csv"
    write_rows(path, [_event(i) for i in range(400)], EVENT_COLS)
    calls = {"n": 0}
    real = loaded.append_prepared

    def failing(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(loaded, "append_prepared", failing)
    before = snapshot(loaded)
    small = Settings.declared().model_copy(update={"ingest_batch_rows": 20})
    with pytest.raises(RuntimeError, match="disk full") as info:
        import_path(loaded, path, settings=small)
    assert _reader_threads() == [] and info.value.__traceback__ is not None  # the error's frames still held
    assert calls["n"] == 2
    assert snapshot(loaded) == before


def _reader_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(("xingqu-import-", "xingqu-prepare"))]


def test_a_reader_finalised_on_one_of_its_own_threads_ends(
    loaded: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An abandoned reader is finalised by whichever thread collects it, possibly one preparing its
    batches: it then stops without waiting on itself, and every thread of it ends."""
    path = tmp_path / "events.csv"
    write_rows(path, [_event(i) for i in range(400)], EVENT_COLS)
    real = importer._prepare
    seen = {"n": 0}
    batches: list[Iterator[object]] = []
    suspended = threading.Event()  # the reader has handed over its first batch and waits at its yield

    def prepare_and_close(*args: object, **kwargs: object) -> object:
        seen["n"] += 1
        if seen["n"] == 4:
            assert suspended.wait(20)
            batches[0].close()  # as the garbage collector would, on this preparing thread
        return real(*args, **kwargs)

    monkeypatch.setattr(importer, "_prepare", prepare_and_close)
    with loaded.reading() as conn:
        known = importer._KnownKeys(loaded, conn)
        batches.append(importer._pipeline(loaded, path, KINDS["events"], known, 20, None))
        first = next(batches[0])
        suspended.set()
        assert first.records.num_rows == 20
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _reader_threads():
            time.sleep(0.05)
    assert _reader_threads() == []
    assert seen["n"] >= 4
