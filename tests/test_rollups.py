"""The rollups kept at ingest equal the same figures computed straight from the event log."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from xingqu.ingest import import_path
from xingqu.sim.config import preset
from xingqu.sim.run import simulate
from xingqu.store import Store
from xingqu.store.migrations import LATEST_VERSION
from xingqu.store.rollups import _grouped_small, rebuild
from xingqu.store.schema import (
    buyer_days_table,
    daily_counts_table,
    daily_totals_table,
    live_viewers_table,
    meta_table,
    order_days_table,
    order_facts_table,
)

ROLLUPS = (
    order_facts_table,
    daily_counts_table,
    daily_totals_table,
    live_viewers_table,
    order_days_table,
    buyer_days_table,
)

#: The rollups written straight in SQL over the whole log: an independent statement of their meaning.
DIRECT_TOTALS = """
SELECT (e.ts + 28800000) / 86400000 AS day, coalesce(e.surface, '') AS surface,
       CASE WHEN c.kind IN ('shop_official', 'shop_channel') THEN 'self'
            WHEN e.creator_id IS NOT NULL THEN 'creator' ELSE 'other' END AS channel,
       e.event_type, count(*) AS n
FROM events e LEFT JOIN creators c ON c.creator_id = e.creator_id
GROUP BY 1, 2, 3, 4
"""
DIRECT_ORDERS = """
SELECT order_id,
       max(CASE WHEN event_type = 'order' THEN amount END),
       sum(CASE WHEN event_type = 'pay' THEN amount ELSE 0 END),
       sum(CASE WHEN event_type = 'refund' THEN amount ELSE 0 END),
       sum(CASE WHEN event_type = 'refund' AND refund_reason IN ('quality', 'not_as_described')
                THEN amount ELSE 0 END),
       min(CASE WHEN event_type = 'pay' THEN ts END),
       min(ts)
FROM events WHERE event_type IN ('order', 'pay', 'refund') AND order_id IS NOT NULL
GROUP BY order_id
"""
DIRECT_ORDER_DAYS = """
SELECT (coalesce(pay_ts, order_ts, first_ts) + 28800000) / 86400000, channel, coalesce(shop_id, ''),
       count(*), sum(CASE WHEN paid > 0 THEN 1 ELSE 0 END), sum(paid), sum(refunded),
       sum(CASE WHEN paid > 0 THEN paid - refunded ELSE 0 END)
FROM order_facts GROUP BY 1, 2, 3
"""
DIRECT_BUYER_DAYS = """
SELECT (coalesce(pay_ts, order_ts, first_ts) + 28800000) / 86400000, channel, user_id, count(*)
FROM order_facts WHERE paid > 0 GROUP BY 1, 2, 3
"""
DIRECT_VIEWERS = """
SELECT content_id, user_id, count(*), sum(coalesce(watch_s, 0)), min(ts)
FROM events WHERE event_type = 'live_enter' GROUP BY content_id, user_id
"""


def _rows(store: Store, sql: str) -> set[tuple[object, ...]]:
    with store.reading() as conn:
        return {
            tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in conn.exec_driver_sql(sql)
        }


def _rollup_rows(store: Store) -> dict[str, set[tuple[object, ...]]]:
    with store.reading() as conn:
        return {t.name: {tuple(r) for r in conn.execute(sa.select(t))} for t in ROLLUPS}


def assert_rollups_match_the_log(store: Store) -> None:
    totals = "SELECT day, surface, channel, event_type, n FROM daily_totals"
    assert _rows(store, totals) == _rows(store, DIRECT_TOTALS)
    per_shop = "SELECT day, surface, channel, event_type, sum(n) FROM daily_counts GROUP BY 1, 2, 3, 4"
    assert _rows(store, per_shop) == _rows(store, DIRECT_TOTALS)
    facts = "SELECT order_id, placed, paid, refunded, quality_refunded, pay_ts, first_ts FROM order_facts"
    assert _rows(store, facts) == _rows(store, DIRECT_ORDERS)
    viewers = "SELECT content_id, user_id, entries, watch_s, first_ts FROM live_viewers"
    assert _rows(store, viewers) == _rows(store, DIRECT_VIEWERS)
    days = (
        "SELECT day, channel, shop_id, orders, paid_orders, paid, refunded, net FROM order_days "
        "WHERE orders <> 0"
    )
    assert _rows(store, days) == _rows(store, DIRECT_ORDER_DAYS)
    buyers = "SELECT day, channel, user_id, paid_orders FROM buyer_days WHERE paid_orders <> 0"
    assert _rows(store, buyers) == _rows(store, DIRECT_BUYER_DAYS)


def test_rollups_follow_imports_and_never_count_a_duplicate(store: Store, tmp_path: Path) -> None:
    simulate(preset("tiny", days=4), tmp_path / "m")
    days = sorted((tmp_path / "m").glob("events-*.parquet"))
    import_path(store, tmp_path / "m", kind=None)
    assert_rollups_match_the_log(store)
    with store.reading() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(order_facts_table)).scalar_one() >= 10
    before = _rollup_rows(store)
    # a file that repeats a day already stored: nothing changes
    import_path(store, days[0])
    assert _rollup_rows(store) == before
    # a file half old, half new: only the new half is counted
    old = pq.read_table(days[1])
    fresh = pa.array([f"again-{v}" for v in old.column("event_id").to_pylist()], old.schema.field(0).type)
    shifted = old.set_column(0, old.schema.field(0), fresh)
    mixed = tmp_path / "events-mixed.parquet"
    pq.write_table(pa.concat_tables([old, shifted]), mixed)
    import_path(store, mixed, kind="events")
    assert _rollup_rows(store) != before
    assert_rollups_match_the_log(store)


def test_rebuild_and_migration_fill_rollups_of_an_older_store(store: Store, tmp_path: Path) -> None:
    simulate(preset("tiny", days=3), tmp_path / "m")
    import_path(store, tmp_path / "m")
    kept = _rollup_rows(store)
    # step the store back to schema 3 (no rollups), as a store written before them would be
    with store.writing() as conn:
        for t in ROLLUPS:
            t.drop(conn)
        conn.execute(sa.update(meta_table).values(value="3"))
    assert store.init() == LATEST_VERSION
    assert _rollup_rows(store) == kept
    # a store of version 6 gets its day rollups from its order facts
    with store.writing() as conn:
        for t in (order_days_table, buyer_days_table):
            t.drop(conn)
        conn.execute(sa.update(meta_table).values(value="6"))
    assert store.init() == LATEST_VERSION
    assert_rollups_match_the_log(store)
    with store.writing() as conn:
        for t in ROLLUPS:
            conn.execute(sa.delete(t))
        assert rebuild(conn, store.dialect, page_rows=500) > 0
    assert_rollups_match_the_log(store)


def test_a_large_import_refreshes_the_planners_statistics(pg_url: str, tmp_path: Path, monkeypatch) -> None:
    import xingqu.ingest.importer as importer

    store = Store(pg_url)
    simulate(preset("tiny", days=2), tmp_path / "m")
    monkeypatch.setattr(importer, "REFRESH_AFTER_EVENTS", 1)  # the tiny market stands for a large one
    import_path(store, tmp_path / "m")
    with store.reading() as conn:
        analysed = dict(
            conn.exec_driver_sql(
                "SELECT relname, last_vacuum IS NOT NULL AND last_analyze IS NOT NULL "
                "FROM pg_stat_user_tables WHERE schemaname = current_schema()"
            ).all()
        )
    assert all(analysed[t] for t in ("order_facts", "order_days", "buyer_days", "daily_counts"))


def _posted(table: pa.Table) -> list[dict[str, object]]:
    """Events as an app posts them: JSON values, times in ISO 8601, absent fields left out."""
    out = []
    for row in table.to_pylist():
        item = {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in row.items() if v is not None}
        out.append(item)
    return out


def test_events_posted_in_small_batches_keep_the_rollups_one_import_keeps(
    store: Store, tmp_path: Path
) -> None:
    """Posted 20 at a time (clicks and views plain, orders with numbers), each batch once and some twice,
    the rollups are those of the log and, on the same backend, those of one import of the same files."""
    from xingqu.ingest.importer import import_items

    simulate(preset("tiny", days=2), tmp_path / "m")
    (tmp_path / "events").mkdir()
    for f in sorted((tmp_path / "m").glob("events-*.parquet")):
        f.rename(tmp_path / "events" / f.name)
    import_path(store, tmp_path / "m")  # the catalogue
    events = pa.concat_tables(pq.read_table(f) for f in sorted((tmp_path / "events").glob("*.parquet")))
    items = _posted(events)
    for lo in range(0, len(items), 20):
        import_items(store, {"events": items[lo : lo + 20]})
        if lo % 200 == 0:  # a retried batch changes nothing
            import_items(store, {"events": items[lo : lo + 20]})
    assert_rollups_match_the_log(store)
    if store.dialect.name == "sqlite":
        whole = Store(f"sqlite:///{tmp_path / 'whole.db'}")
        whole.init()
        import_path(whole, tmp_path / "m")
        import_path(whole, tmp_path / "events")
        assert _rollup_rows(store) == _rollup_rows(whole)
        whole.close()


_texts = st.one_of(st.none(), st.sampled_from(["a", "b", "ab", "", "é", "中", "\U0001f600"]))
_ints = st.one_of(st.none(), st.sampled_from([-5, 0, 3, 7, 2**62, -(2**62)]))


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.tuples(_texts, st.sampled_from([None, 1, 2]), _ints, _texts, _ints), max_size=40),
    fns=st.sampled_from([("sum", "min", "max"), ("min", "max", "sum"), ("max", "min", "min")]),
    two_keys=st.booleans(),
)
def test_a_small_grouping_gives_arrows_rows(
    rows: list[tuple[object, ...]], fns: tuple[str, str, str], two_keys: bool
) -> None:
    """Up to SMALL_GROUP_ROWS rows are grouped in Python: the same schema and rows as Arrow's plan
    (missing keys a group, missing values skipped, a sum beyond 64 bits left to Arrow)."""
    k1, k2, a, b, c = (list(col) for col in zip(*rows, strict=True)) if rows else ([], [], [], [], [])
    table = pa.table(
        {
            "k1": pa.array(k1, pa.string()),
            "k2": pa.array(k2, pa.int32()),
            "a": pa.array(a, pa.int64()),
            "b": pa.array(b, pa.string()),
            "c": pa.array(c, pa.int64()),
        }
    )
    keys = ("k1", "k2") if two_keys else ("k1",)
    aggs = (("a", fns[0]), ("b", fns[1] if fns[1] != "sum" else "min"), ("c", fns[2]))
    want = table.group_by(list(keys), use_threads=False).aggregate(list(aggs))
    want = want.select([*keys, *(f"{n}_{f}" for n, f in aggs)]).rename_columns([*keys, *(n for n, _ in aggs)])
    got = _grouped_small(table, keys, aggs)
    if got is None:  # only where a sum may leave 64 bits: two of ±2**62 summed
        sums = [table.column(n).to_pylist() for n, f in aggs if f == "sum"]
        assert any([abs(v or 0) for v in col].count(2**62) > 1 for col in sums)
        return
    assert got.schema == want.schema
    order = [(name, "ascending") for name in got.column_names]  # merges take rows in any order
    assert got.sort_by(order).to_pylist() == want.sort_by(order).to_pylist()
