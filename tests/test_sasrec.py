"""SASRec: learns what follows what from sequences, saves and loads to identical scores, and says which
extra to install when PyTorch is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("torch")

from xingqu.dataset import Dataset, Interactions
from xingqu.models import REGISTRY, ModelError, Recommender

N_ITEMS = 30
SMALL = {"hidden": 32, "max_len": 10, "epochs": 40, "batch": 32, "learning_rate": 0.005, "dropout": 0.1}


def chains(n_users: int = 120, seed: int = 0) -> Dataset:
    """Each user walks a run of consecutive items (i, i+1, i+2, …) from a random start: item i is
    always followed by item i + 1."""
    rng = np.random.default_rng(seed)
    users, items, times = [], [], []
    for u in range(n_users):
        start = int(rng.integers(0, N_ITEMS - 8))
        for t, i in enumerate(range(start, start + int(rng.integers(3, 8)))):
            users.append(f"u{u:03d}")
            items.append(f"i{i:02d}")
            times.append(1_000 * u + t)
    data = Interactions(
        np.array(users, dtype=object),
        np.array(items, dtype=object),
        np.ones(len(users), np.float32),
        np.array(times, dtype=np.int64),
    )
    return Dataset.build(data, binary=True)


@pytest.fixture(scope="module")
def fitted() -> tuple[Recommender, Dataset]:
    data = chains()
    return REGISTRY["sasrec"](**SMALL).fit(data), data


def test_recommends_the_item_that_follows_the_newest_one(fitted: tuple[Recommender, Dataset]) -> None:
    model, data = fitted
    ids = data.items.ids.tolist()
    hits, asked = 0, 0
    for i in range(2, N_ITEMS - 1):
        # a history of i-2, i-1, i seen only now (an unknown user): the newest item is the last in
        # index order, the order the model assumes for items it never saw for the user
        cols = [ids.index(f"i{j:02d}") for j in (i - 2, i - 1, i) if f"i{j:02d}" in ids]
        if f"i{i + 1:02d}" not in ids or len(cols) < 3:
            continue
        history = sp.csr_matrix((np.ones(3, np.float32), ([0, 0, 0], cols)), shape=(1, data.n_items))
        top = model.recommend(np.array([-1]), history, 1)[0, 0]
        asked += 1
        hits += ids[top] == f"i{i + 1:02d}"
    assert asked >= 20 and hits >= 0.8 * asked, f"{hits} of {asked}"


def test_training_users_get_their_next_item(fitted: tuple[Recommender, Dataset]) -> None:
    model, data = fitted
    users = np.arange(data.n_users)
    top = model.recommend(users, data.matrix, 1)[:, 0]
    last = np.array([max(data.matrix[u].indices) for u in users])  # the newest is the highest index
    expected = data.items.ids[np.minimum(last + 1, data.n_items - 1)]
    follows = data.items.ids[top] == expected
    assert follows.mean() >= 0.8


def test_save_load_round_trip_gives_identical_scores(
    fitted: tuple[Recommender, Dataset], tmp_path: Path
) -> None:
    model, data = fitted
    users = np.r_[np.arange(data.n_users), -1]
    history = sp.vstack([data.matrix, data.matrix[[0]]]).tocsr()
    before = model.scores(users, history)
    model.save(tmp_path / "m")
    loaded = Recommender.load(tmp_path / "m")
    assert type(loaded) is type(model) and loaded.config == model.config
    assert np.array_equal(loaded.scores(users, history), before)


def test_fitting_twice_gives_the_same_model() -> None:
    data = chains(n_users=40)
    cfg = {**SMALL, "epochs": 3}
    a = REGISTRY["sasrec"](**cfg).fit(data)
    b = REGISTRY["sasrec"](**cfg).fit(data)
    users = np.arange(data.n_users)
    assert np.array_equal(a.scores(users, data.matrix), b.scores(users, data.matrix))
    c = REGISTRY["sasrec"](**{**cfg, "seed": 1}).fit(data)
    assert not np.array_equal(a.scores(users, data.matrix), c.scores(users, data.matrix))


def test_an_empty_history_scores_zero(fitted: tuple[Recommender, Dataset]) -> None:
    model, data = fitted
    s = model.scores(np.array([-1]), sp.csr_matrix((1, data.n_items), dtype=np.float32))
    assert s.shape == (1, data.n_items) and not s.any()


def test_without_torch_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import xingqu.models

    # as if torch had never been installed: the torch part is not loaded yet and ``import torch`` fails
    monkeypatch.delitem(sys.modules, "xingqu.models._sasrec_net", raising=False)
    monkeypatch.delattr(xingqu.models, "_sasrec_net", raising=False)
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ModelError, match=r"pip install 'xingqu\[seq\]'"):
        REGISTRY["sasrec"](**SMALL).fit(chains(n_users=10))


def test_a_bad_head_count_is_refused() -> None:
    with pytest.raises(ModelError, match="heads"):
        REGISTRY["sasrec"](hidden=30, heads=4).fit(chains(n_users=10))
