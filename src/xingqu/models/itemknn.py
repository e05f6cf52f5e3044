"""Item-kNN: cosine similarity between item columns, the ``neighbors`` most similar kept per item."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from xingqu.models.base import ModelConfig, Recommender

#: Items per block when computing similarities (bounds memory at CHUNK × catalogue floats).
CHUNK = 1024


class ItemKNNConfig(ModelConfig):
    neighbors: int = Field(100, ge=1, description="similar items kept per item")
    shrink: float = Field(10.0, ge=0, description="shrinks similarities backed by few common users")


class ItemKNN(Recommender):
    kind = "itemknn"
    Config = ItemKNNConfig

    def _fit(self, matrix: sp.csr_matrix) -> None:
        x = matrix.tocsc().astype(np.float32)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
        n = x.shape[1]
        k = min(self.config.neighbors, max(n - 1, 1))
        xt = x.T.tocsr()
        rows, cols, vals = [], [], []
        for lo in range(0, n, CHUNK):  # items × items in row blocks: memory stays CHUNK × n
            hi = min(lo + CHUNK, n)
            block = (xt[lo:hi] @ x).toarray()
            block /= np.outer(norms[lo:hi], norms) + self.config.shrink + 1e-9
            block[np.arange(hi - lo), np.arange(lo, hi)] = 0.0
            if k < n:
                top = np.argpartition(-block, k - 1, axis=1)[:, :k]
            else:
                top = np.tile(np.arange(n), (hi - lo, 1))
            v = np.take_along_axis(block, top, axis=1)
            keep = v > 0
            rows.append(np.repeat(np.arange(lo, hi), k)[keep.ravel()])
            cols.append(top[keep])
            vals.append(v[keep])
        sim = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
        )
        # rows hold each item's neighbours; scoring sums over a user's items, so use it transposed
        self.similarity = sim.T.tocsr()

    def neighbours(self, item: int) -> np.ndarray:
        """Similarity of every item to ``item`` (its kept neighbours; zero elsewhere)."""
        return self.similarity[:, item].toarray().ravel()

    def _scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return (history @ self.similarity).toarray()

    def _arrays(self) -> dict[str, np.ndarray]:
        s = self.similarity
        return {"data": s.data, "indices": s.indices, "indptr": s.indptr, "shape": np.array(s.shape)}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.similarity = sp.csr_matrix(
            (arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"])
        )
