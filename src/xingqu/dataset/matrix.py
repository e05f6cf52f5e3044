"""Vocabularies (external id ↔ index) and the user×item matrix a model trains on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from xingqu.dataset.interactions import Interactions


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
        """Indices of ``values``; -1 where unknown."""
        idx = self.index
        return np.fromiter((idx.get(v, -1) for v in values.tolist()), dtype=np.int64, count=len(values))


@dataclass(frozen=True)
class Dataset:
    """An immutable training view: vocabularies and a user×item CSR matrix of summed weights.

    Weights of repeated (user, item) pairs add up; pairs whose total is not positive (a purchase
    taken back by a refund) are dropped. ``binary`` keeps only presence.
    """

    users: Vocabulary
    items: Vocabulary
    matrix: sp.csr_matrix

    @classmethod
    def build(
        cls,
        data: Interactions,
        users: Vocabulary | None = None,
        items: Vocabulary | None = None,
        binary: bool = False,
    ) -> Dataset:
        users = users or Vocabulary.of(data.users)
        items = items or Vocabulary.of(data.items)
        u, i = users.lookup(data.users), items.lookup(data.items)
        ok = (u >= 0) & (i >= 0)
        m = sp.csr_matrix(
            (data.weights[ok].astype(np.float32), (u[ok], i[ok])), shape=(len(users), len(items))
        )
        m.sum_duplicates()
        m.data[m.data <= 0] = 0
        m.eliminate_zeros()
        if binary:
            m.data[:] = 1.0
        return cls(users, items, m)

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    def item_popularity(self) -> np.ndarray:
        """Users who interacted with each item."""
        return np.diff(self.matrix.tocsc().indptr).astype(np.float64)
