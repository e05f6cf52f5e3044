"""Per-user hold-outs by time, one per evaluation protocol: the last share of each user's interactions
(``temporal``), their last interaction (``next-item``) or their last session (``next-session``)."""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

from xingqu.dataset.interactions import Interactions
from xingqu.errors import UserError

Protocol = Literal["temporal", "next-item", "next-session"]
PROTOCOLS: tuple[str, ...] = get_args(Protocol)
#: A pause longer than this between two of a user's interactions starts a new session.
SESSION_GAP_MINUTES = 30.0
#: Times at or above this are milliseconds (1973 in ms, the year 5138 in seconds); below, seconds.
MS_THRESHOLD = 100_000_000_000


def _by_user_time(data: Interactions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows in (user, time, file order) order, each row's position within its user, and each
    row's user's interaction count (aligned with the ordered rows)."""
    order = np.lexsort((np.arange(len(data)), data.times, data.users))
    users = data.users[order]
    bounds = np.flatnonzero(np.r_[True, users[1:] != users[:-1], True])
    counts = np.diff(bounds)
    pos = np.arange(len(order)) - np.repeat(bounds[:-1], counts)
    return order, pos, np.repeat(counts, counts)


def temporal_split(
    data: Interactions, test_share: float = 0.2, min_train: int = 1
) -> tuple[Interactions, Interactions]:
    """Split every user's interactions by time: the last ``test_share`` (at least one) go to test.

    Users with fewer than ``min_train + 1`` interactions stay wholly in train. Ties in time keep the
    file order, so the split is deterministic.
    """
    order, pos, counts = _by_user_time(data)
    n_test = np.maximum(1, np.floor(counts * test_share + 1e-9).astype(np.int64))
    n_test = np.where(counts >= min_train + 1, np.minimum(n_test, counts - min_train), 0)
    is_test = pos >= counts - n_test
    return data.take(order[~is_test]), data.take(order[is_test])


def last_item_split(data: Interactions) -> tuple[Interactions, Interactions]:
    """Next-item prediction: each user's last interaction (by time, then file order) goes to test;
    users with a single interaction stay wholly in train."""
    order, pos, counts = _by_user_time(data)
    is_test = (counts >= 2) & (pos == counts - 1)
    return data.take(order[~is_test]), data.take(order[is_test])


def session_starts(data: Interactions, gap_minutes: float = SESSION_GAP_MINUTES) -> np.ndarray:
    """Per row (in the data's order), True where it opens a session of its user: the user's first
    interaction, or one after a pause longer than ``gap_minutes`` (times in seconds or milliseconds,
    told apart by size: see ``MS_THRESHOLD``)."""
    order, pos, _counts = _by_user_time(data)
    t = data.times[order]
    unit = 60_000 if len(t) and t.max() >= MS_THRESHOLD else 60
    gap = np.r_[0, np.diff(t)] > gap_minutes * unit
    starts = np.empty(len(data), dtype=bool)
    starts[order] = (pos == 0) | gap
    return starts


def last_session_split(
    data: Interactions, gap_minutes: float = SESSION_GAP_MINUTES
) -> tuple[Interactions, Interactions]:
    """Next-session prediction: each user's last session (see ``session_starts``) goes to test; users
    with a single session stay wholly in train."""
    order, pos, counts = _by_user_time(data)
    starts = session_starts(data, gap_minutes)[order]
    first = np.flatnonzero(pos == 0)
    session = np.cumsum(starts)  # a global session number, increasing within a user
    n_sessions = np.repeat(np.add.reduceat(starts.astype(np.int64), first), counts[first])
    last_session = np.repeat(session[first + counts[first] - 1], counts[first])
    is_test = (n_sessions >= 2) & (session == last_session)
    return data.take(order[~is_test]), data.take(order[is_test])


def protocol_split(
    data: Interactions, protocol: str = "temporal", session_gap_minutes: float = SESSION_GAP_MINUTES
) -> tuple[Interactions, Interactions]:
    """(train, test) by an evaluation protocol: ``temporal`` (each user's last 20 %), ``next-item``
    (their last interaction) or ``next-session`` (their last session)."""
    if protocol == "temporal":
        return temporal_split(data)
    if protocol == "next-item":
        return last_item_split(data)
    if protocol == "next-session":
        return last_session_split(data, session_gap_minutes)
    raise UserError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
