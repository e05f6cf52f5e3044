"""Immutable training views: id vocabularies, weighted user×item matrices, temporal splits."""

from xingqu.dataset.interactions import EVENT_WEIGHTS, Interactions, from_store, read_interactions
from xingqu.dataset.matrix import Dataset, Vocabulary
from xingqu.dataset.split import temporal_split

__all__ = [
    "EVENT_WEIGHTS",
    "Dataset",
    "Interactions",
    "Vocabulary",
    "from_store",
    "read_interactions",
    "temporal_split",
]
