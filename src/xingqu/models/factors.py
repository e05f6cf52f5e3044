"""Matrix factorisation through the ``implicit`` package: ALS (Hu, Koren & Volinsky 2008) and BPR."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from threadpoolctl import threadpool_limits

from xingqu.models import rowops
from xingqu.models.base import ModelConfig, Recommender


class ALSConfig(ModelConfig):
    factors: int = Field(64, ge=1, description="embedding size")
    reg: float = Field(0.1, ge=0, description="L2 regularisation")
    alpha: float = Field(2.0, gt=0, description="confidence scaling of observed interactions")
    iterations: int = Field(15, ge=1)
    seed: int = Field(0)


#: Where ALS is solved when not here: (matrix, config) → (user factors, item factors).
ALSSolver = Callable[[sp.csr_matrix, ALSConfig], tuple[np.ndarray, np.ndarray]]
_ALS_SOLVER: ContextVar[ALSSolver | None] = ContextVar("xingqu_als_solver", default=None)


@contextmanager
def solving_als(solver: ALSSolver | None) -> Iterator[None]:
    """Within the block, ALS models fit through ``solver`` (a distributed engine's) when given."""
    token = _ALS_SOLVER.set(solver)
    try:
        yield
    finally:
        _ALS_SOLVER.reset(token)


class BPRConfig(ModelConfig):
    factors: int = Field(64, ge=1)
    learning_rate: float = Field(0.05, gt=0)
    reg: float = Field(0.01, ge=0)
    iterations: int = Field(100, ge=1)
    seed: int = Field(0)


class _Factorised(Recommender):
    """Scores are dot products of user and item factors; unknown users get zeros."""

    reads_weights = False  # the user's factors stand for their history
    user_factors: np.ndarray
    item_factors: np.ndarray

    def _scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        known = users >= 0
        out = np.zeros((len(users), self.item_factors.shape[0]), dtype=np.float32)
        if len(users) <= rowops.MAX_LOOP_ROWS:  # a request's rows one by one: each as it is alone
            for b in np.flatnonzero(known):
                out[b] = self.item_factors @ self.user_factors[users[b]]
            return out
        out[known] = self.user_factors[users[known]] @ self.item_factors.T
        return out

    def candidate_scores(self, users: np.ndarray, history: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        known = np.asarray(users) >= 0
        out = np.zeros(items.shape, dtype=np.float32)
        u = self.user_factors[np.asarray(users)[known]]
        out[known] = np.einsum("bf,bkf->bk", u, self.item_factors[items[known]])
        return out

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors, "item_factors": self.item_factors}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.user_factors, self.item_factors = arrays["user_factors"], arrays["item_factors"]

    def _keep(self, model: object) -> None:
        to_np = getattr(model, "to_cpu", None)
        m = to_np() if to_np is not None and not isinstance(model.user_factors, np.ndarray) else model  # type: ignore[attr-defined]
        self.user_factors = np.asarray(m.user_factors, dtype=np.float32)  # type: ignore[attr-defined]
        self.item_factors = np.asarray(m.item_factors, dtype=np.float32)  # type: ignore[attr-defined]


class ALS(_Factorised):
    kind = "als"
    Config = ALSConfig
    grid = tuple({"factors": 64, "reg": 0.1, "alpha": a} for a in (1.0, 4.0))
    phrase = "people like you chose it"
    blend_rank = 1

    def _fit(self, matrix: sp.csr_matrix) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        c = self.config
        solver = _ALS_SOLVER.get()
        if solver is not None:
            users, items = solver(matrix, c)  # type: ignore[arg-type]
            self.user_factors = np.asarray(users, np.float32)
            self.item_factors = np.asarray(items, np.float32)
            return
        with threadpool_limits(1, "blas"):  # implicit parallelises itself; nested BLAS threads only slow it
            model = AlternatingLeastSquares(
                factors=c.factors,
                regularization=c.reg,
                alpha=c.alpha,
                iterations=c.iterations,
                random_state=c.seed,
                num_threads=0,
            )
            model.fit(matrix, show_progress=False)
        self._keep(model)


class BPR(_Factorised):
    kind = "bpr"
    Config = BPRConfig
    grid = tuple({"factors": 64, "learning_rate": lr} for lr in (0.01, 0.05))
    phrase = "people like you chose it"

    def _fit(self, matrix: sp.csr_matrix) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        c = self.config
        model = BayesianPersonalizedRanking(
            factors=c.factors,
            learning_rate=c.learning_rate,
            regularization=c.reg,
            iterations=c.iterations,
            random_state=c.seed,
            num_threads=0,
        )
        model.fit(matrix, show_progress=False)
        self._keep(model)
