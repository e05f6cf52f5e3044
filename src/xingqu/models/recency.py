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
from xingqu.models import rowops
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
    return sorted_csr(ranks.multiply(data.matrix > 0))


def sorted_csr(m: sp.spmatrix) -> sp.csr_matrix:
    """``m`` as CSR with each row's column indices in order (what ``recency_weights`` searches)."""
    out = sp.csr_matrix(m)
    out.sort_indices()
    return out


def recency_weights(
    ranks: sp.csr_matrix,
    users: np.ndarray,
    history: sp.csr_matrix,
    half_life: float,
    window: int | None = None,
) -> sp.csr_matrix:
    """Each ``history`` row as weights by recency: 1 for the newest item, halving every ``half_life``
    items back, nothing beyond the ``window`` newest. An item's rank is the one stored for the row's
    user (``users``: training indices, −1 unknown; ``ranks`` with sorted indices), shifted back by one
    when the row holds items the user had not touched in training, which are the newest (rank 1).
    A loop over rows on the CSR arrays: a request's few rows cost microseconds, not sparse algebra."""
    h = rowops.csr_rows(history)
    users = np.asarray(users, dtype=np.int64)
    counts = np.zeros(h.shape[0] + 1, dtype=np.int64)
    cols_out, vals_out = [], []
    for b in range(h.shape[0]):
        lo, hi = h.indptr[b], h.indptr[b + 1]
        cols = h.indices[lo:hi][h.data[lo:hi] > 0]
        if not len(cols):
            continue
        rank = np.ones(len(cols), dtype=np.float32)
        u = users[b]
        if u >= 0 and ranks.indptr[u + 1] > ranks.indptr[u]:
            stored = ranks.indices[ranks.indptr[u] : ranks.indptr[u + 1]]
            pos = np.minimum(np.searchsorted(stored, cols), len(stored) - 1)
            found = stored[pos] == cols
            rank[found] = ranks.data[ranks.indptr[u] + pos[found]] + (0.0 if found.all() else 1.0)
        keep = rank <= window if window is not None else slice(None)
        cols_out.append(cols[keep])
        vals_out.append(np.power(0.5, (rank[keep] - 1) / half_life).astype(np.float32))
        counts[b + 1] = len(cols_out[-1])
    if not cols_out:
        return sp.csr_matrix(h.shape, dtype=np.float32)
    return rowops.csr(np.concatenate(vals_out), np.concatenate(cols_out), np.cumsum(counts), h.shape)
