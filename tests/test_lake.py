"""The Parquet event lake: the same events, rollups and models as the store's table; every event read
once under re-imports, overlapping files, concurrent writers and a process killed mid-import."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_cli import xingqu
from xingqu.config import Settings
from xingqu.domain.records import IMPORT_ORDER
from xingqu.errors import ValidationFailed
from xingqu.features.market import MarketTables
from xingqu.feed_training import impressions_since
from xingqu.ingest import import_path
from xingqu.runtime import Runtime
from xingqu.sim.config import preset
from xingqu.sim.run import simulate
from xingqu.store import Store
from xingqu.store.lake import LakeEventLog, id_hashes
from xingqu.training import train

ROLLUPS = ("daily_counts", "daily_totals", "order_facts", "order_days", "buyer_days", "live_viewers")


def lake_store(root: Path, name: str = "lake") -> Store:
    """A fresh SQLite store whose events live in a lake beside it."""
    store = Store(f"sqlite:///{root / (name + '.db')}")
    store.init()
    store.use_lake(LakeEventLog(str(root / name)))
    return store


def import_catalogue(store: Store, folder: Path) -> None:
    """Every kind but events, in dependency order."""
    for kind in IMPORT_ORDER:
        if kind != "events" and (folder / f"{kind}.parquet").exists():
            import_path(store, folder / f"{kind}.parquet")


def all_events(store: Store) -> pa.Table:
    table = pa.Table.from_batches(list(store.events.scan()))
    return table.take(pc.sort_indices(table.column("event_id")))


def rows(store: Store, table: str) -> list[tuple[object, ...]]:
    with store.reading() as conn:
        return sorted(tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {table}")).all())


def same_rows(a: list[tuple[object, ...]], b: list[tuple[object, ...]]) -> bool:
    """Equal rows, float cells to their last bits: sums merged in other groups round differently
    (watch seconds 363.2 summed in one merge, 363.19999999999993 over two)."""
    return len(a) == len(b) and all(
        len(x) == len(y)
        and all(
            u == pytest.approx(v, rel=1e-12) if isinstance(u, float) else u == v
            for u, v in zip(x, y, strict=True)
        )
        for x, y in zip(a, b, strict=True)
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Store, Store]:
    """A tiny simulated world imported twice: into the store's table and into a lake."""
    root = tmp_path_factory.mktemp("lake")
    simulate(preset("tiny", days=10), root / "m")
    sql = Store(f"sqlite:///{root / 'sql.db'}")
    import_path(sql, root / "m")
    lake = lake_store(root)
    import_path(lake, root / "m")
    return root, sql, lake


def test_the_lake_holds_what_the_table_holds(world: tuple[Path, Store, Store]) -> None:
    root, sql, lake = world
    a, b = all_events(sql), all_events(lake)
    assert b.num_rows == a.num_rows > 10_000
    assert b.cast(a.schema).equals(a)
    assert lake.events.count() == sql.events.count()
    assert lake.events.time_range() == sql.events.time_range()
    start, end = sql.events.time_range()  # type: ignore[misc]
    mid = (start + end) // 2
    assert lake.events.count(mid, end) == sql.events.count(mid, end)
    pays = pa.Table.from_batches(list(lake.events.scan(["event_id"], event_types=["pay"], start_ms=mid)))
    want = pa.Table.from_batches(list(sql.events.scan(["event_id"], event_types=["pay"], start_ms=mid)))
    assert sorted(pays["event_id"].to_pylist()) == sorted(want["event_id"].to_pylist())
    since_a, since_b = sql.events.since(mid), lake.events.since(mid)
    assert since_b.cast(since_a.schema).equals(since_a)
    users = since_a["user_id"].to_pylist()[:3]
    assert lake.events.since(mid, users).cast(since_a.schema).equals(sql.events.since(mid, users))
    for table in ROLLUPS:  # rollups stay in the database, the same whichever log the events went to
        assert same_rows(rows(lake, table), rows(sql, table)), table
    with lake.reading() as conn:  # the table itself was not written
        assert conn.execute(sa.text("SELECT count(*) FROM events")).scalar_one() == 0
    layout = sorted(p.relative_to(root / "lake").parts[:2] for p in (root / "lake").rglob("*.parquet"))
    assert layout[0] == ("events", "date=2026-05-01")


def test_rollups_merged_beside_the_import_equal_the_tables(
    world: tuple[Path, Store, Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xingqu.ingest import importer

    root, sql, _ = world
    monkeypatch.setattr(importer, "ROLLUP_FLUSH_EVENTS", 700)  # many merges, each on the merge thread
    merged: list[str] = []
    flush = Store.flush_rollups

    def counted(self: Store, conn: sa.Connection, builder: object) -> None:
        merged.append(threading.current_thread().name)
        flush(self, conn, builder)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "flush_rollups", counted)
    lake = lake_store(tmp_path)
    small = Settings.declared().model_copy(update={"ingest_batch_rows": 300})
    import_path(lake, root / "m", settings=small)
    assert sum(name.startswith("xingqu-rollups") for name in merged) > 10
    for table in ROLLUPS:
        assert same_rows(rows(lake, table), rows(sql, table)), table
    assert all_events(lake).cast(all_events(sql).schema).equals(all_events(sql))


def test_training_on_the_lake_equals_training_on_the_table(world: tuple[Path, Store, Store]) -> None:
    root, sql, lake = world
    a, b = train(sql, root / "models-sql"), train(lake, root / "models-lake")
    assert (a.history != b.history).nnz == 0
    assert (a.cobuy_support != b.cobuy_support).nnz == 0
    assert a.meta["interactions"] == b.meta["interactions"]
    assert a.meta["validation"] == b.meta["validation"]
    users = a.blend.users.lookup(a.blend.users.ids[:50])
    assert (
        a.blend.recommend(users, a.history[users], 10) == b.blend.recommend(users, b.history[users], 10)
    ).all()


def test_training_reads_the_whole_log_but_old_impressions_alike_from_lake_and_table(
    world: tuple[Path, Store, Store], tmp_path: Path
) -> None:
    _, sql, lake = world
    events = all_events(sql)
    shown = events.filter(pc.equal(events["event_type"], "impression"))
    last_shown = pc.max(pc.cast(shown["ts"], pa.int64())).as_py()
    since = impressions_since(sql.events, label_days=1.0)  # the label day and the week before it
    assert since == impressions_since(lake.events, label_days=1.0) == last_shown - 8 * 86_400_000
    full = MarketTables.from_store(sql).events
    a, b = MarketTables.from_store(sql, since).events, MarketTables.from_store(lake, since).events
    assert b.cast(a.schema).equals(a)
    old = pc.and_(pc.equal(full["event_type"], "impression"), pc.less(pc.cast(full["ts"], pa.int64()), since))
    assert 1_000 < pc.sum(old).as_py() < shown.num_rows  # a window that leaves some out, not all
    assert a.equals(full.filter(pc.invert(old)))  # the rest, in the same (event-id) order
    empty = Store(f"sqlite:///{tmp_path / 'empty.db'}")
    empty.init()
    assert impressions_since(empty.events) is None


def test_reimporting_is_a_no_op_and_overlapping_files_count_once(
    world: tuple[Path, Store, Store], tmp_path: Path
) -> None:
    root, sql, _ = world
    lake = lake_store(tmp_path)
    days = sorted((root / "m").glob("events-*.parquet"))
    import_path(lake, root / "m")
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "lake").rglob("*")}
    again = import_path(lake, days[0])
    assert again.files[0].written == 0 and again.files[0].duplicates == again.files[0].rows > 0
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "lake").rglob("*")} == before  # nothing written
    # a file overlapping two days' files, with events of its own
    first, second = pq.read_table(days[0]), pq.read_table(days[1])
    extra = first.slice(0, 5).set_column(0, "event_id", pa.array([f"x-{i}" for i in range(5)]))
    extra = extra.cast(first.schema)
    overlap = pa.concat_tables([first.slice(100, 300), second.slice(0, 300), extra])
    pq.write_table(overlap, tmp_path / "events-overlap.parquet")
    report = import_path(lake, tmp_path / "events-overlap.parquet")
    assert (report.files[0].written, report.files[0].duplicates) == (5, 600)
    got = all_events(lake)
    assert got.num_rows == sql.events.count() + 5
    assert pc.count_distinct(got["event_id"]).as_py() == got.num_rows
    for table in ROLLUPS[:2]:  # the 600 repeats were not counted again
        assert sum(r[-1] for r in rows(lake, table)) == sum(r[-1] for r in rows(sql, table)) + 5


def test_concurrent_writers_duplicates_are_read_once_and_compacted(
    world: tuple[Path, Store, Store], tmp_path: Path
) -> None:
    _, sql, _ = world
    log = LakeEventLog(str(tmp_path / "lake"))
    events = all_events(sql)
    # two writers that did not see each other's files: both publish the same events
    one, two = log.appender(), log.appender()
    assert one.append(events.slice(0, 4000)).num_rows == 4000
    assert two.append(events.slice(2000, 4000)).num_rows == 4000
    one.publish()
    two.publish()
    several = sum(len(log.files(d)) for d in log.days() if len(log.files(d)) > 1)
    read = pa.Table.from_batches(list(log.scan()))
    assert read.num_rows == 6000 == pc.count_distinct(read["event_id"]).as_py()
    report = log.compact()
    assert report.duplicates == 2000 and report.events == 6000
    assert report.files_removed == several and all(len(log.files(d)) == 1 for d in log.days())
    after = pa.Table.from_batches(list(log.scan(ordered=True)))
    assert after.num_rows == 6000
    want = events.slice(0, 6000)
    want = want.take(pc.sort_indices(want["event_id"]))
    assert after.take(pc.sort_indices(after["event_id"])).cast(events.schema).equals(want)


def test_an_invalid_file_leaves_the_lake_unchanged(tmp_path: Path, world: tuple[Path, Store, Store]) -> None:
    root, _, _ = world
    lake = lake_store(tmp_path)
    import_path(lake, root / "m", kind=None)
    before = sorted(str(p) for p in (tmp_path / "lake").rglob("*"))
    good = pq.read_table(sorted((root / "m").glob("events-*.parquet"))[2])
    kinds = good["event_type"].to_pylist()
    bad = good.set_column(
        good.schema.get_field_index("event_type"), "event_type", pa.array([*kinds[:-1], "teleport"])
    )
    bad = bad.set_column(0, "event_id", pa.array([f"n-{i}" for i in range(good.num_rows)]))
    pq.write_table(bad, tmp_path / "events-bad.parquet")
    small = Settings.declared().model_copy(update={"ingest_batch_rows": 500})  # earlier batches written
    with pytest.raises(ValidationFailed, match="teleport"):
        import_path(lake, tmp_path / "events-bad.parquet", settings=small)
    assert sorted(str(p) for p in (tmp_path / "lake").rglob("*")) == before


def test_a_write_failing_on_the_writer_thread_fails_the_import_and_changes_nothing(
    tmp_path: Path, world: tuple[Path, Store, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    from xingqu.store import lake as lake_module

    root, _, _ = world
    lake = lake_store(tmp_path)
    import_path(lake, root / "m")
    before = sorted(str(p) for p in (tmp_path / "lake").rglob("*"))
    rollups = {t: rows(lake, t) for t in ROLLUPS}
    good = pq.read_table(sorted((root / "m").glob("events-*.parquet"))[2])
    fresh = good.set_column(0, "event_id", pa.array([f"w-{i}" for i in range(good.num_rows)]))
    pq.write_table(fresh, tmp_path / "events-fresh.parquet")
    monkeypatch.setattr(lake_module, "HELD_ROWS", 300)  # rows handed to the writer mid-import
    calls: list[int] = []

    def full_disk(self: pq.ParquetWriter, table: pa.Table, row_group_size: int | None = None) -> None:
        calls.append(table.num_rows)
        if len(calls) > 2:
            raise OSError("No space left on device")
        original(self, table, row_group_size=row_group_size)

    original = pq.ParquetWriter.write_table
    monkeypatch.setattr(pq.ParquetWriter, "write_table", full_disk)
    small = Settings.declared().model_copy(update={"ingest_batch_rows": 200})
    with pytest.raises(OSError, match="No space left"):
        import_path(lake, tmp_path / "events-fresh.parquet", settings=small)
    assert len(calls) > 2
    assert sorted(str(p) for p in (tmp_path / "lake").rglob("*")) == before
    assert {t: rows(lake, t) for t in ROLLUPS} == rollups
    monkeypatch.setattr(pq.ParquetWriter, "write_table", original)
    report = import_path(lake, tmp_path / "events-fresh.parquet", settings=small)
    assert report.files[0].written == fresh.num_rows


KILLED_IMPORT = """
import sys
from xingqu.ingest import import_path
from xingqu.store import Store
from xingqu.store.lake import LakeEventLog
store = Store(sys.argv[1])
store.use_lake(LakeEventLog(sys.argv[2]))
import_path(store, sys.argv[3], settings=None)
"""


def test_a_process_killed_mid_import_publishes_nothing_and_the_import_can_be_run_again(
    world: tuple[Path, Store, Store], tmp_path: Path
) -> None:
    root, sql, _ = world
    lake = lake_store(tmp_path)
    import_catalogue(lake, root / "m")
    # a month of one world's events in one file, slow enough to be caught with temporary files open
    events = all_events(sql)
    big = pa.concat_tables(
        [
            events.set_column(0, "event_id", pc.binary_join_element_wise(f"r{i}-", events["event_id"], ""))
            for i in range(12)
        ]
    )
    pq.write_table(big, tmp_path / "events-big.parquet", row_group_size=5_000)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_IMPORT,
            lake.url,
            str(tmp_path / "lake"),
            str(tmp_path / "events-big.parquet"),
        ],
        env=env,
    )
    deadline = time.monotonic() + 120
    while not list((tmp_path / "lake").rglob(".*.tmp")):
        assert proc.poll() is None, "the import finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not list((tmp_path / "lake").rglob("part-*.parquet"))  # nothing half-written was published
    assert lake.events.count() == 0
    report = import_path(lake, tmp_path / "events-big.parquet")
    assert report.files[0].written == big.num_rows == lake.events.count()


@given(
    slices=st.lists(st.tuples(st.integers(0, 11), st.integers(1, 6)), min_size=1, max_size=6),
    compact=st.booleans(),
)
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_event_is_read_once_whatever_files_are_imported(
    slices: list[tuple[int, int]], compact: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Any sequence of overlapping event files (repeats included) leaves the union of their events,
    each once, before and after compaction."""
    root = tmp_path_factory.mktemp("prop")
    src = sorted((Path(os.environ["XINGQU_LAKE_WORLD"]) / "m").glob("events-*.parquet"))
    events = pa.concat_tables([pq.read_table(p) for p in src])
    step = events.num_rows // 12
    lake = lake_store(root)
    import_catalogue(lake, src[0].parent)
    expected: set[str] = set()
    for n, (start, length) in enumerate(slices):
        piece = events.slice(start * step, length * step)
        pq.write_table(piece, root / f"events-{n}.parquet")
        import_path(lake, root / f"events-{n}.parquet")
        expected |= set(piece["event_id"].to_pylist())
    if compact:
        assert lake.lake is not None
        lake.lake.compact()
    got = all_events(lake)["event_id"].to_pylist()
    assert len(got) == len(expected) and set(got) == expected


@pytest.fixture(autouse=True, scope="module")
def _world_path(world: tuple[Path, Store, Store]) -> None:
    os.environ["XINGQU_LAKE_WORLD"] = str(world[0])


@given(st.lists(st.text(max_size=12), min_size=1, max_size=40), st.integers(0, 5))
@settings(max_examples=200, deadline=None)
def test_id_hashes_depend_on_the_id_only(ids: list[str], cut: int) -> None:
    whole = id_hashes(pa.array(ids, pa.string()))
    assert len(set(whole.tolist())) == len(set(ids))  # equal ids, equal hashes; different, different
    cut = min(cut, len(ids))
    sliced = id_hashes(pa.chunked_array([pa.array(ids[:cut], pa.string()), pa.array(ids[cut:], pa.string())]))
    assert np.array_equal(whole, sliced)
    assert np.array_equal(id_hashes(pa.array(ids, pa.string()).slice(cut)), whole[cut:])


def test_cli_imports_into_the_lake_and_compacts(world: tuple[Path, Store, Store], tmp_path: Path) -> None:
    root, sql, _ = world
    db = f"sqlite:///{tmp_path / 'x.db'}"
    lake = str(tmp_path / "lake")
    assert xingqu("init", "--db", db).returncode == 0
    done = xingqu("import", str(root / "m"), "--db", db, "--events", lake, "--json")
    assert done.returncode == 0, done.stderr
    stats = xingqu("stats", "--db", db, "--events", lake, "--json")
    assert f'"events": {sql.events.count()}' in stats.stdout
    info = xingqu("lake", "info", "--db", db, "--events", lake, "--json")
    assert info.returncode == 0 and '"days_with_several_files": 0' in info.stdout
    missing = xingqu("lake", "compact", "--db", db)
    assert missing.returncode == 1 and "no event lake" in missing.stderr
    rt = Runtime(db=db, events=lake)
    assert rt.events.count() == sql.events.count()


@pytest.mark.parametrize("held_rows", [None, 700])
def test_appender_writes_each_new_event_once_in_whole_row_groups(
    world: tuple[Path, Store, Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, held_rows: int | None
) -> None:
    """Batches in time order and shuffled, repeating earlier ones: each event is written once, to its
    day's file; a day's rows go out as whole row groups, not one per batch (unless more rows than
    ``HELD_ROWS`` are held across the days, when every day's are written)."""
    from xingqu.store import lake as lake_module

    if held_rows is not None:
        monkeypatch.setattr(lake_module, "HELD_ROWS", held_rows)
    _, sql, _ = world
    events = pa.Table.from_batches(list(sql.events.scan()))
    events = events.take(pc.sort_indices(events, [("ts", "ascending"), ("event_id", "ascending")]))
    rng = np.random.default_rng(7)
    shuffled = events.take(pa.array(rng.permutation(events.num_rows)))
    log = LakeEventLog(str(tmp_path / "lake"))
    appender = log.appender()
    written = 0
    half = events.num_rows // 2
    batches = [events.slice(i, 200) for i in range(0, half, 200)]  # in time order: days cut in runs
    batches += [shuffled.slice(i, 300) for i in range(0, shuffled.num_rows, 300)]  # any order
    batches += [events.slice(0, 500)]  # all seen before
    for batch in batches:
        written += appender.append(batch).num_rows
    assert appender.append(events.slice(0, 500)).num_rows == 0
    assert appender.publish() == len(log.days())
    assert written == events.num_rows
    got = pa.Table.from_batches(list(log.scan(ordered=True)))
    want = events.take(pc.sort_indices(events, [("ts", "ascending"), ("event_id", "ascending")]))
    got = got.take(pc.sort_indices(got, [("ts", "ascending"), ("event_id", "ascending")]))
    assert got.equals(want.select(got.column_names).cast(got.schema))
    groups = 0
    for day in log.days():
        (path,) = log.files(day)
        groups += pq.ParquetFile(path).metadata.num_row_groups
        day_events = log.read_day(day, ["ts"]).column("ts")
        assert {d.date().isoformat() for d in day_events.to_pylist()} == {day}
    days = len(log.days())
    if held_rows is None:  # each day fewer rows than a row group: one row group, whatever the batches
        assert groups == days
    else:  # written out every time 700 rows were held: more groups, each a few batches' rows
        assert days < groups <= days * (1 + events.num_rows // held_rows)
    again = log.appender()
    assert again.append(shuffled).num_rows == 0
    assert again.publish() == 0
