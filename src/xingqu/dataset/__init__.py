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
from xingqu.dataset.split import temporal_split

__all__ = [
    "EVENT_WEIGHTS",
    "Dataset",
    "Interactions",
    "Log",
    "Vocabulary",
    "interactions_from_parquet",
    "interactions_from_store",
    "interactions_from_table",
    "load_dataset",
    "load_parquet_folder",
    "read_interactions",
    "temporal_split",
]
