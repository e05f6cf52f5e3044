"""Side-by-side evaluation with every model tuned on a validation split carved from training data.

Protocol: a per-user hold-out by time (``xingqu.dataset.protocol_split``: each user's last 20 %, last
interaction or last session) makes train/test; the same protocol applied to train makes
train-inner/validation. Vocabularies come from the training side only, so nothing of the held-out
side shapes a model; held-out items never seen in training cannot be recommended and are not
counted. Each model's candidate configs are fitted on train-inner and scored on validation (NDCG@10,
then Recall@20); the blend's weights are searched the same way. The chosen configs are refitted on
all of train and measured once on test. Test is never used to choose anything.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp

from xingqu.dataset import Dataset, Interactions, protocol_split
from xingqu.errors import UserError
from xingqu.evaluation.metrics import ranking_metrics
from xingqu.models import REGISTRY, Blend, Recommender, top_n
from xingqu.models.blend import standardise

LIST_LENGTH = 100
#: Tuning compares NDCG@10 and Recall@20, which need only the first 20 of each list.
TUNING_LENGTH = 20

#: The peers shown beside the blend: every retriever that needs no product attributes.
DEFAULT_MODELS = ("popular", "itemknn", "rp3beta", "ease", "als", "recentknn", "transition", "blend")
BLEND_STEPS = (0.0, 0.1, 0.25, 0.5, 1.0)
#: Memory the blend's tuning may hold in member scores (validation users are drawn to fit).
BLEND_TUNING_BYTES = 3 * 2**30
#: Candidate recency half-lives (in interactions) of the histories the blend scores from.
HISTORY_HALF_LIVES: tuple[float | None, ...] = (None, 10.0, 25.0, 50.0)


@dataclass
class ModelResult:
    name: str
    config: dict[str, Any]
    metrics: dict[str, float]
    seconds: float


@dataclass
class EvaluationReport:
    results: dict[str, ModelResult] = field(default_factory=dict)
    n_train: int = 0
    n_test: int = 0
    protocol: str = "temporal"
    seconds: float = 0.0
    models: dict[str, Recommender] = field(default_factory=dict)
    split: Split | None = None
    #: Models not run, and why (a catalogue larger than the model can be fitted on).
    left_out: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "train_interactions": self.n_train,
            "test_interactions": self.n_test,
            "seconds": round(self.seconds, 3),
            "models": {
                n: {"config": r.config, "metrics": r.metrics, "seconds": round(r.seconds, 3)}
                for n, r in self.results.items()
            },
            "left_out": self.left_out,
        }


@dataclass
class Split:
    """A training dataset and the held-out truth of the users it can score."""

    data: Dataset
    users: np.ndarray  # training indices of users with held-out items
    truth: sp.csr_matrix  # rows aligned with ``users``

    @classmethod
    def of(cls, train: Interactions, test: Interactions, base: Dataset | None = None) -> Split:
        """Train on ``train``; judge on ``test``. With ``base`` (the store's dataset) the vocabularies and
        feature tables are the store's and weights are kept; otherwise interactions count as present."""
        if base is None:  # the catalogue is what training saw: test-only users and items are unknown
            data = Dataset.build(train, binary=True)
        else:
            data = replace(
                Dataset.build(train, base.users, base.items),
                item_features=base.item_features,
                user_features=base.user_features,
            )
        u = data.users.lookup(test.users)
        i = data.items.lookup(test.items)
        ok = (u >= 0) & (i >= 0)
        # relevant: held-out pairs with positive total weight, not already in the user's training
        # history (those are excluded from every list, so they could never be hits)
        held = sp.csr_matrix((test.weights[ok].astype(np.float32), (u[ok], i[ok])), shape=data.matrix.shape)
        held.sum_duplicates()
        held.data[held.data <= 0] = 0
        held = held - held.multiply(data.matrix > 0)
        held.eliminate_zeros()
        users = np.flatnonzero(held.getnnz(axis=1))
        if len(users) == 0:
            raise UserError(
                "no user has a held-out interaction with an item outside their training history; "
                "there is nothing to evaluate"
            )
        truth = held[users]
        truth.data[:] = 1.0
        return cls(data, users, truth.tocsr())

    def sample(self, max_users: int, seed: int = 0) -> Split:
        """This split judged on at most ``max_users`` of its users (a seeded draw, kept in order): a
        tuning's choice needs tens of thousands of users, not every one of a million."""
        if len(self.users) <= max_users:
            return self
        keep = np.sort(np.random.default_rng(seed).choice(len(self.users), max_users, replace=False))
        return Split(self.data, self.users[keep], self.truth[keep])

    @property
    def n_train_users(self) -> int:
        """Users with at least one training interaction (the denominator of novelty)."""
        return int((self.data.matrix.getnnz(axis=1) > 0).sum())

    def history(self, half_life: float | None = None) -> sp.csr_matrix:
        return self.data.history(half_life)[self.users]

    def score(self, model: Recommender) -> tuple[dict[str, float], np.ndarray]:
        history = self.history(model.history_half_life)
        recs = model.recommend(self.users, history, LIST_LENGTH)
        return ranking_metrics(recs, self.truth, self.data.item_popularity(), self.n_train_users), recs


def _key(m: dict[str, float]) -> tuple[float, float]:
    return (m["ndcg@10"], m["recall@20"])


def tune(
    kind: str, split: Split, grid: Iterable[dict[str, Any]] | None = None
) -> tuple[dict[str, Any], Recommender]:
    """The candidate config with the best validation NDCG@10 (then Recall@20), and its fitted model."""
    best: tuple[tuple[float, float], dict[str, Any], Recommender] | None = None
    for cfg in grid if grid is not None else REGISTRY[kind].grid:
        model = REGISTRY[kind](**cfg).fit(split.data)
        key = _key(split.score(model)[0])
        if best is None or key > best[0]:
            best = (key, cfg, model)
    assert best is not None
    return best[1], best[2]


def tune_blend(members: list[Recommender], split: Split) -> tuple[list[float], float | None]:
    """Weights of fitted members, and the history half-life to score with, maximising on validation
    NDCG@10 and Recall@20 together: the sum of each divided by the best any single member reaches
    (then NDCG@10), so that neither is traded away for the other. The half-life is chosen with the
    members alone; a coordinate search then starts from the best single member. Every single member
    alone is a candidate, so on validation the blend is never worse than its best member.

    Each member's scores of every validation user and item are held at once: past
    ``BLEND_TUNING_BYTES`` of them, the weights are tuned on a seeded draw of the users that fits (a
    100,000-product catalogue: ~1,000 users; 5,000 users' scores of 7 members took 14 GB)."""
    cells = 4 * split.data.n_items * (len(members) + 3)  # the members' scores, their sum, its top list
    split = split.sample(max(BLEND_TUNING_BYTES // max(cells, 1), 1))
    pop = split.data.item_popularity()
    seen = split.history().tocoo()
    n_train = split.n_train_users

    unweighted: dict[int, np.ndarray] = {}  # members whose scores no half-life changes: scored once

    def zscores(half_life: float | None) -> list[np.ndarray]:
        history = split.history(half_life)
        out = []
        for i, m in enumerate(members):
            if m.reads_weights or i not in unweighted:
                z = standardise(m.scores(split.users, history).astype(np.float32))
                if not m.reads_weights:
                    unweighted[i] = z
            out.append(z if m.reads_weights else unweighted[i])
        return out

    def evaluate(weights: list[float], z: list[np.ndarray]) -> tuple[float, float]:
        s = np.array(sum(w * zi for w, zi in zip(weights, z, strict=True) if w), dtype=np.float32, copy=True)
        s[seen.row, seen.col] = -np.inf
        return _key(ranking_metrics(top_n(s, TUNING_LENGTH), split.truth, pop, n_train))

    singles = [[1.0 if j == i else 0.0 for j in range(len(members))] for i in range(len(members))]
    tried = []  # (validation NDCG@10 and Recall@20, weights, half-life) of each member alone
    for half_life in HISTORY_HALF_LIVES:
        z_h = zscores(half_life)
        tried += [(evaluate(w, z_h), w, half_life) for w in singles]
    del z_h  # one half-life's scores in memory at a time
    ref = [max(max(t[0][k] for t in tried), 1e-9) for k in range(2)]

    def balanced(pair: tuple[float, float]) -> tuple[float, float]:
        return (pair[0] / ref[0] + pair[1] / ref[1], pair[0])

    best_key, best, chosen = max(((balanced(t[0]), t[1], t[2]) for t in tried), key=lambda t: t[0])
    z = zscores(chosen)
    for _ in range(2):
        for i, step in itertools.product(range(len(members)), BLEND_STEPS):
            if best[i] == step:
                continue
            cand = list(best)
            cand[i] = step
            if any(cand) and (key := balanced(evaluate(cand, z))) > best_key:
                best_key, best = key, cand
    return best, chosen


def blend_members(base: Dataset | None) -> tuple[str, ...]:
    """The blend's retrievers for this kind of data: those needing product attributes only where
    there are some, and none past the catalogue size it can be fitted on (EASE above 30,000)."""
    features = base is not None and base.item_features is not None
    items = base.n_items if base is not None else 0
    ranked = sorted(
        (cls.blend_rank, kind)
        for kind, cls in REGISTRY.items()
        if cls.blend_rank is not None
        and (features or not cls.needs_features)
        and (cls.max_items is None or items <= cls.max_items)
    )
    return tuple(kind for _, kind in ranked)


def evaluate(
    train: Interactions,
    test: Interactions,
    models: Iterable[str] = DEFAULT_MODELS,
    progress: Callable[[str], None] | None = None,
    base: Dataset | None = None,
    protocol: str = "temporal",
    blend_with: Iterable[str] = (),
    leave_out_unfit: bool = False,
) -> EvaluationReport:
    """Tune every model on validation (cut from ``train`` by ``protocol``), refit on train, measure on
    test; see the module docstring. ``blend_with`` adds retrievers to the blend's usual members (to
    measure what one that is not a member would bring). With ``leave_out_unfit``, a model that cannot
    be fitted on a catalogue this large (EASE past 30,000 products) is left out and named in
    ``left_out``, as the default peers are; asked for by name, it fails with the reason."""
    start = time.perf_counter()
    inner, valid = protocol_split(train, protocol)
    vsplit = Split.of(inner, valid, base)
    tsplit = Split.of(train, test, base)
    members = tuple(dict.fromkeys((*blend_members(base if base is not None else tsplit.data), *blend_with)))
    report = EvaluationReport(n_train=len(train), n_test=len(test), protocol=protocol)
    names = list(models)
    if leave_out_unfit:
        n_items = tsplit.data.n_items
        for name in list(names):
            limit = REGISTRY[name].max_items if name in REGISTRY else None
            if limit is not None and n_items > limit:
                names.remove(name)
                report.left_out[name] = f"{n_items:,} products is more than the {limit:,} it can be fitted on"
    wanted = [n for n in names if n != "blend"] + (list(members) if "blend" in names else [])
    tuned: dict[str, tuple[dict[str, Any], Recommender]] = {}
    for kind in dict.fromkeys(wanted):
        if kind not in REGISTRY or kind == "blend":
            raise UserError(f"unknown model {kind!r}; known: {', '.join(sorted(REGISTRY))}")
        if progress:
            progress(f"tuning {kind}")
        tuned[kind] = tune(kind, vsplit)
    fitted: dict[str, Recommender] = {}

    def refit(kind: str) -> Recommender:  # once per kind: a peer and a blend member are the same model
        if kind not in fitted:
            fitted[kind] = REGISTRY[kind](**tuned[kind][0]).fit(tsplit.data)
        return fitted[kind]

    for name in names:
        t0 = time.perf_counter()
        if name == "blend":
            weights, half_life = tune_blend([tuned[k][1] for k in members], vsplit)
            model: Recommender = Blend.of([refit(k) for k in members], weights, half_life)
            config: dict[str, Any] = {
                "members": {
                    k: {"config": tuned[k][0], "weight": w} for k, w in zip(members, weights, strict=True)
                },
                "history_half_life": half_life,
            }
        else:
            config = tuned[name][0]
            model = refit(name)
        metrics, _recs = tsplit.score(model)
        report.results[name] = ModelResult(name, config, metrics, time.perf_counter() - t0)
        report.models[name] = model
    report.seconds = time.perf_counter() - start
    report.split = tsplit
    return report
