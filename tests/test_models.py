"""Models: save → load gives the same recommendations; bad artifacts and bad configs are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from conftest import SAMPLE
from xingqu.dataset import Dataset, Interactions, load_dataset
from xingqu.errors import StoreError
from xingqu.ingest import import_path
from xingqu.models import EASE, REGISTRY, ModelError, Recommender, Trending
from xingqu.store import Store


@pytest.fixture(scope="module")
def sample_data(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('m') / 's.db'}")
    import_path(store, SAMPLE)
    return load_dataset(store)


SMALL = {
    "als": {"factors": 8, "iterations": 5},
    "bpr": {"factors": 8, "iterations": 20},
    "blend": {
        "members": [
            {"kind": "ease", "weight": 1.0},
            {"kind": "content", "weight": 0.5},
            {"kind": "trending", "weight": 0.2},
        ]
    },
}


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_save_load_round_trip_gives_identical_recommendations(
    kind: str, sample_data: Dataset, tmp_path: Path
) -> None:
    model = REGISTRY[kind](**SMALL.get(kind, {})).fit(sample_data)
    users = np.arange(sample_data.n_users)
    history = sample_data.matrix
    before = model.recommend(users, history, 5)
    model.save(tmp_path / kind)
    loaded = Recommender.load(tmp_path / kind)
    assert type(loaded) is type(model) and loaded.config == model.config
    assert (loaded.recommend(users, history, 5) == before).all()
    assert (loaded.items.ids == sample_data.items.ids).all()
    seen = history.toarray() > 0
    assert not seen[users[:, None], before].any()  # history excluded


def test_artifacts_of_another_kind_version_or_damaged_are_refused(
    sample_data: Dataset, tmp_path: Path
) -> None:
    EASE(reg=10.0).fit(sample_data).save(tmp_path / "m")
    with pytest.raises(StoreError, match="holds a 'ease' model"):
        Trending.load(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    (tmp_path / "m" / "model.json").write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(StoreError, match="version 99"):
        Recommender.load(tmp_path / "m")
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    raw = bytearray((tmp_path / "m" / "arrays.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (tmp_path / "m" / "arrays.npz").write_bytes(bytes(raw))
    with pytest.raises(StoreError, match="damaged"):
        Recommender.load(tmp_path / "m")
    with pytest.raises(StoreError, match="not a saved xingqu model"):
        Recommender.load(tmp_path / "nothing")


def test_ease_refuses_huge_catalogues_and_bad_configs_are_named() -> None:
    n = 30_001
    data = Dataset.build(
        Interactions(
            np.array(["u"], dtype=object),
            np.array(["i0"], dtype=object),
            np.ones(1, np.float32),
            np.zeros(1, np.int64),
        )
    )
    big = Dataset(
        data.users,
        type(data.items)(np.array([f"i{k}" for k in range(n)], dtype=object)),
        sp.csr_matrix((1, n), dtype=np.float32),
    )
    with pytest.raises(ModelError, match="30,001 items is more than the 30,000"):
        EASE().fit(big)
    with pytest.raises(ModelError, match="ease: invalid config"):
        EASE(lamda=3)
    with pytest.raises(ModelError, match="not fitted"):
        EASE().recommend(np.array([0]), sp.csr_matrix((1, 3)), 2)


def test_trending_serves_a_new_user_their_segments_trends(sample_data: Dataset) -> None:
    model = Trending(segment="crowd", segment_weight=1.0).fit(sample_data)
    crowd = sample_data.user_features.crowd
    u_new = (
        int(np.flatnonzero(sample_data.matrix.getnnz(axis=1) == 0)[0])
        if (sample_data.matrix.getnnz(axis=1) == 0).any()
        else 0
    )
    seg = model.segment_names.tolist().index(crowd[u_new])
    expected = np.argsort(-model.segments[seg], kind="stable")[:3]
    got = model.recommend(np.array([u_new]), sp.csr_matrix((1, sample_data.n_items)), 3)[0]
    assert set(got) == set(expected)


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_candidate_scores_equal_the_full_scores_at_the_candidates(kind: str, sample_data: Dataset) -> None:
    model = REGISTRY[kind](**SMALL.get(kind, {})).fit(sample_data)
    rng = np.random.default_rng(3)
    users = np.r_[np.arange(sample_data.n_users), -1]  # and one user the model never saw
    history = sp.vstack([sample_data.matrix, sp.csr_matrix((1, sample_data.n_items))]).tocsr()
    items = rng.integers(0, sample_data.n_items, (len(users), 7))
    full = np.take_along_axis(model.scores(users, history), items, axis=1)
    assert np.allclose(model.candidate_scores(users, history, items), full, atol=1e-5)
