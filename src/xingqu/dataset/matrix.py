"""Vocabularies (external id ↔ index) and the user×item matrix a model trains on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from xingqu.dataset.interactions import Interactions
from xingqu.domain.units import DAY_MS
from xingqu.store.keyset import index_in

if TYPE_CHECKING:
    from xingqu.dataset.features import ItemFeatures, UserFeatures

#: Lookups of at most this many ids go through the cached dict (Arrow's index_in hashes the whole value set).
SMALL_LOOKUP = 2_000


@dataclass(frozen=True)
class Log:
    """The interactions behind a matrix, as indices: what time-aware models (trending) read."""

    users: np.ndarray
    items: np.ndarray
    weights: np.ndarray
    times: np.ndarray  # ms


@dataclass(frozen=True)
class Vocabulary:
    """External string ids in index order; index lookups by dict."""

    ids: np.ndarray  # object

    @classmethod
    def of(cls, values: np.ndarray) -> Vocabulary:
        return cls(np.array(sorted(set(values.tolist())), dtype=object))

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def index(self) -> dict[str, int]:
        cached = self.__dict__.get("_index")
        if cached is None:
            cached = {v: i for i, v in enumerate(self.ids.tolist())}
            object.__setattr__(self, "_index", cached)
        return cached

    def lookup(self, values: np.ndarray) -> np.ndarray:
        """Indices of ``values``; -1 where unknown (vectorised through Arrow's hash lookup)."""
        if len(values) == 0:
            return np.zeros(0, dtype=np.int64)
        if len(values) <= SMALL_LOOKUP:  # a few ids: the cached dict, not a hash of the whole vocabulary
            index = self.index
            return np.fromiter((index.get(v, -1) for v in values), dtype=np.int64, count=len(values))
        return self.lookup_arrow(pa.array(values, type=pa.string()))

    def lookup_arrow(self, values: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """Indices of an Arrow string column; -1 where unknown or null. Straight from Arrow, without a
        Python string per row (an event log's id columns); a large vocabulary through its hash index,
        built once (``store.keyset``), not hashed again per call."""
        if len(values) == 0:
            return np.zeros(0, dtype=np.int64)
        found = pc.fill_null(index_in(values.cast(pa.string()), self._arrow()), -1)
        return np.asarray(found.to_numpy(), dtype=np.int64)

    def _arrow(self) -> pa.Array:
        cached = self.__dict__.get("_arrow_ids")
        if cached is None:
            cached = pa.array(self.ids, type=pa.string())
            object.__setattr__(self, "_arrow_ids", cached)
        return cached


@dataclass(frozen=True)
class Dataset:
    """An immutable training view: vocabularies and a user×item CSR matrix of summed weights.

    Weights of repeated (user, item) pairs add up; pairs whose total is not positive (a purchase
    taken back by a refund) are dropped. ``binary`` keeps only presence.
    """

    users: Vocabulary
    items: Vocabulary
    matrix: sp.csr_matrix
    log: Log | None = None
    item_features: ItemFeatures | None = None
    user_features: UserFeatures | None = None

    @classmethod
    def build(
        cls,
        data: Interactions,
        users: Vocabulary | None = None,
        items: Vocabulary | None = None,
        binary: bool = False,
        half_life_days: float | None = None,
    ) -> Dataset:
        """Vocabularies (from the data unless given) and the summed-weight matrix.

        ``half_life_days`` decays each interaction's weight by its age before the latest one.
        """
        users = users or Vocabulary.of(data.users)
        items = items or Vocabulary.of(data.items)
        u, i = users.lookup(data.users), items.lookup(data.items)
        ok = (u >= 0) & (i >= 0)
        weights = data.weights.astype(np.float32)
        if half_life_days and len(data):
            age_days = (data.times.max() - data.times) / DAY_MS
            weights = weights * np.power(0.5, age_days / half_life_days).astype(np.float32)
        m = sp.csr_matrix((weights[ok], (u[ok], i[ok])), shape=(len(users), len(items)))
        m.sum_duplicates()
        m.data[m.data <= 0] = 0
        m.eliminate_zeros()
        if binary:
            m.data[:] = 1.0
        log = Log(u[ok], i[ok], data.weights[ok].astype(np.float32), data.times[ok])
        return cls(users, items, m, log)

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def history(self, half_life: float | None = None) -> sp.csr_matrix:
        """Users' histories for scoring. With ``half_life`` (in interactions), each interaction's weight
        halves for every ``half_life`` newer interactions of the same user, so recent behaviour counts
        most; without it, the training matrix itself."""
        if half_life is None or self.log is None:
            return self.matrix
        log = self.log
        order = np.lexsort((-log.times, log.users))
        users = log.users[order]
        bounds = np.flatnonzero(np.r_[True, users[1:] != users[:-1], True])
        rank = np.arange(len(users)) - np.repeat(bounds[:-1], np.diff(bounds))
        weights = log.weights[order] * np.power(0.5, rank / half_life).astype(np.float32)
        m = sp.csr_matrix((weights, (users, log.items[order])), shape=self.matrix.shape)
        m.sum_duplicates()
        m.data[m.data <= 0] = 0
        m.eliminate_zeros()
        return m

    def item_popularity(self) -> np.ndarray:
        """Users who interacted with each item."""
        return np.diff(self.matrix.tocsc().indptr).astype(np.float64)
