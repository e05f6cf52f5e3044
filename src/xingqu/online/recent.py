"""Recent events per user: what a user did since the model was trained, so that the next feed moves
without retraining. Implementations keep the events in process, read them from the store, or share
them through Redis (``xingqu.online.redis``)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

import pyarrow as pa
import pyarrow.compute as pc

from xingqu.features.session import PLAYS

#: Events kept per user at most (the newest); older ones are in the next model.
MAX_PER_USER = 1_000


class RecentEvent(NamedTuple):
    """The fields of an event the feed reacts to."""

    ts: int  # UTC ms
    event_type: str
    product_id: str
    order_id: str | None
    content_id: str | None = None  # the video or live room of a play


def kept(kind: str, product: str | None, order: str | None, content: str | None) -> bool:
    """Whether the feed keeps an event: about a product or an order (a refund may name only its
    order), or a play of a video or a live room (the session's last content watched)."""
    return bool(product or order or (content and kind in PLAYS))


def events_of(table: pa.Table) -> dict[str, list[RecentEvent]]:
    """Canonical event rows grouped by user (in row order), keeping those the feed reads (``kept``)."""
    if table.num_rows == 0:
        return {}
    ts = pc.cast(table["ts"], pa.int64()).to_pylist()
    contents = (
        table["content_id"].to_pylist() if "content_id" in table.column_names else [None] * table.num_rows
    )
    out: dict[str, list[RecentEvent]] = {}
    for user, kind, product, t, order, content in zip(
        table["user_id"].to_pylist(),
        table["event_type"].to_pylist(),
        table["product_id"].to_pylist(),
        ts,
        table["order_id"].to_pylist(),
        contents,
        strict=True,
    ):
        if user and kept(kind, product, order, content):
            play = content if kind in PLAYS else None
            out.setdefault(user, []).append(RecentEvent(int(t), kind, product or "", order, play))
    return out


@runtime_checkable
class RecentEvents(Protocol):
    """Where the feed finds each user's events since training."""

    def record(self, events: pa.Table) -> None:
        """Take in newly accepted events (canonical event rows)."""
        ...

    def for_users(self, user_ids: Sequence[str], since_ms: int) -> list[list[RecentEvent]]:
        """Each user's events newer than ``since_ms``, oldest first."""
        ...


class MemoryRecentEvents:
    """Recent events held in this process (the embedded default and the simulator); thread-safe."""

    def __init__(self, max_per_user: int = MAX_PER_USER) -> None:
        self.max_per_user = max_per_user
        self._events: dict[str, deque[RecentEvent]] = {}
        self._lock = threading.Lock()

    def record(self, events: pa.Table) -> None:
        grouped = events_of(events)
        with self._lock:
            for user, evs in grouped.items():
                self._events.setdefault(user, deque(maxlen=self.max_per_user)).extend(evs)

    def for_users(self, user_ids: Sequence[str], since_ms: int) -> list[list[RecentEvent]]:
        with self._lock:
            found = [list(self._events.get(u, ())) for u in user_ids]
        return [[e for e in evs if e.ts > since_ms] for evs in found]

    def users(self) -> int:
        """How many users have recent events here."""
        return len(self._events)

    def clear(self) -> None:
        """Forget every event (after a retrain has taken them into the model)."""
        with self._lock:
            self._events.clear()


class StoreRecentEvents:
    """Recent events read from the store's event log at every call: every process that shares the
    store sees every import at once (the CLI's source); ``reader`` is ``Store.events.since``."""

    def __init__(self, reader: Callable[[int, list[str] | None], pa.Table]) -> None:
        self.reader = reader

    def record(self, events: pa.Table) -> None:
        """Nothing to do: the store's import wrote them."""

    def for_users(self, user_ids: Sequence[str], since_ms: int) -> list[list[RecentEvent]]:
        users = list(user_ids)
        grouped = events_of(self.reader(since_ms, None if len(users) > 2_000 else users))
        return [grouped.get(u, []) for u in users]
