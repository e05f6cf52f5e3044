"""Order kept beside a user×item history, for sequence-aware retrievers.

A history row says which items a user touched, not in what order. A sequence-aware model keeps, from
its training data, each user's items ranked by their latest interaction (1 = the last touched) and
reads a history row through it: items of the row it never saw for that user (events since training,
or a user it never saw) are the newest, rank 1, and push the known ones back by one. Each model then
weighs the ranks its own way (its own half-life or window), so recency is handled per retriever."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from xingqu.dataset import Dataset
from xingqu.models.base import ModelError


def recency_ranks(data: Dataset) -> sp.csr_matrix:
    """users × items: 1 for each user's most recently touched item, 2 for the one before, … (distinct
    items by their latest interaction; ties in time keep the log's order). Only pairs of the matrix."""
    log = data.log
    if log is None:
        raise ModelError("a sequence-aware model needs interaction times (a dataset built from a log)")
    n = len(log.users)
    newest_first = np.lexsort((-np.arange(n), -log.times, log.users))
    users, items = log.users[newest_first], log.items[newest_first]
    _, first = np.unique(users.astype(np.int64) * data.n_items + items, return_index=True)
    latest = np.sort(first)  # each pair's newest interaction, grouped by user, newest first
    users, items = users[latest], items[latest]
    bounds = np.flatnonzero(np.r_[True, users[1:] != users[:-1], True])
    rank = np.arange(len(users)) - np.repeat(bounds[:-1], np.diff(bounds)) + 1
    ranks = sp.csr_matrix((rank.astype(np.float32), (users, items)), shape=data.matrix.shape)
    return sp.csr_matrix(ranks.multiply(data.matrix > 0))


def history_ranks(ranks: sp.csr_matrix, users: np.ndarray, history: sp.csr_matrix) -> sp.csr_matrix:
    """The recency rank of every item in each ``history`` row: the stored rank for the row's user
    (``users``: training indices, −1 unknown), shifted by one when the row holds items the user had
    not touched in training, which get rank 1."""
    present = sp.csr_matrix(history > 0, dtype=np.float32)
    known = np.asarray(users) >= 0
    stored = ranks[np.where(known, users, 0)]
    if not known.all():
        stored = sp.diags(known.astype(np.float32)) @ stored
    stored = sp.csr_matrix(stored.multiply(present))
    new = sp.csr_matrix(present - present.multiply(stored > 0))
    new.eliminate_zeros()
    shift = (new.getnnz(axis=1) > 0).astype(np.float32)
    stored.data += np.repeat(shift, np.diff(stored.indptr))
    return sp.csr_matrix(stored + new)


def decayed(ranks: sp.csr_matrix, half_life: float, window: int | None = None) -> sp.csr_matrix:
    """Weights from recency ranks: 1 for the newest item, halving every ``half_life`` items back;
    items beyond the ``window`` newest get nothing."""
    w = ranks.copy()
    if window is not None:
        w.data[w.data > window] = 0
    w.data = np.where(w.data > 0, np.power(0.5, (w.data - 1) / half_life), 0).astype(np.float32)
    w.eliminate_zeros()
    return w
