"""The ranker's trees compiled to native code: LightGBM's own scores bit for bit (missing values, zeros,
thresholds), or LightGBM itself when they cannot be compiled."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from xingqu.models.forest import OPT_LEVEL, SERVING_OPT_LEVEL, ZERO, CompiledForest, TreeModel, probe_rows
from xingqu.models.ranker import Ranker, RankerConfig


def _ranking_data(
    seed: int = 0, rows: int = 3000, width: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Query groups of 30 rows whose relevance needs several features, some missing or zero."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 10))
    x[rng.random(x.shape) < 0.1] = 0.0
    x[rng.random(rows) < 0.2, 3] = np.nan
    x[:, 5] = np.round(x[:, 5])  # few distinct values: thresholds between them
    relevance = (
        x[:, 0] + 0.5 * np.nan_to_num(x[:, 3], nan=1.0) - 0.3 * x[:, 5] ** 2 + rng.normal(0, 0.5, rows)
    )
    labels = np.digitize(relevance, [0.5, 1.5, 2.5])
    return x, labels, np.full(rows // 30, 30)


def _booster(**params: object) -> lgb.Booster:
    x, labels, groups = _ranking_data()
    base = {"objective": "lambdarank", "num_leaves": 15, "min_data_in_leaf": 20, "verbose": -1, "seed": 0}
    return lgb.train({**base, **params}, lgb.Dataset(x, labels, group=groups), num_boost_round=40)


def _hard_rows(seed: int) -> np.ndarray:
    """Rows of the training distribution with exact zeros, values within 1e-35 of zero and NaNs."""
    x = _ranking_data(seed)[0][:600]
    rng = np.random.default_rng(seed)
    for value in (ZERO, -ZERO, ZERO / 3, -ZERO / 3, 0.0, -0.0, np.nan):
        x[rng.random(x.shape) < 0.03] = value
    return x


@pytest.mark.parametrize(
    ("params", "missing"),
    [({}, {0, 2}), ({"zero_as_missing": True}, {1}), ({"use_missing": False}, {0})],
    ids=["nan-missing", "zero-missing", "no-missing"],
)
def test_compiled_trees_give_lightgbms_doubles(params: dict[str, object], missing: set[int]) -> None:
    booster = _booster(**params)
    model = TreeModel.parse(booster.model_to_string())
    assert len(model.trees) == 40 and model.n_features == 10
    assert {(d >> 2) & 3 for t in model.trees for d in t.decision} == missing  # the case under test
    for opt in (OPT_LEVEL, SERVING_OPT_LEVEL):  # the quick compile and the server's
        compiled = CompiledForest.build(booster, opt)
        assert compiled is not None
        for x in (_hard_rows(1), _hard_rows(2), probe_rows(model, 2000, seed=7)):
            want = booster.predict(x, num_threads=1)
            assert np.array_equal(compiled.predict(x), want)
            assert np.array_equal(
                compiled.predict(x.astype(np.float32)), booster.predict(x.astype(np.float32))
            )
            assert np.array_equal(compiled.predict(x[:1]), want[:1])
    assert compiled.predict(np.zeros((0, 10))).shape == (0,)
    with pytest.raises(ValueError, match="10 features"):
        compiled.predict(np.zeros((3, 9)))


def test_models_it_cannot_compile_exactly_are_left_to_lightgbm() -> None:
    x, labels, groups = _ranking_data()
    binary = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(x, labels > 0), num_boost_round=5)
    assert CompiledForest.build(binary) is None  # a link function over the sum
    cats = np.column_stack([x, (labels * 2 + np.arange(len(x)) % 2) % 7])  # a category that tells
    data = lgb.Dataset(cats, labels, group=groups, categorical_feature=[10])
    categorical = lgb.train({"objective": "lambdarank", "verbose": -1, "min_data_per_group": 5}, data, 10)
    assert any(t.categorical for t in TreeModel.parse(categorical.model_to_string()).trees)
    assert CompiledForest.build(categorical) is None


def test_trees_that_disagree_with_lightgbm_are_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check at build time: compiled trees off by even 1e-12 on a probe row are dropped."""
    booster = _booster()
    real_predict = CompiledForest.predict
    monkeypatch.setattr(CompiledForest, "predict", lambda self, x: real_predict(self, x) + 1e-12)
    assert CompiledForest.build(booster) is None


def _ranker() -> tuple[Ranker, np.ndarray]:
    x, labels, groups = _ranking_data()
    config = RankerConfig(trees=40, leaves=15, min_data_in_leaf=20)
    return Ranker(config).fit(x, labels, groups, [f"f{i}" for i in range(x.shape[1])]), _hard_rows(3)


def test_the_ranker_scores_with_its_compiled_trees_and_keeps_them_through_save_and_load(
    tmp_path: Path,
) -> None:
    ranker, x = _ranker()
    lightgbm = np.asarray(ranker.booster.predict(x, num_threads=1), dtype=np.float32)  # type: ignore[attr-defined]
    assert ranker.compiled() is not None
    assert np.array_equal(ranker.predict(x), lightgbm)
    loaded = Ranker.load(ranker.save(tmp_path / "ranker"))
    assert np.array_equal(loaded.predict(x), lightgbm) and loaded.compiled() is not None
    quick = loaded.compiled()
    loaded.optimise()  # what a server does before its first request: recompiled, same doubles
    assert loaded.compiled() is not quick and np.array_equal(loaded.predict(x), lightgbm)
    loaded.native = False
    assert loaded.compiled() is None and np.array_equal(loaded.predict(x), lightgbm)


def test_without_llvmlite_the_ranker_scores_with_lightgbm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llvmlite.binding", None)  # import fails as if not installed
    ranker, x = _ranker()
    assert ranker.compiled() is None
    lightgbm = np.asarray(ranker.booster.predict(x, num_threads=1), dtype=np.float32)  # type: ignore[attr-defined]
    assert np.array_equal(ranker.predict(x), lightgbm)


def test_threads_scoring_at_once_get_lightgbms_scores() -> None:
    """The first calls race to build the compiled trees: one builds, the others score with LightGBM
    meanwhile; every answer is LightGBM's."""
    ranker, x = _ranker()
    want = np.asarray(ranker.booster.predict(x, num_threads=1), dtype=np.float32)  # type: ignore[attr-defined]
    wrong: list[int] = []

    def score(k: int) -> None:
        for r in range(30):
            lo = (k * 37 + r * 11) % (len(x) - 150)
            if not np.array_equal(ranker.predict(x[lo : lo + 150]), want[lo : lo + 150]):
                wrong.append(lo)

    threads = [threading.Thread(target=score, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == [] and ranker.compiled() is not None
