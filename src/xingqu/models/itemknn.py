"""Item-kNN: cosine similarity between item columns, the ``neighbors`` most similar kept per item."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from xingqu.models.base import ModelConfig, Recommender


class ItemKNNConfig(ModelConfig):
    neighbors: int = Field(100, ge=1, description="similar items kept per item")
    shrink: float = Field(10.0, ge=0, description="shrinks similarities backed by few common users")


class ItemKNN(Recommender):
    kind = "itemknn"
    Config = ItemKNNConfig

    def _fit(self, matrix: sp.csr_matrix) -> None:
        x = matrix.tocsc().astype(np.float32)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
        co = (x.T @ x).toarray() if x.shape[1] <= 20_000 else None
        if co is None:
            raise ValueError("item-kNN is dense up to 20,000 items")  # pragma: no cover
        sim = co / (np.outer(norms, norms) + self.config.shrink + 1e-9)
        np.fill_diagonal(sim, 0.0)
        k = min(self.config.neighbors, sim.shape[0] - 1)
        if k < sim.shape[0] - 1:
            drop = np.argpartition(-sim, k, axis=0)[k:, :]
            np.put_along_axis(sim, drop, 0.0, axis=0)
        self.similarity = sp.csr_matrix(sim.astype(np.float32))

    def _scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return (history @ self.similarity).toarray()

    def _arrays(self) -> dict[str, np.ndarray]:
        s = self.similarity
        return {"data": s.data, "indices": s.indices, "indptr": s.indptr, "shape": np.array(s.shape)}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.similarity = sp.csr_matrix(
            (arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"])
        )
