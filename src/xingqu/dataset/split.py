"""Per-user temporal hold-out: the last share of each user's interactions, at least one, by time."""

from __future__ import annotations

import numpy as np

from xingqu.dataset.interactions import Interactions


def temporal_split(
    data: Interactions, test_share: float = 0.2, min_train: int = 1
) -> tuple[Interactions, Interactions]:
    """Split every user's interactions by time: the last ``test_share`` (at least one) go to test.

    Users with fewer than ``min_train + 1`` interactions stay wholly in train. Ties in time keep the
    file order, so the split is deterministic.
    """
    order = np.lexsort((np.arange(len(data)), data.times, data.users))
    users = data.users[order]
    bounds = np.flatnonzero(np.r_[True, users[1:] != users[:-1], True])
    counts = np.diff(bounds)
    n_test = np.maximum(1, np.floor(counts * test_share + 1e-9).astype(np.int64))
    n_test = np.where(counts >= min_train + 1, np.minimum(n_test, counts - min_train), 0)
    pos = np.arange(len(order)) - np.repeat(bounds[:-1], counts)
    is_test = pos >= np.repeat(counts - n_test, counts)
    return data.take(order[~is_test]), data.take(order[is_test])
