"""Item-kNN: cosine similarity between item columns, the ``neighbors`` most similar kept per item."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from xingqu.models.base import ModelConfig, Recommender, item_matrix_scores, transposed_csr
from xingqu.models.sparse import csr_arrays, csr_from, top_k_rows


class ItemKNNConfig(ModelConfig):
    neighbors: int = Field(100, ge=1, description="similar items kept per item")
    shrink: float = Field(10.0, ge=0, description="shrinks similarities backed by few common users")


class ItemKNN(Recommender):
    kind = "itemknn"
    Config = ItemKNNConfig
    grid = tuple({"neighbors": k, "shrink": 10.0} for k in (50, 100, 200))
    phrase = "similar to what you viewed"
    blend_rank = 2

    def _fit(self, matrix: sp.csr_matrix) -> None:
        x = matrix.tocsc().astype(np.float32)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
        xt = x.T.tocsr()

        def cosine(lo: int, hi: int) -> sp.csr_matrix:
            b = sp.csr_matrix(xt[lo:hi] @ x)
            rows = np.repeat(np.arange(lo, hi), np.diff(b.indptr))
            b.data /= norms[rows] * norms[b.indices] + self.config.shrink + 1e-9
            return b

        sim = top_k_rows(cosine, x.shape[1], self.config.neighbors)
        # rows hold each item's neighbours; scoring sums over a user's items, so use it transposed
        self.similarity = sim.T.tocsr()

    def neighbours(self, item: int) -> np.ndarray:
        """Similarity of every item to ``item`` (its kept neighbours; zero elsewhere)."""
        return self.similarity[:, item].toarray().ravel()

    def sparse_scores(self, users: np.ndarray, history: sp.csr_matrix) -> sp.csr_matrix:
        """Scores as a sparse product: only the neighbours of a user's items score above zero."""
        return sp.csr_matrix(history @ self.similarity)

    def _scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return self.sparse_scores(users, history).toarray()

    def candidate_scores(self, users: np.ndarray, history: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        h = history
        return item_matrix_scores(h, self.similarity, items, transposed_csr(self, "similarity"))

    def _arrays(self) -> dict[str, np.ndarray]:
        return csr_arrays(self.similarity)

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.similarity = csr_from(arrays)
