"""Immutable training views: id vocabularies, weighted user×item matrices, temporal splits, features."""

from xingqu.dataset.interactions import EVENT_WEIGHTS, Interactions, read_interactions
from xingqu.dataset.loader import (
    interactions_from_parquet,
    interactions_from_store,
    interactions_from_table,
    load_dataset,
    load_parquet_folder,
)
from xingqu.dataset.matrix import Dataset, Log, Vocabulary
from xingqu.dataset.split import (
    PROTOCOLS,
    last_item_split,
    last_session_split,
    protocol_split,
    session_starts,
    temporal_split,
)

__all__ = [
    "EVENT_WEIGHTS",
    "PROTOCOLS",
    "Dataset",
    "Interactions",
    "Log",
    "Vocabulary",
    "interactions_from_parquet",
    "interactions_from_store",
    "interactions_from_table",
    "last_item_split",
    "last_session_split",
    "load_dataset",
    "load_parquet_folder",
    "protocol_split",
    "read_interactions",
    "session_starts",
    "temporal_split",
]
