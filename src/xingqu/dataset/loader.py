"""Training data from the store or from Parquet event logs, streamed in batches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from xingqu.dataset.features import (
    item_features,
    item_features_from_table,
    user_features,
    user_features_from_table,
)
from xingqu.dataset.interactions import EVENT_WEIGHTS, Interactions
from xingqu.dataset.matrix import Dataset, Vocabulary
from xingqu.store import EventLog, Store

BATCH = 500_000


def _weights_of(kinds: pa.Array, weights: dict[str, float]) -> np.ndarray:
    """Weight of each event type; 0 for types without one (impressions, plays…)."""
    names = list(weights)
    idx = pc.fill_null(pc.index_in(kinds, value_set=pa.array(names, pa.string())), -1).to_numpy()
    table = np.array([*(weights[n] for n in names), 0.0], dtype=np.float32)
    return table[idx]  # -1 picks the trailing 0


def _interactions(batches: Iterable[pa.RecordBatch], weights: dict[str, float]) -> Interactions:
    users, items, ws, times = [], [], [], []
    for b in batches:
        w = _weights_of(b.column("event_type"), weights)
        keep = w != 0
        users.append(b.column("user_id").to_numpy(zero_copy_only=False)[keep])
        items.append(b.column("product_id").to_numpy(zero_copy_only=False)[keep])
        ws.append(w[keep])
        times.append(pc.cast(b.column("ts"), pa.int64()).to_numpy()[keep])
    if not users:
        empty = np.zeros(0, dtype=object)
        return Interactions(empty, empty, np.zeros(0, np.float32), np.zeros(0, np.int64))
    return Interactions(
        np.concatenate(users), np.concatenate(items), np.concatenate(ws), np.concatenate(times)
    )


def interactions_from_store(store: Store, weights: dict[str, float] | None = None) -> Interactions:
    """Weighted interactions with products from the store's event log, read in batches."""
    return interactions_from_log(store.events, weights)


def interactions_from_log(log: EventLog, weights: dict[str, float] | None = None) -> Interactions:
    """Weighted interactions with products from an event log (the store's, or any ``EventLog``)."""
    weights = weights or EVENT_WEIGHTS
    kinds = [k for k, w in weights.items() if w != 0]

    def batches() -> Iterable[pa.RecordBatch]:
        columns = ["user_id", "product_id", "event_type", "ts"]
        for b in log.scan(columns, event_types=kinds, batch_rows=BATCH):
            yield b.filter(pc.is_valid(b.column("product_id")))

    return _interactions(batches(), weights)


def interactions_from_parquet(
    paths: Iterable[Path | str], weights: dict[str, float] | None = None
) -> Interactions:
    """Weighted interactions from event Parquet files (as the simulator or ``export`` write them)."""
    weights = weights or EVENT_WEIGHTS

    def batches() -> Iterable[pa.RecordBatch]:
        for path in paths:
            pf = pq.ParquetFile(path)
            for b in pf.iter_batches(BATCH, columns=["user_id", "product_id", "event_type", "ts"]):
                yield b.filter(pc.is_valid(b.column("product_id")))

    return _interactions(batches(), weights)


def interactions_from_table(events: pa.Table, weights: dict[str, float] | None = None) -> Interactions:
    """Weighted interactions from an in-memory canonical event table."""
    events = events.select(["user_id", "product_id", "event_type", "ts"])
    events = events.filter(pc.is_valid(events["product_id"]))
    return _interactions(events.to_batches(BATCH), weights or EVENT_WEIGHTS)


def load_dataset(
    store: Store, weights: dict[str, float] | None = None, half_life_days: float | None = None
) -> Dataset:
    """The store's training view: every user and product in the vocabularies (so that new products
    and new users can be served), the weighted matrix, and the feature tables."""
    with store.reading() as conn:
        users = Vocabulary(np.array(store.catalogue.keys("users", conn).to_pylist(), dtype=object))
        items = Vocabulary(np.array(store.catalogue.keys("products", conn).to_pylist(), dtype=object))
    data = Dataset.build(interactions_from_store(store, weights), users, items, half_life_days=half_life_days)
    return replace(data, item_features=item_features(store, items), user_features=user_features(store, users))


def load_parquet_folder(folder: Path | str, weights: dict[str, float] | None = None) -> Dataset:
    """The same training view from a folder of Parquet files as ``simulate`` or ``export`` write them
    (``users.parquet``, ``products.parquet``, ``events*.parquet``): no store needed, for large logs."""
    folder = Path(folder)
    products = pq.read_table(folder / "products.parquet")
    users_t = pq.read_table(folder / "users.parquet")
    users = Vocabulary(np.array(users_t["user_id"].to_pylist(), dtype=object))
    items = Vocabulary(np.array(products["product_id"].to_pylist(), dtype=object))
    events = sorted(folder.glob("events*.parquet"))
    data = Dataset.build(interactions_from_parquet(events, weights), users, items)
    return replace(
        data,
        item_features=item_features_from_table(products, items),
        user_features=user_features_from_table(users_t, users),
    )
