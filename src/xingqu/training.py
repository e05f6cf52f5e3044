"""Train on the store: tune every retriever and the blend on a validation split, fit on all data, and
save a versioned model folder (blend, interaction history, bought-together statistics)."""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import scipy.sparse as sp

from xingqu.dataset import Dataset, Vocabulary, interactions_from_store, load_dataset, temporal_split
from xingqu.errors import NotFoundError, StoreError, UserError
from xingqu.evaluation.runner import Split, blend_members, tune, tune_blend
from xingqu.features.market import MarketTables
from xingqu.features.profiles import Catalogue, EventSums
from xingqu.feed_training import (
    FeedModel,
    Impressions,
    fit_feed,
    impressions_since,
    load_feed_parts,
    save_feed_parts,
)
from xingqu.models import REGISTRY, Blend, Recommender, artifacts
from xingqu.models.factors import solving_als
from xingqu.store import Store
from xingqu.store import models as registered

COBUY_WINDOW_MS = 7 * 86_400_000
#: Users the validation split judges the candidates on when tuning (a seeded draw beyond this).
MAX_VALIDATION_USERS = 20_000
#: Scores one candidate's validation ranks at most (users × products): on a large catalogue the users
#: are drawn to fit, since each is ranked against every product (20,000 users up to 25,000 products,
#: 5,000 at 100,000), but never fewer than ``MIN_VALIDATION_USERS``.
VALIDATION_CELLS = 500_000_000
MIN_VALIDATION_USERS = 2_000


def validation_users(n_items: int) -> int:
    """How many validation users tuning judges on, for a catalogue of ``n_items`` products."""
    return max(MIN_VALIDATION_USERS, min(MAX_VALIDATION_USERS, VALIDATION_CELLS // max(n_items, 1)))


@dataclass
class TrainedModel:
    """A saved model version: the blend, the history it was trained on, bought-together lifts."""

    version: str
    folder: Path
    blend: Blend
    history: sp.csr_matrix
    cobuy_lift: sp.csr_matrix
    cobuy_support: sp.csr_matrix
    meta: dict[str, Any] = field(default_factory=dict)
    feed: FeedModel | None = None

    def member(self, kind: str) -> Recommender | None:
        for m in self.blend.members:
            if m.kind == kind:
                return m
        return None


def bought_together(data: Dataset, store: Store, min_support: int = 2) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Co-purchase within 7 days by the same user: support (buyers of both) and lift
    = support × buyers / (buyers of a × buyers of b), kept where support ≥ ``min_support``."""
    pays = interactions_from_store(store, {"pay": 1.0})
    u, i = data.users.lookup(pays.users), data.items.lookup(pays.items)
    ok = (u >= 0) & (i >= 0)
    u, i, t = u[ok], i[ok], pays.times[ok]
    order = np.lexsort((t, u))
    u, i, t = u[order], i[order], t[order]
    rows, cols = [], []
    bounds = np.flatnonzero(np.r_[True, u[1:] != u[:-1], True])
    for lo, hi in itertools.pairwise(bounds):
        if hi - lo < 2:
            continue
        for a in range(lo, hi):
            for b in range(a + 1, hi):
                if t[b] - t[a] > COBUY_WINDOW_MS:
                    break
                if i[a] != i[b]:
                    rows += [i[a], i[b]]
                    cols += [i[b], i[a]]
    n = data.n_items
    pair_user = sp.csr_matrix(  # one count per co-purchase (a, b) of one user
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(n, n)
    )
    pair_user.sum_duplicates()
    support = pair_user.copy()
    support.data[support.data < min_support] = 0
    support.eliminate_zeros()
    buyers = np.bincount(i, minlength=n).astype(np.float64)
    n_buyers = max(len(np.unique(u)), 1)
    coo = support.tocoo()
    lift = coo.data * n_buyers / (buyers[coo.row] * buyers[coo.col])
    return (sp.csr_matrix((lift.astype(np.float32), (coo.row, coo.col)), shape=(n, n)), support.tocsr())


class TrainingEngine(Protocol):
    """Where the parts of training that grow with the event log run (``xingqu.distributed``'s Spark
    engine); absent, they run here. Each returns what the one-machine code would."""

    name: str

    def matrix(self, store: Store, users: Vocabulary, items: Vocabulary) -> sp.csr_matrix: ...

    def bought_together(self, store: Store, data: Dataset) -> tuple[sp.csr_matrix, sp.csr_matrix]: ...

    def event_sums(
        self, store: Store, users: Vocabulary, cat: Catalogue, before_ms: int | None = None
    ) -> EventSums: ...

    def labelled_impressions(
        self, store: Store, users: Vocabulary, items: Vocabulary, since_ms: int
    ) -> Impressions: ...

    def als(self, matrix: sp.csr_matrix, config: Any) -> tuple[np.ndarray, np.ndarray]: ...


def train(
    store: Store, models_dir: Path | str, progress: Any = None, engine: TrainingEngine | None = None
) -> TrainedModel:
    """Tune on a validation split of the store's interactions, fit on all of them, save a version;
    with ``engine``, the weighted matrix, bought-together statistics, ALS, the event sums behind
    the feed's profiles and the ranker's labelled impressions come from it."""
    if engine is None:
        return _train(store, models_dir, progress, None)
    with solving_als(engine.als):
        return _train(store, models_dir, progress, engine)


@dataclass
class Tuning:
    """What tuning on the validation split chose: each member's config, the blend's weights and history
    half-life, and the tuned blend's validation metrics on ``users`` validation users."""

    members: list[str]
    configs: dict[str, dict[str, Any]]
    weights: list[float]
    half_life: float | None
    metrics: dict[str, float]
    users: int


def _tune(store: Store, base: Dataset, progress: Any) -> Tuning:
    """Tune every member and the blend on a temporal validation split of the store's interactions. Only
    the choices are returned: the split and the models fitted on it are freed before the final fit."""
    inner, valid = temporal_split(interactions_from_store(store))
    vsplit = Split.of(inner, valid, base).sample(validation_users(base.n_items))
    del inner, valid
    members = blend_members(base)
    tuned = {}
    for kind in members:
        if progress:
            progress(f"tuning {kind}")
        tuned[kind] = tune(kind, vsplit)
    weights, half_life = tune_blend([tuned[k][1] for k in members], vsplit)
    metrics, _ = vsplit.score(Blend.of([tuned[k][1] for k in members], weights, half_life))
    configs = {k: tuned[k][0] for k in members}
    return Tuning(members, configs, weights, half_life, metrics, len(vsplit.users))


def _train(
    store: Store, models_dir: Path | str, progress: Any, engine: TrainingEngine | None
) -> TrainedModel:
    start = time.perf_counter()
    base = load_dataset(store)
    if engine is not None:
        if progress:
            progress(f"weighted interactions on {engine.name}")
        base = replace(base, matrix=engine.matrix(store, base.users, base.items))
    if base.matrix.nnz == 0:
        raise UserError("the store has no interactions with products to learn from; import events first")
    tuning = _tune(store, base, progress)
    members, configs, weights, half_life = tuning.members, tuning.configs, tuning.weights, tuning.half_life
    if progress:
        progress("fitting on all data")
    blend = Blend.of([REGISTRY[k](**configs[k]).fit(base) for k in members], weights, half_life)
    if engine is not None:
        lift, support = engine.bought_together(store, base)
    else:
        lift, support = bought_together(base, store)
    if progress:
        progress("profiles and the feed ranker")
    hist = base.history(half_life).tocsr()
    feed = fit_feed(
        MarketTables.from_store(store, impressions_since(store.events)),
        configs,
        dict(zip(members, weights, strict=True)),
        retrievers={m.kind: m for m in blend.members},
        data=base,
        history=hist,
        sums=partial(engine.event_sums, store) if engine is not None else None,
        labels=partial(engine.labelled_impressions, store) if engine is not None else None,
    )
    created = datetime.now(tz=UTC)
    digest = hashlib.sha256(
        json.dumps([members, weights, [configs[k] for k in members], base.matrix.nnz], default=str).encode()
    ).hexdigest()[:8]
    version = f"{created.strftime('%Y%m%dT%H%M%SZ')}-{digest}"
    folder = Path(models_dir) / version
    with store.writing() as conn:
        registered.record(conn, version, "training", int(time.time() * 1000))
    blend.save(folder / "blend")
    save_feed_parts(feed, folder / "feed")
    artifacts.save_npz(
        folder / "extras.npz",
        {
            "h_data": hist.data,
            "h_indices": hist.indices,
            "h_indptr": hist.indptr,
            "h_shape": np.array(hist.shape),
            "l_data": lift.data,
            "l_indices": lift.indices,
            "l_indptr": lift.indptr,
            "s_data": support.data,
            "s_indices": support.indices,
            "s_indptr": support.indptr,
        },
    )
    meta = {
        "version": version,
        "created": created.isoformat(),
        "users": base.n_users,
        "items": base.n_items,
        "interactions": int(base.matrix.nnz),
        "validation": tuning.metrics,
        "validation_users": tuning.users,
        "members": {k: {"config": configs[k], "weight": w} for k, w in zip(members, weights, strict=True)},
        "history_half_life": half_life,
        "ranker": feed.ranker.meta | {"importance": feed.ranker.importance()} if feed.ranker else None,
        "trained_until_ms": feed.trained_until_ms,
        "seconds": round(time.perf_counter() - start, 2),
        "engine": engine.name if engine is not None else "local",
    }
    artifacts.save_json(folder / "meta.json", meta, indent=1)
    artifacts.write_manifest(folder)  # last: a version without a manifest was never finished
    summary = {k: meta[k] for k in ("users", "items", "interactions", "validation", "seconds")}
    with store.writing() as conn:  # published: every serving process may now load it
        digest = artifacts.manifest_digest(folder)
        registered.record(conn, version, "ready", int(time.time() * 1000), digest, summary)
    return TrainedModel(version, folder, blend, hist, lift, support, meta, feed)


def versions(models_dir: Path | str) -> list[str]:
    """Saved versions, oldest first."""
    root = Path(models_dir)
    return sorted(p.name for p in root.iterdir() if (p / "meta.json").exists()) if root.exists() else []


def finished(models_dir: Path | str) -> list[str]:
    """Saved versions whose manifest was written (the last step of saving), oldest first."""
    return [v for v in versions(models_dir) if (Path(models_dir) / v / artifacts.MANIFEST).exists()]


def load_trained(models_dir: Path | str, version: str | None = None) -> TrainedModel:
    """A saved version (the latest finished one by default), verified against its manifest first."""
    found = versions(models_dir)
    if not found:
        raise NotFoundError(f"no trained model in {models_dir}: run 'xingqu train' first")
    version = version or (finished(models_dir) or found)[-1]
    if version not in found:
        raise NotFoundError(f"no model version {version!r} in {models_dir}; versions: {', '.join(found)}")
    folder = Path(models_dir) / version
    if not (folder / artifacts.MANIFEST).exists():
        raise artifacts.ArtifactError(
            f"{folder}: no {artifacts.MANIFEST}; the version was never finished or was saved by an older "
            "xingqu: train again"
        )
    artifacts.verify_manifest(folder)
    blend = Recommender.load(folder / "blend")
    if not isinstance(blend, Blend):
        raise StoreError(f"{folder}/blend is not a blend")
    z = artifacts.read_npz(folder / "extras.npz")
    with artifacts.reading(folder / "extras.npz"):
        shape = tuple(int(x) for x in z["h_shape"])
        hist = sp.csr_matrix((z["h_data"], z["h_indices"], z["h_indptr"]), shape=shape)
        n = shape[1]
        lift = sp.csr_matrix((z["l_data"], z["l_indices"], z["l_indptr"]), shape=(n, n))
        support = sp.csr_matrix((z["s_data"], z["s_indices"], z["s_indptr"]), shape=(n, n))
    meta = artifacts.read_json(folder / "meta.json")
    feed = None
    if (folder / "feed" / "feed.json").exists():
        feed = load_feed_parts(folder / "feed", {m.kind: m for m in blend.members}, hist)
    return TrainedModel(version, folder, blend, hist, lift, support, meta, feed)
