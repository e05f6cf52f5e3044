"""Recency-weighted item-kNN: item-kNN's cosine neighbours, voted for by a history weighted by how
recent each item is (the newest counts 1, halving every ``half_life`` items back), so the latest
interests lead the list; the session-kNN idea applied to a user's whole sequence."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from xingqu.dataset import Dataset
from xingqu.models.base import item_matrix_scores, transposed_csr
from xingqu.models.itemknn import ItemKNN, ItemKNNConfig
from xingqu.models.recency import recency_ranks, recency_weights, sorted_csr
from xingqu.models.sparse import csr_arrays, csr_from


class RecentKNNConfig(ItemKNNConfig):
    half_life: float = Field(
        5.0, gt=0, description="a history item's vote halves every this many newer items"
    )
    window: int = Field(50, ge=1, description="only this many of the newest items vote")


class RecentItemKNN(ItemKNN):
    kind = "recentknn"
    Config = RecentKNNConfig
    grid = tuple({"neighbors": 200, "shrink": 10.0, "half_life": h, "window": 50} for h in (3.0, 10.0, 30.0))
    phrase = "like what you just viewed"
    blend_rank = 6
    reads_weights = False
    sequential = True

    def _fit_data(self, data: Dataset) -> None:
        super()._fit_data(data)
        self.ranks = recency_ranks(data)

    def votes(self, users: np.ndarray, history: sp.csr_matrix) -> sp.csr_matrix:
        """Each history row as recency weights (see ``models.recency``)."""
        return recency_weights(self.ranks, users, history, self.config.half_life, self.config.window)

    def sparse_scores(self, users: np.ndarray, history: sp.csr_matrix) -> sp.csr_matrix:
        """Item-kNN's sparse scores over the recency-weighted history."""
        return sp.csr_matrix(self.votes(np.asarray(users, dtype=np.int64), history) @ self.similarity)

    def _scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return self.sparse_scores(users, history).toarray()

    def candidate_scores(self, users: np.ndarray, history: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        w = self.votes(users, history)
        return item_matrix_scores(w, self.similarity, items, transposed_csr(self, "similarity"))

    def _arrays(self) -> dict[str, np.ndarray]:
        return {**super()._arrays(), **csr_arrays(self.ranks, "ranks.")}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        super()._load_arrays(arrays)
        self.ranks = sorted_csr(csr_from(arrays, "ranks."))
