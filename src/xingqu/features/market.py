"""The marketplace as canonical Arrow tables: the one input shape of profile and feature building,
read from a store or handed over by the simulator."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xingqu.dataset import Dataset, Vocabulary, interactions_from_table
from xingqu.dataset.features import item_features_from_table, user_features_from_table
from xingqu.domain.arrow import arrow_schema
from xingqu.domain.vocab import EventType
from xingqu.store import Store

#: The event columns the features read: the rest of the log (event ids, surfaces, watch time, ratings,
#: refund reasons, referrers) stays in the store when a market is loaded from it.
MARKET_EVENT_COLUMNS = (
    "event_type",
    "ts",
    "user_id",
    "product_id",
    "content_id",
    "creator_id",
    "shop_id",
    "order_id",
    "quantity",
    "amount",
    "position",
)


def strings(table: pa.Table, name: str) -> np.ndarray:
    """A string column as an object array, nulls as "". Each distinct value becomes one Python string
    that every row holding it shares (dictionary-encoded per chunk), not one string per row."""
    parts = []
    for chunk in table[name].chunks:
        enc = pc.dictionary_encode(chunk.cast(pa.string()))
        values = np.array([*enc.dictionary.to_pylist(), ""], dtype=object)
        parts.append(values[pc.fill_null(enc.indices, len(enc.dictionary)).to_numpy()])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=object)


def kept_pays(events: pa.Table) -> np.ndarray:
    """Mask of the pay events whose order was not refunded (hash lookups in Arrow, not Python sets)."""
    if events.num_rows == 0:
        return np.zeros(0, bool)
    is_refund = pc.equal(events["event_type"], "refund")
    refunded = pc.unique(pc.drop_null(events["order_id"].filter(is_refund)))
    pay = pc.equal(events["event_type"], "pay")
    taken_back = pc.fill_null(pc.is_in(events["order_id"], value_set=refunded), False)
    return np.asarray(pc.and_(pay, pc.invert(taken_back)), dtype=bool)


def carried_pairs(content: pa.Table, creators: object, items: object) -> tuple[np.ndarray, np.ndarray]:
    """(creator index, item index) of every product carried by every piece of content, through two
    vectorised vocabulary lookups (``creators`` and ``items`` are ``Vocabulary``s); unknown ids dropped."""
    if content.num_rows == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lists = content["product_ids"]
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy()
    owner = np.repeat(creators.lookup(content["creator_id"].to_numpy(zero_copy_only=False)), lengths)  # type: ignore[attr-defined]
    flat = pc.list_flatten(lists).to_numpy(zero_copy_only=False)
    item = items.lookup(flat) if len(flat) else np.zeros(0, np.int64)  # type: ignore[attr-defined]
    ok = (owner >= 0) & (item >= 0)
    return owner[ok], item[ok]


def _in_event_id_order(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> pa.Table:
    """The batches' events (with ``event_id``) in event-id order, without it: reordered one column at a
    time, so that a log of tens of millions of rows is never held twice."""
    events = pa.Table.from_batches(list(batches), schema=schema)
    order = pc.sort_indices(events["event_id"]) if events.num_rows > 1 else None
    columns = {name: events[name] for name in MARKET_EVENT_COLUMNS}
    schema = pa.schema([events.schema.field(name) for name in MARKET_EVENT_COLUMNS])
    del events
    if order is not None:
        for name in columns:
            columns[name] = columns[name].take(order)  # the unordered column is freed here
    return pa.Table.from_pydict(columns, schema=schema)


KINDS = ("products", "users", "shops", "creators", "content", "relations", "brands")


def empty(kind: str) -> pa.Table:
    return arrow_schema(kind).empty_table()


@dataclass
class MarketTables:
    """Catalogue, relations and the event log; a missing kind is an empty table of its schema."""

    products: pa.Table
    users: pa.Table
    events: pa.Table
    shops: pa.Table = field(default_factory=lambda: empty("shops"))
    creators: pa.Table = field(default_factory=lambda: empty("creators"))
    content: pa.Table = field(default_factory=lambda: empty("content"))
    relations: pa.Table = field(default_factory=lambda: empty("relations"))

    @classmethod
    def from_store(cls, store: Store, impressions_since_ms: int | None = None) -> MarketTables:
        """Every kind the pipelines read, from the store (the event log of ``MARKET_EVENT_COLUMNS`` only).
        With ``impressions_since_ms``, impressions before then are not read: they are most of a
        marketplace's log, and a reader that looks at them only over its last days says so here."""

        def table(kind: str) -> pa.Table:
            return pa.Table.from_batches(list(store.iter_records(kind)), schema=arrow_schema(kind))

        schema = arrow_schema("events")
        names = [*MARKET_EVENT_COLUMNS, "event_id"]
        if impressions_since_ms is None:
            batches: Iterable[pa.RecordBatch] = store.events.scan(names)
        else:
            shown = EventType.IMPRESSION.value
            batches = itertools.chain(
                store.events.scan(names, event_types=[k.value for k in EventType if k.value != shown]),
                store.events.scan(names, start_ms=impressions_since_ms, event_types=[shown]),
            )
        # read as the log reads fastest, then put in event-id order here: the same table from any log
        events = _in_event_id_order(batches, pa.schema([schema.field(c) for c in names]))
        return cls(
            products=table("products"),
            users=table("users"),
            events=events,
            shops=table("shops"),
            creators=table("creators"),
            content=table("content"),
            relations=table("relations"),
        )

    @classmethod
    def of(cls, tables: dict[str, pa.Table], events: pa.Table) -> MarketTables:
        """From a dict of kind → table (as the simulator's ``catalog_tables``) and an event table."""
        return cls(
            events=events,
            **{
                k: tables[k]
                for k in ("products", "users", "shops", "creators", "content", "relations")
                if k in tables
            },
        )

    def user_ids(self) -> np.ndarray:
        """Every user id, sorted: the users table's and everyone who appears in the log (unique in Arrow,
        so a log of tens of millions of events never becomes a Python list)."""
        ids = pa.chunked_array(
            [
                *self.users["user_id"].cast(pa.string()).chunks,
                *self.events["user_id"].cast(pa.string()).chunks,
            ],
            pa.string(),
        )
        return np.array(sorted(pc.unique(ids.drop_null()).to_pylist()), dtype=object)

    def events_before(self, ts_ms: int) -> MarketTables:
        """The same market with only the events strictly before ``ts_ms`` (point-in-time features)."""
        keep = pc.less(pc.cast(self.events["ts"], pa.int64()), ts_ms)
        return MarketTables(
            self.products,
            self.users,
            self.events.filter(keep),
            self.shops,
            self.creators,
            self.content,
            self.relations,
        )

    def last_event_ms(self) -> int:
        if self.events.num_rows == 0:
            return 0
        return int(pc.max(pc.cast(self.events["ts"], pa.int64())).as_py())


def market_dataset(market: MarketTables) -> Dataset:
    """The training view of a market held as tables: every user and product in the vocabularies."""
    users = Vocabulary(market.user_ids())
    items = Vocabulary(np.array(sorted(set(market.products["product_id"].to_pylist())), dtype=object))
    data = Dataset.build(interactions_from_table(market.events), users, items)
    return replace(
        data,
        item_features=item_features_from_table(market.products, items),
        user_features=user_features_from_table(market.users, users),
    )
