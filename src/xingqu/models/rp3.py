"""RP3β (Paudel et al. 2017): three-step random walks user → item → user → item on the interaction
graph, with each target item's score divided by its popularity^β, keeping ``neighbors`` per item."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from xingqu.models.base import ModelConfig, Recommender, item_matrix_scores, transposed_csr
from xingqu.models.sparse import csr_arrays, csr_from, top_k_rows


class RP3Config(ModelConfig):
    alpha: float = Field(1.0, gt=0, description="exponent on transition probabilities")
    beta: float = Field(0.5, ge=0, description="popularity penalty of the destination item")
    neighbors: int = Field(200, ge=1)


def _row_normalise(m: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(m.sum(axis=1)).ravel()
    return sp.csr_matrix(sp.diags(1.0 / np.where(sums > 0, sums, 1.0)) @ m)


class RP3Beta(Recommender):
    kind = "rp3beta"
    Config = RP3Config
    grid = tuple({"alpha": a, "beta": b, "neighbors": 200} for a in (0.8, 1.0) for b in (0.3, 0.5, 0.7))
    phrase = "similar to what you viewed"

    def _fit(self, matrix: sp.csr_matrix) -> None:
        x = matrix.copy().astype(np.float32)
        x.data[:] = 1.0
        p_ui = _row_normalise(x)
        p_iu = _row_normalise(x.T.tocsr())
        if self.config.alpha != 1.0:
            p_ui.data **= self.config.alpha
            p_iu.data **= self.config.alpha
        pop = np.asarray(x.sum(axis=0)).ravel()
        penalty = np.power(np.where(pop > 0, pop, 1.0), -self.config.beta).astype(np.float32)

        def walks(lo: int, hi: int) -> sp.csr_matrix:
            b = sp.csr_matrix(p_iu[lo:hi] @ p_ui)
            b.data *= penalty[b.indices]
            return b

        self.weights = top_k_rows(walks, x.shape[1], self.config.neighbors)

    def _scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        h = history.copy()
        h.data[:] = 1.0
        return (h @ self.weights).toarray()

    def candidate_scores(self, users: np.ndarray, history: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        h = history
        if h.nnz:
            h = h.copy()
            h.data[:] = 1.0
        return item_matrix_scores(h, self.weights, items, transposed_csr(self, "weights"))

    def _arrays(self) -> dict[str, np.ndarray]:
        return csr_arrays(self.weights)

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.weights = csr_from(arrays)
