"""EASE (Steck 2019): a closed-form item-item model, B = I − P·diag(1/diag(P)), P = (XᵀX + λI)⁻¹."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from xingqu.models.base import ModelConfig, ModelError, Recommender, item_matrix_scores

#: EASE inverts an items × items matrix; above this it is too slow and too large for one machine.
MAX_ITEMS = 30_000


class EASEConfig(ModelConfig):
    reg: float = Field(250.0, gt=0, description="L2 regularisation λ added to the Gram matrix's diagonal")


class EASE(Recommender):
    kind = "ease"
    Config = EASEConfig
    grid = tuple({"reg": r} for r in (100.0, 250.0, 500.0, 1000.0))
    phrase = "like what you engaged with"
    blend_rank = 0
    max_items = MAX_ITEMS

    def _fit(self, matrix: sp.csr_matrix) -> None:
        n = matrix.shape[1]
        if n > MAX_ITEMS:
            raise ModelError(
                f"ease: {n:,} items is more than the {MAX_ITEMS:,} EASE handles (it inverts an items×items "
                "matrix); use item-kNN or ALS for this catalogue"
            )
        g = (matrix.T @ matrix).toarray().astype(np.float64)
        g[np.diag_indices(n)] += self.config.reg
        p = np.linalg.inv(g)
        b = -p / np.diag(p)
        np.fill_diagonal(b, 0.0)
        self.weights = b.astype(np.float32)

    def _scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return np.asarray(history @ self.weights)

    def candidate_scores(self, users: np.ndarray, history: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        h = history
        return item_matrix_scores(h, self.weights, items)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.weights = arrays["weights"]
