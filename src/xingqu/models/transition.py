"""Item-to-item transitions (sequential rules, after Ludewig & Jannach 2018): how often item b follows
item a within ``window`` steps of one user's sequence, each pair weighted 1/steps (and, with
``backward`` > 0, how often b came before a), divided by b's popularity^β and pruned to ``neighbors``
per item. A user's next items are voted for by their newest items, each weighted by position."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from xingqu.dataset import Dataset
from xingqu.models.base import ModelConfig, ModelError, Recommender, item_matrix_scores, transposed_csr
from xingqu.models.recency import recency_ranks, recency_weights, sorted_csr
from xingqu.models.sparse import csr_arrays, csr_from, top_k_rows


class TransitionConfig(ModelConfig):
    window: int = Field(5, ge=1, description="steps ahead in a sequence that count as following")
    backward: float = Field(0.0, ge=0, description="weight of an item coming before rather than after")
    beta: float = Field(0.3, ge=0, description="popularity penalty of the next item")
    neighbors: int = Field(200, ge=1, description="next items kept per item")
    last: int = Field(5, ge=1, description="how many of the user's newest items vote")
    half_life: float = Field(
        1.0, gt=0, description="a voting item's weight halves every this many newer items"
    )


class Transitions(Recommender):
    kind = "transition"
    Config = TransitionConfig
    grid = tuple(
        {"window": w, "backward": b, "beta": 0.3, "last": n, "half_life": h}
        for w, b in ((3, 0.0), (10, 0.5))
        for n, h in ((3, 1.0), (10, 3.0))
    )
    phrase = "often next after what you viewed"
    blend_rank = 7
    reads_weights = False
    sequential = True

    def _fit_data(self, data: Dataset) -> None:
        log = data.log
        if log is None:
            raise ModelError("transition: needs interaction times")
        c = self.config
        keep = log.weights > 0
        order = np.lexsort((np.arange(int(keep.sum())), log.times[keep], log.users[keep]))
        users, items = log.users[keep][order], log.items[keep][order]
        n = data.n_items
        rows, cols, vals = [], [], []
        for d in range(1, c.window + 1):
            same = (users[d:] == users[:-d]) & (items[d:] != items[:-d])
            a, b = items[:-d][same], items[d:][same]
            rows += [a, b] if c.backward else [a]
            cols += [b, a] if c.backward else [b]
            vals += [np.full(len(a), 1.0 / d)] + ([np.full(len(a), c.backward / d)] if c.backward else [])
        counts = (
            sp.csr_matrix(
                (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
                shape=(n, n),
            )
            if rows
            else sp.csr_matrix((n, n), dtype=np.float32)
        )
        counts.sum_duplicates()
        pop = np.bincount(items, minlength=n).astype(np.float32)
        penalty = np.power(np.maximum(pop, 1.0), -c.beta).astype(np.float32)

        def block(lo: int, hi: int) -> sp.csr_matrix:
            b = sp.csr_matrix(counts[lo:hi], copy=True)
            b.data *= penalty[b.indices]
            return b

        self.rules = top_k_rows(block, n, c.neighbors)
        self.ranks = recency_ranks(data)

    def votes(self, users: np.ndarray, history: sp.csr_matrix) -> sp.csr_matrix:
        """The ``last`` newest items of each history row, weighted by position."""
        c = self.config
        return recency_weights(self.ranks, users, history, c.half_life, c.last)

    def sparse_scores(self, users: np.ndarray, history: sp.csr_matrix) -> sp.csr_matrix:
        """Scores as a sparse product: only what followed a user's recent items scores above zero."""
        return sp.csr_matrix(self.votes(np.asarray(users, dtype=np.int64), history) @ self.rules)

    def _scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return self.sparse_scores(users, history).toarray()

    def candidate_scores(self, users: np.ndarray, history: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        return item_matrix_scores(
            self.votes(users, history), self.rules, items, transposed_csr(self, "rules")
        )

    def _arrays(self) -> dict[str, np.ndarray]:
        return {**csr_arrays(self.rules), **csr_arrays(self.ranks, "ranks.")}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.rules = csr_from(arrays)
        self.ranks = sorted_csr(csr_from(arrays, "ranks."))
