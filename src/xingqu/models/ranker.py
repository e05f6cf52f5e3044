"""The learned ranker: LightGBM LambdaRank over candidate features, trained on logged impressions
(groups = one user's impressions of one day; label 0 shown, 1 clicked, 2–4 bought and kept, by net
value). Saved as LightGBM's own text model plus JSON, never pickle."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
from pydantic import Field

from xingqu.errors import StoreError
from xingqu.models import artifacts
from xingqu.models.base import ModelConfig, ModelError
from xingqu.models.forest import SERVING_OPT_LEVEL, CompiledForest

RANKER_FORMAT = "xingqu-ranker"
RANKER_VERSION = 1


class RankerConfig(ModelConfig):
    trees: int = Field(150, ge=1, description="boosting rounds")
    leaves: int = Field(31, ge=2, description="leaves per tree")
    learning_rate: float = Field(0.05, gt=0, le=1)
    min_data_in_leaf: int = Field(50, ge=1)
    feature_fraction: float = Field(0.9, gt=0, le=1)
    eval_at: int = Field(10, ge=1, description="NDCG cut-off LambdaRank optimises")
    seed: int = 0


class Ranker:
    """LambdaRank over named features; ``contributions`` explains single predictions (SHAP values).

    ``predict`` scores with the trees compiled to native code (``xingqu.models.forest``: the same
    numbers, several times faster for the rows of one request), built on its first call; LightGBM scores
    when llvmlite is missing, the model cannot be compiled exactly, ``native`` is off, or while another
    thread is compiling."""

    def __init__(self, config: RankerConfig | None = None) -> None:
        self.config = config or RankerConfig()
        self.features: list[str] = []
        self.booster = None
        self.meta: dict[str, object] = {}
        #: Score with the compiled trees when they can be built (off: always LightGBM).
        self.native = True
        self._forest: CompiledForest | bool | None = None  # None: not built yet; False: not available
        self._building = threading.Lock()

    def fit(self, x: np.ndarray, labels: np.ndarray, groups: np.ndarray, features: list[str]) -> Ranker:
        """Train on rows grouped consecutively (``groups`` = sizes of each query's rows)."""
        import lightgbm as lgb

        if len(x) == 0 or int(labels.max(initial=0)) == 0:
            raise ModelError("ranker: no impression with a click or purchase to learn from")
        c = self.config
        params = {
            "objective": "lambdarank",
            "metric": "ndcg",
            "eval_at": [c.eval_at],
            "num_leaves": c.leaves,
            "learning_rate": c.learning_rate,
            "min_data_in_leaf": c.min_data_in_leaf,
            "feature_fraction": c.feature_fraction,
            "lambdarank_truncation_level": max(c.eval_at * 2, 20),
            "seed": c.seed,
            "deterministic": True,
            "num_threads": 2,
            "verbose": -1,
        }
        data = lgb.Dataset(
            x, labels.astype(np.int32), group=groups, feature_name=list(features), free_raw_data=True
        )
        self.booster = lgb.train(params, data, num_boost_round=c.trees)
        self._forest = None
        self.features = list(features)
        self.meta = {"rows": len(x), "groups": len(groups), "positives": int((labels > 0).sum())}
        return self

    def _fitted(self):
        if self.booster is None:
            raise ModelError("ranker: not fitted")
        return self.booster

    def compiled(self) -> CompiledForest | None:
        """The compiled trees, built on first use; None when ``predict`` scores with LightGBM (and while
        another thread builds them: callers never wait)."""
        if not self.native or self._forest is False:
            return None
        if self._forest is None:
            booster = self._fitted()
            if not self._building.acquire(blocking=False):
                return None
            try:
                if self._forest is None:
                    self._forest = CompiledForest.build(booster) or False
            finally:
                self._building.release()
        return self._forest if isinstance(self._forest, CompiledForest) else None

    def optimise(self) -> None:
        """Compile the trees at the serving level of optimisation (seconds, once; then scoring is
        ~1.6× faster than the quick compile ``predict`` makes on first use): what a server does before
        its first request. Nothing changes where the quick compile is not available."""
        if not self.native or self._forest is False:
            return
        with self._building:
            better = CompiledForest.build(self._fitted(), SERVING_OPT_LEVEL)
            if better is not None:
                self._forest = better

    def predict(self, x: np.ndarray) -> np.ndarray:
        forest = self.compiled()
        if forest is not None and x.ndim == 2 and x.shape[1] == forest.n_features:
            return forest.predict(x).astype(np.float32)
        threads = 1 if len(x) < 5_000 else 2  # a single request stays on one core
        return np.asarray(self._fitted().predict(x, num_threads=threads), dtype=np.float32)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-feature contributions to each row's score (last column: the bias)."""
        return np.asarray(self._fitted().predict(x, pred_contrib=True, num_threads=1))

    def importance(self) -> dict[str, float]:
        gains = self._fitted().feature_importance(importance_type="gain")
        total = float(gains.sum()) or 1.0
        return {f: round(float(g) / total, 4) for f, g in zip(self.features, gains, strict=True)}

    def save(self, folder: Path | str) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        text = self._fitted().model_to_string()
        artifacts.save_text(folder / "ranker.txt", text)
        meta = {
            "format": RANKER_FORMAT,
            "version": RANKER_VERSION,
            "config": self.config.model_dump(),
            "features": self.features,
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
            **self.meta,
        }
        artifacts.save_json(folder / "ranker.json", meta, indent=1)
        return folder

    @classmethod
    def load(cls, folder: Path | str) -> Ranker:
        import lightgbm as lgb

        folder = Path(folder)
        meta = artifacts.read_json(folder / "ranker.json")
        text = artifacts.read_text(folder / "ranker.txt")
        if meta.get("format") != RANKER_FORMAT or meta.get("version") != RANKER_VERSION:
            raise StoreError(f"{folder}: not a ranker this xingqu reads")
        if hashlib.sha256(text.encode()).hexdigest() != meta.get("sha256"):
            raise StoreError(f"{folder}/ranker.txt is damaged (checksum mismatch)")
        with artifacts.reading(folder / "ranker.json"):
            ranker = cls(RankerConfig(**meta["config"]))
            ranker.features = list(meta["features"])
        try:
            ranker.booster = lgb.Booster(model_str=text)
        except lgb.basic.LightGBMError as exc:
            raise artifacts.ArtifactError(f"{folder / 'ranker.txt'}: not a readable model ({exc})") from None
        ranker.meta = {k: meta[k] for k in ("rows", "groups", "positives") if k in meta}
        return ranker
