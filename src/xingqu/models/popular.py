"""Most popular: items by how many users interacted with them (the same list for everyone)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from xingqu.models.base import ModelConfig, Recommender


class PopularConfig(ModelConfig):
    pass


class MostPopular(Recommender):
    kind = "popular"
    Config = PopularConfig
    personal = False
    grid = ({},)
    phrase = "a best-seller"
    blend_rank = 3
    reads_weights = False

    def _fit(self, matrix: sp.csr_matrix) -> None:
        self.popularity = np.diff(matrix.tocsc().indptr).astype(np.float32)

    def _scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self.popularity, (len(users), len(self.popularity)))

    def candidate_scores(self, users: np.ndarray, history: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        return self.popularity[items].astype(np.float32)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.popularity = arrays["popularity"]
