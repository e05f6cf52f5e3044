"""The common shape of every retrieval model: typed config, ``fit`` apart from ``recommend``, and
artifacts saved as JSON plus ``.npz`` arrays (never pickle), refused when of another kind or version."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, ValidationError

from xingqu.dataset import Dataset, Vocabulary
from xingqu.errors import StoreError, UserError
from xingqu.models import artifacts, rowops

ARTIFACT_FORMAT = "xingqu-model"
ARTIFACT_VERSION = 1
REGISTRY: dict[str, type[Recommender]] = {}


class ModelConfig(BaseModel):
    """Base of every model's config: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelError(UserError):
    """A model cannot be used as asked (not fitted, too large, a bad artifact)."""


class Recommender(ABC):
    """Scores every item for users, from the users' histories (rows of a user×item matrix)."""

    kind: ClassVar[str]
    Config: ClassVar[type[ModelConfig]]
    #: False for models whose scores are the same for every user (one list serves all).
    personal: ClassVar[bool] = True
    #: Candidate configs searched on the validation split when the model is tuned.
    grid: ClassVar[tuple[dict[str, Any], ...]] = ({},)
    #: Why an item this model found is in a feed, in words (None: it explains nothing).
    phrase: ClassVar[str | None] = None
    #: Position among the blend's members (None: not a member).
    blend_rank: ClassVar[int | None] = None
    #: True when the model needs product attributes or user profiles (a store's data, not a bare log).
    needs_features: ClassVar[bool] = False
    #: False when scores depend only on which items a history holds (and the order the model keeps),
    #: not on their weights: a history's half-life then changes nothing, and tuning need not re-score.
    reads_weights: ClassVar[bool] = True
    #: True for sequence-aware models (they read the order of a user's events): the feed's switch
    #: ``FeedConfig.sequence`` leaves them out.
    sequential: ClassVar[bool] = False
    #: The most items the model can be fitted on (None: no bound); the blend leaves it out above.
    max_items: ClassVar[int | None] = None

    def __init__(self, config: ModelConfig | None = None, **kwargs: Any) -> None:
        try:
            self.config = config if config is not None else self.Config(**kwargs)
        except ValidationError as exc:
            raise ModelError(f"{self.kind}: invalid config: {exc}") from None
        self.users: Vocabulary | None = None
        self.items: Vocabulary | None = None

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if "kind" in cls.__dict__:
            REGISTRY[cls.kind] = cls

    @property
    def history_half_life(self) -> float | None:
        """How the history this model scores from should be weighted (see ``Dataset.history``)."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # -- training -----------------------------------------------------------------------------

    def fit(self, data: Dataset) -> Self:
        """Learn from a dataset (its user×item matrix, and features where a model uses them)."""
        self.users, self.items = data.users, data.items
        self._fit_data(data)
        return self

    def _fit_data(self, data: Dataset) -> None:
        """Models that learn from more than the matrix override this."""
        self._fit(data.matrix.astype(np.float32).tocsr())

    def _fit(self, matrix: sp.csr_matrix) -> None:
        raise NotImplementedError(f"{self.kind} learns through _fit_data")

    # -- inference ----------------------------------------------------------------------------

    @abstractmethod
    def _scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        """Dense scores (len(users) × n_items); ``users`` are training indices (-1: unknown)."""

    def _fitted_items(self) -> Vocabulary:
        if self.items is None:
            raise ModelError(f"{self.kind}: not fitted; call fit() or load a saved model first")
        return self.items

    def scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        self._fitted_items()
        return self._scores(np.asarray(users, dtype=np.int64), history)

    def candidate_scores(self, users: np.ndarray, history: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        """Scores of each user's candidates only: ``items`` is (len(users) × k) item indices; the same
        values as ``scores`` gathered, computed without scoring the whole catalogue where a model can."""
        self._fitted_items()
        users = np.asarray(users, dtype=np.int64)
        return np.take_along_axis(self._scores(users, history), items, axis=1).astype(np.float32)

    def recommend(
        self, users: np.ndarray, history: sp.csr_matrix, n: int, exclude_seen: bool = True, batch: int = 1024
    ) -> np.ndarray:
        """Top-``n`` item indices per user (best first), the user's history excluded by default."""
        n = min(n, len(self._fitted_items()))
        out = np.empty((len(users), n), dtype=np.int64)
        for lo in range(0, len(users), batch):
            hi = min(lo + batch, len(users))
            s = self.scores(users[lo:hi], history[lo:hi]).astype(np.float32, copy=True)
            if exclude_seen:
                h = history[lo:hi].tocoo()
                s[h.row, h.col] = -np.inf
            out[lo:hi] = top_n(s, n)
        return out

    # -- artifacts ----------------------------------------------------------------------------

    @abstractmethod
    def _arrays(self) -> dict[str, np.ndarray]:
        """The learned state as named arrays (what ``save`` writes)."""

    @abstractmethod
    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore learned state from ``_arrays``' output."""

    def save(self, folder: Path | str) -> Path:
        """Write ``model.json`` (kind, version, config, checksum) and ``arrays.npz`` into ``folder``."""
        if self.items is None or self.users is None:
            raise ModelError(f"{self.kind}: nothing to save before fit()")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {
            "__users": self.users.ids.astype(str),
            "__items": self.items.ids.astype(str),
            **self._arrays(),
        }
        artifacts.save_npz(folder / "arrays.npz", arrays)
        meta = {
            "format": ARTIFACT_FORMAT,
            "version": ARTIFACT_VERSION,
            "kind": self.kind,
            "config": self.config.model_dump(mode="json"),
            "sha256": hashlib.sha256((folder / "arrays.npz").read_bytes()).hexdigest(),
        }
        artifacts.save_json(folder / "model.json", meta, indent=1)
        return folder

    @classmethod
    def load(cls, folder: Path | str) -> Recommender:
        """Load a saved model of any registered kind; refuse other versions and damaged files."""
        folder = Path(folder)
        if not (folder / "model.json").is_file():
            raise artifacts.ArtifactError(f"{folder}: no model.json; not a saved xingqu model")
        meta = artifacts.read_json(folder / "model.json")
        if meta.get("format") != ARTIFACT_FORMAT or meta.get("version") != ARTIFACT_VERSION:
            raise StoreError(
                f"{folder}: artifact format {meta.get('format')!r} version {meta.get('version')!r}; "
                f"this xingqu reads {ARTIFACT_FORMAT!r} version {ARTIFACT_VERSION}"
            )
        kind = meta.get("kind")
        if kind not in REGISTRY or (cls is not Recommender and kind != cls.kind):
            raise StoreError(
                f"{folder}: holds a {kind!r} model, not {getattr(cls, 'kind', 'a known kind')!r}"
            )
        raw = (folder / "arrays.npz").read_bytes() if (folder / "arrays.npz").exists() else b""
        if hashlib.sha256(raw).hexdigest() != meta.get("sha256"):
            raise StoreError(f"{folder}/arrays.npz is missing or damaged (checksum mismatch)")
        arrays = artifacts.read_npz(folder / "arrays.npz")
        try:
            model = REGISTRY[kind](REGISTRY[kind].Config(**meta["config"]))
        except (ValidationError, TypeError, KeyError) as exc:
            raise StoreError(f"{folder}/model.json has a config this xingqu cannot use: {exc}") from None
        with artifacts.reading(folder / "arrays.npz"):
            model.users = Vocabulary(arrays.pop("__users").astype(object))
            model.items = Vocabulary(arrays.pop("__items").astype(object))
            model._load_arrays(arrays)
        return model


@runtime_checkable
class ItemSimilarity(Protocol):
    """A model with an item×item similarity (columns: the items a history row votes for)."""

    similarity: sp.csr_matrix


@runtime_checkable
class ContentFeatures(Protocol):
    """A model with unit-length content feature rows per item."""

    features: sp.csr_matrix


@runtime_checkable
class Factorised(Protocol):
    """A model of user and item factors whose inner product is the score (ANN-searchable)."""

    user_factors: np.ndarray
    item_factors: np.ndarray


@runtime_checkable
class SegmentedScores(Protocol):
    """A model whose score row of a user depends only on the user's segment (few distinct rows): one
    top list per segment serves every user in it."""

    def user_segments(self, users: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class SparseScores(Protocol):
    """A model whose scores of the whole catalogue are a sparse product (most items score zero): a
    user's top list is read from the nonzero scores, not from a dense row over every item."""

    def sparse_scores(self, users: np.ndarray, history: sp.csr_matrix) -> sp.csr_matrix: ...


@runtime_checkable
class SegmentScores(Protocol):
    """A model that can score every item for a user known only by a segment of their profile."""

    def segment_scores(self, segment: str | None) -> np.ndarray: ...


def item_matrix_scores(
    history: sp.csr_matrix,
    matrix: sp.spmatrix | np.ndarray,
    items: np.ndarray,
    transposed: sp.csr_matrix | None = None,
) -> np.ndarray:
    """``(history @ matrix)`` at each row's candidate columns, computing only the candidates' columns.

    For a sparse ``matrix`` pass its transpose as CSR (``transposed``): the candidates' columns are then
    rows of it, read without touching the rest of the matrix."""
    if history.shape[0] <= rowops.MAX_LOOP_ROWS:  # a request's few rows: kernels on the arrays
        h = rowops.csr_rows(history)
        out = np.empty(items.shape, np.float32)
        for b in range(h.shape[0]):
            lo, hi = h.indptr[b], h.indptr[b + 1]
            if transposed is not None:
                out[b] = rowops.rows_dot(transposed, items[b], rowops.dense_row(h, b))
            elif sp.issparse(matrix):
                row = rowops.vector_times(h.indices[lo:hi], h.data[lo:hi], rowops.csr_rows(matrix))
                out[b] = row[items[b]]
            else:
                block = np.asarray(matrix)[h.indices[lo:hi]][:, items[b]]
                out[b] = h.data[lo:hi].astype(np.float64) @ block
        return out
    cols, inverse = np.unique(items, return_inverse=True)
    part = (transposed[cols] @ history.T).T if transposed is not None else history @ matrix[:, cols]
    dense = part.toarray() if sp.issparse(part) else np.asarray(part)
    return np.take_along_axis(dense, inverse.reshape(items.shape), axis=1).astype(np.float32)


def transposed_csr(model: object, name: str) -> sp.csr_matrix:
    """The transpose of ``model.<name>`` as CSR, computed once and kept on the model (not saved)."""
    cache = model.__dict__.setdefault("_transposed", {})
    if name not in cache:
        cache[name] = sp.csr_matrix(getattr(model, name).T)
    return cache[name]


def top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` largest scores per row, best first; ties broken by the lower index."""
    rows, width = scores.shape
    n = min(n, width)
    if rows == 0 or n == 0:
        return np.zeros((rows, n), dtype=np.int64)
    part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    vals = np.take_along_axis(scores, part, axis=1)
    kth = vals.min(axis=1, keepdims=True)
    # rows where the cut falls inside a run of equal scores: argpartition picked arbitrary members
    ragged = np.flatnonzero((scores == kth).sum(axis=1) > (vals == kth).sum(axis=1))
    if len(ragged):
        sub = scores[ragged]
        above = sub > kth[ragged]
        tied = sub == kth[ragged]
        room = n - above.sum(axis=1, keepdims=True)
        chosen = above | (tied & (np.cumsum(tied, axis=1) <= room))  # the lowest-index ties fill the rest
        part[ragged] = np.nonzero(chosen)[1].reshape(len(ragged), n)
    part = np.sort(part, axis=1)
    vals = np.take_along_axis(scores, part, axis=1)
    return np.take_along_axis(part, np.argsort(-vals, axis=1, kind="stable"), axis=1)


def top_of(idx: np.ndarray, val: np.ndarray, depth: int) -> np.ndarray:
    """The ``depth`` entries of a sparse row (``idx`` / ``val``, at least ``depth`` of them) with the
    largest values, best first, ties by the lower index: a partition finds the cut, a sort orders the
    few at or above it."""
    cut = len(val) - depth
    kth = np.partition(val, cut)[cut]
    above = np.flatnonzero(val >= kth)
    order = np.lexsort((idx[above], -val[above]))[:depth]
    return idx[above[order]]
