"""Rollups of the event log, kept in step with it at ingest, so reports never scan the events.

Each batch of events written by an import is folded (with pyarrow, on the import's worker thread) into
partial aggregates; at the end of each events file they are merged into the rollup tables inside the
import's transaction, so a rollup changes exactly when its events commit. Rows skipped as duplicates are
never counted: when a batch was only partly new, the partials are recomputed from the rows inserted.

- ``order_days`` / ``buyer_days``: the additive parts of orders' GMV per day (of payment, else placing),
  channel and shop, and paid orders per day, channel and buyer — kept in step with ``order_facts`` by
  taking a batch's orders out before their facts are merged and putting them back after;
- ``order_facts``: one row per order; placed amount and units from its ``order`` event, paid and refunded
  amounts summed over its ``pay`` and ``refund`` events, first times of each; the shop of its product,
  the channel of the account it was sold through and the kind of the content it came from.
- ``daily_counts`` / ``daily_totals``: events per (shop,) local day, surface, channel and type.
- ``live_viewers``: entries and watch time per live session and user.
- ``relations``: follow, fan-group and membership events add the relation they create (stored
  relations are kept as they are).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from xingqu.domain.units import DAY_MS
from xingqu.store.dialects import Add, Dialect, dialect_for
from xingqu.store.keyset import index_in
from xingqu.store.schema import (
    TABLES,
    buyer_days_table,
    daily_counts_table,
    daily_totals_table,
    live_viewers_table,
    order_days_table,
    order_facts_table,
)

#: Marketplace time (UTC+8): the calendar days, weeks and months reports are cut by.
MARKET_UTC_OFFSET_MS = 8 * 3_600_000
QUALITY_REASONS = ("quality", "not_as_described")
#: Accounts that are the shop's own (号店一体 official account, channel accounts): self-broadcast.
SELF_KINDS = ("shop_official", "shop_channel")
CHANNELS = ("self", "creator", "other")
EVENT_COLUMNS = (
    "event_id",
    "event_type",
    "ts",
    "user_id",
    "surface",
    "product_id",
    "content_id",
    "creator_id",
    "shop_id",
    "order_id",
    "quantity",
    "amount",
    "watch_s",
    "refund_reason",
)
_ORDER_KINDS = frozenset({"order", "pay", "refund"})
_OFFSET = pa.scalar(MARKET_UTC_OFFSET_MS, pa.int64())
_DAY = pa.scalar(DAY_MS, pa.int64())
_RELATION_OF = {"follow": "follow", "join_fan_group": "fan_group", "join_membership": "membership"}

_ORDER_AGGS = (
    ("user_id", "min"),
    ("product_id", "min"),
    ("creator_id", "min"),
    ("content_id", "min"),
    ("surface", "min"),
    ("placed", "max"),
    ("paid", "sum"),
    ("refunded", "sum"),
    ("quality_refunded", "sum"),
    ("units", "max"),
    ("order_ts", "min"),
    ("pay_ts", "min"),
    ("first_ts", "min"),
)
_COUNT_KEYS = ("shop_id", "day", "surface", "channel", "event_type")
_VIEWER_AGGS = (("entries", "sum"), ("watch_s", "sum"), ("first_ts", "min"))


def _first(c: str) -> str:
    return f"coalesce({{t}}.{c}, excluded.{c})"


def _least(c: str) -> str:
    """The smaller of the stored and the new value, ignoring NULLs (portable: no LEAST in SQLite)."""
    return (
        f"CASE WHEN excluded.{c} IS NULL OR {{t}}.{c} <= excluded.{c} "
        f"THEN coalesce({{t}}.{c}, excluded.{c}) ELSE excluded.{c} END"
    )


def _greatest(c: str) -> str:
    return (
        f"CASE WHEN excluded.{c} IS NULL OR {{t}}.{c} >= excluded.{c} "
        f"THEN coalesce({{t}}.{c}, excluded.{c}) ELSE excluded.{c} END"
    )


def _add(c: str) -> str:
    return Add(c)  # exact on both backends: an overflow fails the write, never turns REAL


_ORDER_MERGE = {
    **{c: _first(c) for c in ("user_id", "product_id", "shop_id", "creator_id", "content_id", "surface")},
    "content_kind": "CASE WHEN {t}.content_id IS NULL THEN excluded.content_kind ELSE {t}.content_kind END",
    "channel": "CASE WHEN {t}.creator_id IS NULL THEN excluded.channel ELSE {t}.channel END",
    "placed": _greatest("placed"),
    **{c: _add(c) for c in ("paid", "refunded", "quality_refunded")},
    "units": _first("units"),
    **{c: _least(c) for c in ("order_ts", "pay_ts", "first_ts")},
}
_COUNT_MERGE = {"n": _add("n")}
_VIEWER_MERGE = {"entries": _add("entries"), "watch_s": _add("watch_s"), "first_ts": _least("first_ts")}


def day_number(ts_ms: Any) -> Any:
    """The marketplace day (days since 1970-01-01, UTC+8) of UTC times: an int, a numpy array or SQL."""
    return (ts_ms + MARKET_UTC_OFFSET_MS) // DAY_MS


def period_start(day: Any, period: str) -> Any:
    """The first day of the day's period: itself, its Monday, or the 1st of its month, for SQL
    expressions and numpy arrays of day numbers alike.

    Integer arithmetic only (the civil-from-days algorithm for months), so SQLite, PostgreSQL and numpy
    agree.
    """
    if period == "day":
        return day
    if period == "week":
        return day - (day + 3) % 7  # 1970-01-01 was a Thursday
    if period != "month":
        raise ValueError(f"unknown period {period!r}; use day, week or month")
    z = day + 719_468
    doe = z - (z // 146_097) * 146_097  # day of the 400-year era
    yoe = (doe - doe // 1_460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)  # day of the March-based year
    mp = (5 * doy + 2) // 153
    return day - doy + (153 * mp + 2) // 5


def order_placed() -> sa.ColumnElement[int]:
    """When an order was placed: its order event, else its first event."""
    o = order_facts_table
    return sa.func.coalesce(o.c.order_ts, o.c.first_ts)


def order_day() -> sa.ColumnElement[int]:
    """An order's marketplace day: of its payment, else of its placing (else of its first event)."""
    o = order_facts_table
    return day_number(sa.func.coalesce(o.c.pay_ts, o.c.order_ts, o.c.first_ts))


def _order_days(sign: int, batch: sa.Table | None) -> sa.Select[Any]:
    """Orders' contributions to ``order_days`` (negated with ``sign`` -1), of all orders or of a batch's."""
    o = order_facts_table
    paid = o.c.paid > 0
    day, shop = order_day(), sa.func.coalesce(o.c.shop_id, "")
    count = lambda cond, value=1: sign * sa.func.sum(sa.case((cond, value), else_=0))  # noqa: E731
    src = o if batch is None else o.join(batch, batch.c.order_id == o.c.order_id)
    return (
        sa.select(
            day,
            o.c.channel,
            shop,
            sign * sa.func.count(),
            count(paid),
            count(paid, sa.func.coalesce(o.c.units, 1)),
            sign * sa.func.sum(sa.func.coalesce(o.c.placed, 0)),
            sign * sa.func.sum(o.c.paid),
            sign * sa.func.sum(o.c.refunded),
            count(paid, o.c.paid - o.c.refunded),
            count(sa.and_(paid, o.c.refunded > 0)),
            count(sa.and_(paid, o.c.quality_refunded > 0)),
        )
        .select_from(src)
        .where(sa.true())  # SQLite reads ON after a join's SELECT as the join's: a WHERE disambiguates
        .group_by(day, o.c.channel, shop)
    )


def _buyer_days(sign: int, batch: sa.Table | None) -> sa.Select[Any]:
    o = order_facts_table
    day = order_day()
    src = o if batch is None else o.join(batch, batch.c.order_id == o.c.order_id)
    return (
        sa.select(day, o.c.channel, o.c.user_id, sign * sa.func.count())
        .select_from(src)
        .where(o.c.paid > 0, o.c.user_id.is_not(None))
        .group_by(day, o.c.channel, o.c.user_id)
    )


_ORDER_DAYS_ADD = {
    c.name: _add(c.name) for c in order_days_table.columns if c.name not in ("day", "channel", "shop_id")
}
_BUYER_DAYS_ADD = {"paid_orders": _add("paid_orders")}
_BATCH = sa.Table(
    "_xingqu_batch_orders", sa.MetaData(), sa.Column("order_id", sa.String(128), primary_key=True)
)


def add_order_days(conn: Connection, dialect: Dialect, sign: int, batch: sa.Table | None) -> None:
    """Add (``sign`` 1) or take away (-1) orders' contributions to the day rollups (the statements of
    an import's batch table, always the same, are compiled once)."""
    staged = batch is _BATCH
    days, buyers = _order_days(sign, batch), _buyer_days(sign, batch)
    dialect.merge_select(
        conn, order_days_table, days, _ORDER_DAYS_ADD, ("order_days", sign) if staged else None
    )
    dialect.merge_select(
        conn, buyer_days_table, buyers, _BUYER_DAYS_ADD, ("buyer_days", sign) if staged else None
    )


def _lookup(keys: pa.Array | pa.ChunkedArray, ids: pa.Array, values: pa.Array) -> pa.Array:
    """``values`` at the position of each key in ``ids`` (null where absent)."""
    if keys.null_count == len(keys):  # nothing named (most events name no account, no content)
        return pa.nulls(len(keys), values.type)
    return pc.take(values, index_in(keys, ids))


def _table(
    conn: Connection,
    key: sa.Column[Any],
    value: sa.Column[Any],
    among: pa.Array | None = None,
    dialect: Dialect | None = None,
) -> tuple[pa.Array, pa.Array]:
    """(key, value) pairs of a catalogue table, read through the driver: all of them, or those of the
    keys ``among``."""
    dialect = dialect or dialect_for(conn.engine)
    table = key.table.name  # type: ignore[attr-defined]
    if among is None:
        keys, values = dialect.column_values(conn, table, key.name, value.name)
        return keys, values
    wanted = [v for v in dict.fromkeys(among.to_pylist()) if v is not None]
    rows = dialect.rows_among(conn, table, key.name, (key.name, value.name), wanted)
    return pa.array([r[0] for r in rows], pa.string()), pa.array([r[1] for r in rows], pa.string())


@dataclass(frozen=True)
class Lookups:
    """The catalogue facts rollups attach to events: product → shop, account → kind, content → kind."""

    product_ids: pa.Array
    product_shops: pa.Array
    creator_ids: pa.Array
    creator_kinds: pa.Array
    content_ids: pa.Array
    content_kinds: pa.Array

    @classmethod
    def load(
        cls, conn: Connection, events: pa.Table | None = None, dialect: Dialect | None = None
    ) -> Lookups:
        """Read inside ``conn``'s transaction, so catalogue rows written earlier in it are seen: the
        whole catalogue, or only what ``events`` (canonical rows) name — a small batch's few rows,
        looked up through the driver of ``dialect`` (by default the connection's)."""
        p, c, k = TABLES["products"], TABLES["creators"], TABLES["content"]
        if events is not None and dialect is None:
            dialect = dialect_for(conn.engine)

        def named(column: str) -> pa.Array | None:
            return None if events is None else events.column(column).combine_chunks()

        return cls(
            *_table(conn, p.c.product_id, p.c.shop_id, named("product_id"), dialect),
            *_table(conn, c.c.creator_id, c.c.kind, named("creator_id"), dialect),
            *_table(conn, k.c.content_id, k.c.kind, named("content_id"), dialect),
        )

    def channel(self, creator_ids: pa.Array | pa.ChunkedArray) -> pa.Array:
        """self (the shop's own account), creator (an affiliate), other (no account)."""
        if creator_ids.null_count == len(creator_ids):
            return pa.array(["other"] * len(creator_ids), pa.string())
        kinds = _lookup(creator_ids, self.creator_ids, self.creator_kinds)
        is_self = pc.fill_null(pc.is_in(kinds, value_set=pa.array(SELF_KINDS)), False)
        return pc.if_else(is_self, "self", pc.if_else(pc.is_valid(creator_ids), "creator", "other"))


@dataclass
class Partial:
    """One batch's contribution to each rollup (every table keyed, keys unique)."""

    counts: pa.Table
    orders: pa.Table
    viewers: pa.Table
    relations: pa.Table


def _group(table: pa.Table, keys: tuple[str, ...], aggs: tuple[tuple[str, str], ...]) -> pa.Table:
    if table.num_rows == 0:  # the grouping of no rows, of this schema, once
        return _empty(("group", table.schema, keys, aggs), lambda: _grouped(table, keys, aggs))
    return _grouped(table, keys, aggs)


def _regroup(tables: list[pa.Table], keys: tuple[str, ...], aggs: tuple[tuple[str, str], ...]) -> pa.Table:
    """Partial rollups of several batches grouped again; one batch's, already keyed, as they are."""
    if len(tables) == 1:
        return tables[0]
    return _group(pa.concat_tables(tables), keys, aggs)


#: Results of no rows by what made them: a small batch's rollups mostly lack orders, viewers, relations.
_EMPTY: dict[Hashable, pa.Table] = {}


def _empty(key: Hashable, make: Callable[[], pa.Table]) -> pa.Table:
    out = _EMPTY.get(key)
    if out is None:
        out = _EMPTY[key] = make()
    return out


#: Rows up to which a grouping of whole numbers and text runs in Python (cheaper than a query plan).
SMALL_GROUP_ROWS = 256
_INT64 = (-(2**63), 2**63 - 1)


def _grouped(table: pa.Table, keys: tuple[str, ...], aggs: tuple[tuple[str, str], ...]) -> pa.Table:
    if table.num_rows <= SMALL_GROUP_ROWS:
        small = _grouped_small(table, keys, aggs)
        if small is not None:
            return small
    out = table.group_by(list(keys), use_threads=False).aggregate(list(aggs))
    return out.select([*keys, *(f"{c}_{fn}" for c, fn in aggs)]).rename_columns(
        [*keys, *(c for c, _ in aggs)]
    )


def _grouped_small(
    table: pa.Table, keys: tuple[str, ...], aggs: tuple[tuple[str, str], ...]
) -> pa.Table | None:
    """``_grouped`` by Python dicts, with Arrow's rows (in an order of their own, which no merge depends
    on): a missing key is a key, sums and extremes of present values (none present: missing), sums of
    64-bit integers, extremes of text by code point (UTF-8's byte order). None where that cannot be
    assured: a column that is neither signed integers nor text, a function other than sum, min and max,
    a sum beyond 64 bits."""
    schema = table.schema
    for name, fn in aggs:
        t = schema.field(name).type
        if fn not in ("sum", "min", "max") or not (pa.types.is_signed_integer(t) or pa.types.is_string(t)):
            return None
        if fn == "sum" and not pa.types.is_signed_integer(t):
            return None
    key_rows = zip(*(table.column(k).to_pylist() for k in keys), strict=True)
    values = [table.column(name).to_pylist() for name, _ in aggs]
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for i, key in enumerate(key_rows):
        acc = groups.get(key)
        if acc is None:
            groups[key] = [col[i] for col in values]
            continue
        for j, (_, fn) in enumerate(aggs):
            v = values[j][i]
            if v is None:
                continue
            old = acc[j]
            if old is None:
                acc[j] = v
            elif fn == "sum":
                acc[j] = old + v
            elif (v < old) if fn == "min" else (v > old):
                acc[j] = v
    for j, (_, fn) in enumerate(aggs):
        if fn == "sum" and any(
            a[j] is not None and not _INT64[0] <= a[j] <= _INT64[1] for a in groups.values()
        ):
            return None
    columns = list(zip(*groups, strict=True)) if groups else [() for _ in keys]
    totals = list(zip(*groups.values(), strict=True)) if groups else [() for _ in aggs]
    arrays = [pa.array(c, schema.field(k).type) for k, c in zip(keys, columns, strict=True)]
    for (name, fn), c in zip(aggs, totals, strict=True):
        arrays.append(pa.array(c, pa.int64() if fn == "sum" else schema.field(name).type))
    return pa.Table.from_arrays(arrays, names=[*keys, *(name for name, _ in aggs)])


def _when(mask: pa.Array, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pc.if_else(mask, values, pa.scalar(None, values.type))


def _blank(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pc.fill_null(values, "")


@dataclass
class RollupBuilder:
    """Folds batches of stored events into partial rollups, then merges them into the store."""

    lookups: Lookups
    parts: list[Partial] = field(default_factory=list)

    def partial(self, events: pa.Table) -> Partial:
        """A batch's partial rollups (pure: safe on a worker thread). ``events`` in storage form."""
        kind = events.column("event_type")
        ts = events.column("ts")
        day = pc.divide(pc.add(ts, _OFFSET), _DAY).cast(pa.int32())
        shop = pc.coalesce(
            _lookup(events.column("product_id"), self.lookups.product_ids, self.lookups.product_shops),
            events.column("shop_id"),
            pa.scalar("", pa.string()),
        )
        counted = pa.table(
            {
                "shop_id": shop,
                "day": day,
                "surface": _blank(events.column("surface")),
                "channel": self.lookups.channel(events.column("creator_id")),
                "event_type": kind,
                "n": pa.array(np.ones(events.num_rows, dtype=np.int64)),
            }
        )
        counts = _group(counted, _COUNT_KEYS, (("n", "sum"),))
        if events.num_rows <= SMALL_GROUP_ROWS:  # kinds a small batch lacks fold to nothing at once
            present = set(kind.to_pylist())
            return Partial(
                counts,
                self._orders(events) if present & _ORDER_KINDS else self._none("orders", events),
                self._viewers(events) if "live_enter" in present else self._none("viewers", events),
                self._relations(events) if present & _RELATION_OF.keys() else self._none("relations", events),
            )
        return Partial(counts, self._orders(events), self._viewers(events), self._relations(events))

    def _none(self, name: str, events: pa.Table) -> pa.Table:
        """The fold of no events into ``name`` (orders, viewers, relations), of this schema, once."""
        fold = {"orders": self._fold_orders, "viewers": self._fold_viewers, "relations": self._fold_relations}
        return _empty((name, events.schema), lambda: fold[name](events.slice(0, 0)))

    def _orders(self, events: pa.Table) -> pa.Table:
        mask = pc.and_(
            pc.is_in(events.column("event_type"), value_set=pa.array(("order", "pay", "refund"))),
            pc.is_valid(events.column("order_id")),
        )
        e = events.filter(mask)
        if not e.num_rows:
            return self._none("orders", e)
        return self._fold_orders(e)

    def _fold_orders(self, e: pa.Table) -> pa.Table:
        kind, amount, ts = e.column("event_type"), e.column("amount"), e.column("ts")
        is_order, is_pay = pc.equal(kind, "order"), pc.equal(kind, "pay")
        is_refund = pc.equal(kind, "refund")
        quality = pc.and_(
            is_refund, pc.fill_null(pc.is_in(e.column("refund_reason"), pa.array(QUALITY_REASONS)), False)
        )
        folded = pa.table(
            {
                "order_id": e.column("order_id"),
                "user_id": e.column("user_id"),
                "product_id": e.column("product_id"),
                "creator_id": e.column("creator_id"),
                "content_id": e.column("content_id"),
                "surface": _when(is_order, e.column("surface")),
                "placed": _when(is_order, amount),
                "paid": pc.if_else(is_pay, amount, 0),
                "refunded": pc.if_else(is_refund, amount, 0),
                "quality_refunded": pc.if_else(quality, amount, 0),
                "units": _when(is_order, pc.cast(e.column("quantity"), pa.int64())),
                "order_ts": _when(is_order, ts),
                "pay_ts": _when(is_pay, ts),
                "first_ts": ts,
            }
        )
        return _group(folded, ("order_id",), _ORDER_AGGS)

    def _viewers(self, events: pa.Table) -> pa.Table:
        e = events.filter(pc.equal(events.column("event_type"), "live_enter"))
        if not e.num_rows:
            return self._none("viewers", e)
        return self._fold_viewers(e)

    def _fold_viewers(self, e: pa.Table) -> pa.Table:
        rows = pa.table(
            {
                "content_id": e.column("content_id"),
                "user_id": e.column("user_id"),
                "entries": pa.array(np.ones(e.num_rows, dtype=np.int64)),
                "watch_s": pc.fill_null(pc.cast(e.column("watch_s"), pa.float64()), 0.0),
                "first_ts": e.column("ts"),
            }
        )
        return _group(rows, ("content_id", "user_id"), _VIEWER_AGGS)

    def _relations(self, events: pa.Table) -> pa.Table:
        kind = events.column("event_type")
        e = events.filter(pc.is_in(kind, value_set=pa.array(tuple(_RELATION_OF))))
        if not e.num_rows:
            return self._none("relations", e)
        return self._fold_relations(e)

    def _fold_relations(self, e: pa.Table) -> pa.Table:
        kind = e.column("event_type")
        target = pc.if_else(pc.equal(kind, "join_membership"), e.column("shop_id"), e.column("creator_id"))
        rows = pa.table(
            {
                "user_id": e.column("user_id"),
                "kind": _lookup(kind, pa.array(tuple(_RELATION_OF)), pa.array(tuple(_RELATION_OF.values()))),
                "target_id": target,
                "since": e.column("ts"),
            }
        ).filter(pc.is_valid(target))
        return _group(rows, ("user_id", "kind", "target_id"), (("since", "min"),))

    def add(self, part: Partial) -> None:
        self.parts.append(part)

    def taken(self) -> RollupBuilder:
        """A builder of the partials added so far, which this one forgets (to be merged elsewhere)."""
        out = RollupBuilder(self.lookups, self.parts)
        self.parts = []
        return out

    def flush(self, conn: Connection, dialect: Dialect) -> None:
        """Merge every partial added so far into the rollup tables, inside ``conn``'s transaction."""
        if not self.parts:
            return
        parts, self.parts = self.parts, []
        counts = _regroup([p.counts for p in parts], _COUNT_KEYS, (("n", "sum"),))
        totals = _group(counts, _COUNT_KEYS[1:], (("n", "sum"),))
        orders = _regroup([p.orders for p in parts], ("order_id",), _ORDER_AGGS)
        viewers = _regroup([p.viewers for p in parts], ("content_id", "user_id"), _VIEWER_AGGS)
        relations = _regroup(
            [p.relations for p in parts], ("user_id", "kind", "target_id"), (("since", "min"),)
        )
        # the day rollups follow the order facts: take the batch's orders out as they were, merge, put
        # them back in as they are now (an order moves to the day of its payment when that comes)
        if orders.num_rows:  # a batch of clicks and views leaves the order rollups as they are
            dialect.stage_keys(conn, _BATCH.name, orders.column("order_id"))
            add_order_days(conn, dialect, -1, _BATCH)
            dialect.merge(conn, order_facts_table, self._order_facts(orders), _ORDER_MERGE)
            add_order_days(conn, dialect, 1, _BATCH)
        dialect.merge(conn, daily_counts_table, counts, _COUNT_MERGE)
        dialect.merge(conn, daily_totals_table, totals, _COUNT_MERGE)
        dialect.merge(conn, live_viewers_table, viewers, _VIEWER_MERGE)
        if relations.num_rows:
            level = pa.array(np.zeros(relations.num_rows, dtype=np.int64))
            dialect.merge(conn, TABLES["relations"], relations.append_column("level", level), {})

    def _order_facts(self, orders: pa.Table) -> pa.Table:
        """Orders' folded rollups as ``order_facts`` rows: with the shop of the product, the channel of
        the account and the kind of the content, amounts never missing."""
        lk = self.lookups
        orders = orders.append_column(
            "shop_id", _lookup(orders.column("product_id"), lk.product_ids, lk.product_shops)
        )
        orders = orders.append_column("channel", lk.channel(orders.column("creator_id")))
        orders = orders.append_column(
            "content_kind", _lookup(orders.column("content_id"), lk.content_ids, lk.content_kinds)
        )
        for name in ("paid", "refunded", "quality_refunded"):
            i = orders.schema.get_field_index(name)
            orders = orders.set_column(i, name, pc.fill_null(orders.column(name), 0))
        return orders


def rebuild(conn: Connection, dialect: Dialect, page_rows: int = 200_000) -> int:
    """Fold every stored event into empty rollup tables (stores from before rollups existed).

    Returns the events read. Pages through the log by key, so memory stays bounded.
    """
    e = TABLES["events"]
    builder = RollupBuilder(Lookups.load(conn))
    cols = [e.c[c] for c in EVENT_COLUMNS]
    last: str | None = None
    seen = 0
    while True:
        q = sa.select(*cols).order_by(e.c.event_id).limit(page_rows)
        if last is not None:
            q = q.where(e.c.event_id > last)
        rows = conn.execute(q).all()
        if not rows:
            break
        columns = list(zip(*rows, strict=True))
        batch = pa.table(
            {
                name: pa.array(values, _STORAGE_TYPES.get(name, pa.string()))
                for name, values in zip(EVENT_COLUMNS, columns, strict=True)
            }
        )
        builder.add(builder.partial(batch))
        builder.flush(conn, dialect)
        seen += len(rows)
        last = rows[-1][0]
    return seen


_STORAGE_TYPES = {
    "ts": pa.int64(),
    "quantity": pa.int64(),
    "amount": pa.int64(),
    "watch_s": pa.float64(),
}
