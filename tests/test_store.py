"""The store: schema versions, migrations' guard rails, concurrent imports, export round trip."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from conftest import SAMPLE
from helpers import records, snapshot
from xingqu.domain.arrow import arrow_schema
from xingqu.domain.records import IMPORT_ORDER, KINDS
from xingqu.errors import MissingDependencyError, StoreError, UserError
from xingqu.features.market import MARKET_EVENT_COLUMNS, MarketTables
from xingqu.ingest import import_path
from xingqu.store import EventLog, Store, normalise_url
from xingqu.store.export import export_parquet
from xingqu.store.migrations import LATEST_VERSION
from xingqu.store.schema import TABLES


def test_kinds_only_reference_earlier_kinds() -> None:
    for i, kind in enumerate(IMPORT_ORDER):
        spec = KINDS[kind]
        refs = {f.ref for f in spec.fields if f.ref} | {
            k for c in spec.conditional_refs for k in c.kinds.values()
        }
        assert refs <= set(IMPORT_ORDER[:i]), f"{kind} references {refs - set(IMPORT_ORDER[:i])} out of order"


def test_tables_and_arrow_schema_follow_the_kinds() -> None:
    for kind, spec in KINDS.items():
        assert [c.name for c in TABLES[kind].columns] == list(spec.columns)
        assert arrow_schema(kind).names == list(spec.columns)
        assert [c.name for c in TABLES[kind].primary_key.columns] == list(spec.key)


def test_init_is_idempotent_and_versioned(store: Store) -> None:
    assert store.schema_version() == LATEST_VERSION
    assert store.init() == LATEST_VERSION
    store.require_ready()


def test_an_empty_database_says_to_run_init(sqlite_url: str) -> None:
    with pytest.raises(StoreError, match="run 'xingqu init'"):
        Store(sqlite_url).require_ready()


def test_a_newer_schema_is_refused(store: Store) -> None:
    with store.writing() as conn:
        conn.execute(
            sa.text("UPDATE xingqu_meta SET value = :v WHERE key = 'schema_version'"),
            {"v": str(LATEST_VERSION + 1)},
        )
    with pytest.raises(StoreError, match="newer than this xingqu understands"):
        store.init()
    with pytest.raises(StoreError, match="upgrade xingqu"):
        store.require_ready()


def test_urls() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
    with pytest.raises(StoreError, match="not a database URL"):
        Store("not a url")
    with pytest.raises(StoreError, match="unsupported database URL"):
        Store("oracle2://h/db")


def test_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def fake(name: str, *a: object, **kw: object) -> object:
        if name.startswith("psycopg"):
            raise ModuleNotFoundError("No module named 'psycopg'")
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(MissingDependencyError, match=r"pip install 'xingqu\[postgres\]'"):
        Store("postgresql://u@127.0.0.1:1/db")


def test_export_round_trip_is_lossless(store: Store, tmp_path: Path, sqlite_url: str) -> None:
    import_path(store, SAMPLE)
    first = tmp_path / "first"
    counts = export_parquet(store, first)
    assert counts["events"] == 758
    assert pq.read_schema(first / "products.parquet").remove_metadata() == arrow_schema("products")
    again = Store(f"sqlite:///{tmp_path / 'again.db'}")
    import_path(again, first)
    assert snapshot(again) == snapshot(store)
    second = tmp_path / "second"
    export_parquet(again, second)
    for kind in KINDS:
        assert pq.read_table(first / f"{kind}.parquet").equals(pq.read_table(second / f"{kind}.parquet")), (
            kind
        )


def test_reading_some_columns_gives_those_columns_of_every_record(store: Store) -> None:
    import_path(store, SAMPLE)
    full = pa.Table.from_batches(list(store.iter_records("events", batch_rows=100)))
    some = pa.Table.from_batches(
        list(store.iter_records("events", batch_rows=100, columns=MARKET_EVENT_COLUMNS))
    )
    assert some.num_rows == full.num_rows == 758
    assert some.schema == pa.schema([arrow_schema("events").field(c) for c in MARKET_EVENT_COLUMNS])
    assert some.equals(full.select(list(MARKET_EVENT_COLUMNS)))
    market = MarketTables.from_store(store)
    assert market.events.column_names == list(MARKET_EVENT_COLUMNS) and market.events.num_rows == 758
    with pytest.raises(UserError, match="events have no column"):
        next(store.iter_records("events", columns=["user_id", "mood"]))


def _import_worker(url: str, path: str, barrier: mp.synchronize.Barrier, out: mp.Queue) -> None:
    store = Store(url)
    barrier.wait()
    report = import_path(store, path)
    out.put(report.written)


def test_concurrent_imports_store_each_event_once(store_url: str) -> None:
    store = Store(store_url)
    import_path(store, SAMPLE, kind=None)
    with store.writing() as conn:
        conn.execute(TABLES["events"].delete())
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_import_worker, args=(store_url, str(SAMPLE / "events.csv"), barrier, out))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    written = sorted(out.get(timeout=5) for _ in procs)
    assert written == [0, 758]  # one process wrote everything, the other found only duplicates
    assert store.count("events") == 758
    assert len({r["event_id"] for r in records(store, "events")}) == 758


def test_the_event_log_scans_by_time_range_type_and_columns(store: Store) -> None:
    import_path(store, SAMPLE)
    log = store.events
    assert isinstance(log, EventLog)
    full = pa.Table.from_batches(list(log.scan(ordered=True)))
    assert full.equals(pa.Table.from_batches(list(store.iter_records("events"))))
    ts = pc.cast(full["ts"], pa.int64()).to_numpy()
    assert log.time_range() == (int(ts.min()), int(ts.max()))
    start, end = int(np.quantile(ts, 0.25)), int(np.quantile(ts, 0.75))
    part = pa.Table.from_batches(
        list(log.scan(["event_id", "ts"], start_ms=start, end_ms=end, ordered=True, batch_rows=50))
    )
    expected = sorted(full["event_id"].filter(pa.array((ts >= start) & (ts < end))).to_pylist())
    assert part["event_id"].to_pylist() == expected and part.column_names == ["event_id", "ts"]
    assert log.count() == 758 and log.count(start, end) == len(expected) > 0
    pays = pa.Table.from_batches(list(log.scan(["event_type"], event_types=["pay", "refund"])))
    kinds = full["event_type"].to_pylist()
    assert sorted(pays["event_type"].to_pylist()) == sorted(k for k in kinds if k in ("pay", "refund"))
    with pytest.raises(UserError, match="events have no column"):
        next(log.scan(["ts", "mood"]))
