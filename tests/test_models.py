"""Models: save → load gives the same recommendations; bad artifacts and bad configs are refused."""

from __future__ import annotations

import importlib.util
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
    "sasrec": {"hidden": 16, "max_len": 10, "epochs": 2},
    "blend": {
        "members": [
            {"kind": "ease", "weight": 1.0},
            {"kind": "content", "weight": 0.5},
            {"kind": "trending", "weight": 0.2},
        ]
    },
}


#: Every registered kind; sasrec only where PyTorch (its optional extra) is installed.
KINDS = sorted(k for k in REGISTRY if k != "sasrec" or importlib.util.find_spec("torch") is not None)


@pytest.mark.parametrize("kind", KINDS)
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


@pytest.mark.parametrize("kind", KINDS)
def test_candidate_scores_equal_the_full_scores_at_the_candidates(kind: str, sample_data: Dataset) -> None:
    model = REGISTRY[kind](**SMALL.get(kind, {})).fit(sample_data)
    rng = np.random.default_rng(3)
    users = np.r_[np.arange(sample_data.n_users), -1]  # and one user the model never saw
    history = sp.vstack([sample_data.matrix, sp.csr_matrix((1, sample_data.n_items))]).tocsr()
    items = rng.integers(0, sample_data.n_items, (len(users), 7))
    full = np.take_along_axis(model.scores(users, history), items, axis=1)
    assert np.allclose(model.candidate_scores(users, history, items), full, atol=1e-5)


def _sequences(seqs: dict[str, list[str]]) -> Dataset:
    """A dataset of users' item sequences in the given order (one second apart)."""
    users, items, times = [], [], []
    for u, seq in seqs.items():
        for t, item in enumerate(seq):
            users.append(u)
            items.append(item)
            times.append(1_000 + t)
    data = Interactions(
        np.array(users, dtype=object),
        np.array(items, dtype=object),
        np.ones(len(users), np.float32),
        np.array(times),
    )
    return Dataset.build(data, binary=True)


def _top(model: Recommender, data: Dataset, user: str, history_items: list[str] | None = None) -> str:
    """The first recommendation for a training user, from their training row or the given items."""
    u = int(data.users.lookup(np.array([user], dtype=object))[0])
    if history_items is None:
        history = data.matrix[[u]]
    else:
        cols = data.items.lookup(np.array(history_items, dtype=object))
        history = sp.csr_matrix(
            (np.ones(len(cols), np.float32), ([0] * len(cols), cols)), shape=(1, data.n_items)
        )
    return str(data.items.ids[model.recommend(np.array([u]), history, 1)[0, 0]])


# many users watched A then B then C, and D then E; two users differ only in the order of A and D
SEQUENCES = {
    **{f"abc{k}": ["A", "B", "C"] for k in range(5)},
    **{f"de{k}": ["D", "E"] for k in range(5)},
    "a_last": ["D", "A"],
    "d_last": ["A", "D"],
    "only_a": ["A"],
}


def test_transitions_recommend_what_follows_the_newest_item() -> None:
    data = _sequences(SEQUENCES)
    model = REGISTRY["transition"](window=1, last=2, half_life=0.5, beta=0.0).fit(data)
    assert _top(model, data, "a_last") == "B"  # A came last: B follows A
    assert _top(model, data, "d_last") == "E"  # the same items, D last: E follows D
    assert _top(model, data, "abc0", ["A", "B"]) == "C"
    # an item in the history the model never saw for this user (an event since training) is the newest
    assert _top(model, data, "only_a", ["A", "D"]) == "E"
    assert _top(model, data, "only_a") == "B"
    rules = model.rules.toarray()
    a, b = data.items.lookup(np.array(["A", "B"], dtype=object))
    assert rules[a, b] > 0 and rules[b, a] == 0  # forward only without ``backward``


def test_recency_weighted_item_knn_follows_the_newest_interest() -> None:
    data = _sequences(SEQUENCES)
    model = REGISTRY["recentknn"](neighbors=10, shrink=0.0, half_life=0.5).fit(data)
    assert _top(model, data, "a_last") in {"B", "C"}  # neighbours of A lead
    assert _top(model, data, "d_last") == "E"  # neighbours of D lead, the same items otherwise
    assert _top(model, data, "only_a", ["A", "D"]) == "E"
    # with a long half-life both items vote almost equally: plain item-kNN's order comes back
    flat = REGISTRY["recentknn"](neighbors=10, shrink=0.0, half_life=1000.0).fit(data)
    plain = REGISTRY["itemknn"](neighbors=10, shrink=0.0).fit(data)
    u = data.users.lookup(np.array(["a_last", "d_last"], dtype=object))
    assert np.array_equal(flat.recommend(u, data.matrix[u], 3), plain.recommend(u, data.matrix[u], 3))
