"""RP3β (Paudel et al. 2017): three-step random walks user → item → user → item on the interaction
graph, with each target item's score divided by its popularity^β, keeping ``neighbors`` per item."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from xingqu.models.base import ModelConfig, Recommender
from xingqu.models.itemknn import CHUNK


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

    def _fit(self, matrix: sp.csr_matrix) -> None:
        x = matrix.copy().astype(np.float32)
        x.data[:] = 1.0
        p_ui = _row_normalise(x)
        p_iu = _row_normalise(x.T.tocsr())
        if self.config.alpha != 1.0:
            p_ui.data **= self.config.alpha
            p_iu.data **= self.config.alpha
        n = x.shape[1]
        pop = np.asarray(x.sum(axis=0)).ravel()
        penalty = np.power(np.where(pop > 0, pop, 1.0), -self.config.beta).astype(np.float32)
        k = min(self.config.neighbors, max(n - 1, 1))
        rows, cols, vals = [], [], []
        for lo in range(0, n, CHUNK):
            hi = min(lo + CHUNK, n)
            block = (p_iu[lo:hi] @ p_ui).toarray() * penalty[None, :]
            block[np.arange(hi - lo), np.arange(lo, hi)] = 0.0
            top = (
                np.argpartition(-block, k - 1, axis=1)[:, :k]
                if k < n
                else np.tile(np.arange(n), (hi - lo, 1))
            )
            v = np.take_along_axis(block, top, axis=1)
            keep = v > 0
            rows.append(np.repeat(np.arange(lo, hi), top.shape[1])[keep.ravel()])
            cols.append(top[keep])
            vals.append(v[keep])
        self.weights = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
        )

    def _scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        h = history.copy()
        h.data[:] = 1.0
        return (h @ self.weights).toarray()

    def _arrays(self) -> dict[str, np.ndarray]:
        w = self.weights
        return {"data": w.data, "indices": w.indices, "indptr": w.indptr, "shape": np.array(w.shape)}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.weights = sp.csr_matrix(
            (arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"])
        )
