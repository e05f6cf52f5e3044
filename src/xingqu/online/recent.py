"""Recent events per user: what a user did since the model was trained, so that the next feed moves
without retraining. Implementations keep the events in process, read them from the store, or share
them through Redis (``xingqu.online.redis``)."""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

import pyarrow as pa
import pyarrow.compute as pc

from xingqu.features.session import PLAYS

if TYPE_CHECKING:
    from xingqu.store import Store
    from xingqu.store.events import SqlEventLog

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


class TailRecentEvents:
    """Recent events kept in this process and brought up to date at every call by reading the store's
    event log past the last row seen (``SqlEventLog.tail``: one indexed read, usually of nothing), so an
    event accepted by any process sharing the store is in the next feed. Only for logs appended in
    commit order and never pruned (``SqlEventLog.appends_in_order``: the embedded store); a user's
    events are read once, when first asked for, and then followed.

    Each user's events are kept oldest first in the store's order (time, then event id), the newest
    ``max_per_user`` of them; at most ``max_users`` users are kept (then the least recently loaded are
    forgotten, and read again when asked for)."""

    #: Rows read per call at most; a log further ahead is not read row by row: everything is forgotten.
    BATCH = 20_000

    def __init__(self, log: SqlEventLog, max_per_user: int = MAX_PER_USER, max_users: int = 200_000) -> None:
        self.log = log
        self.max_per_user = max_per_user
        self.max_users = max_users
        self._lock = threading.Lock()
        self._seq = -1  # the last row applied; −1 before the log is first read
        self._since = 0  # events at or before this time are not kept
        self._events: dict[str, list[tuple[int, str, RecentEvent]]] = {}

    def record(self, events: pa.Table) -> None:
        """Nothing to do: the store's import wrote them, and the next call reads them."""

    def for_users(self, user_ids: Sequence[str], since_ms: int) -> list[list[RecentEvent]]:
        with self._lock:
            if self._seq < 0 or since_ms < self._since:
                self._restart(since_ms)
            elif since_ms > self._since:  # a newer model: what it learnt from is no longer kept
                self._since = since_ms
                self._events = {u: [e for e in evs if e[0] > since_ms] for u, evs in self._events.items()}
            self._catch_up()
            found = [self._user(u) for u in user_ids]
        return [[e for t, _, e in evs if t > since_ms] for evs in found]

    def users(self) -> int:
        """How many users' events are kept here."""
        return len(self._events)

    def _restart(self, since_ms: int) -> None:
        self._since, self._events, self._seq = since_ms, {}, self.log.last_row()

    def _user(self, user: str) -> list[tuple[int, str, RecentEvent]]:
        evs = self._events.get(user)
        if evs is None:
            if len(self._events) >= self.max_users:
                del self._events[next(iter(self._events))]
            evs = []
            for row in sorted(self.log.user_tail(user, self._since, self._seq), key=lambda r: (r[1], r[2])):
                self._add(evs, row)
            self._events[user] = evs
        return evs

    def _catch_up(self) -> None:
        rows = self.log.tail(self._seq, self.BATCH)
        if len(rows) >= self.BATCH or (not rows and self.log.last_row() < self._seq):
            self._restart(self._since)  # far behind, or the log was rewritten: read users afresh
            return
        for row in rows:
            evs = self._events.get(row[3])
            if evs is not None and row[1] > self._since:  # users not kept read theirs when asked
                self._add(evs, row)
        if rows:
            self._seq = rows[-1][0]

    def _add(self, evs: list[tuple[int, str, RecentEvent]], row: tuple[Any, ...]) -> None:
        _, ts, event_id, _, kind, product, order, content = row
        if not kept(kind, product, order, content):
            return
        play = content if kind in PLAYS else None
        entry = (int(ts), event_id, RecentEvent(int(ts), kind, product or "", order, play))
        if evs and entry[:2] < evs[-1][:2]:
            bisect.insort(evs, entry, key=lambda e: e[:2])
        else:
            evs.append(entry)
        if len(evs) > self.max_per_user:
            del evs[0]


def store_recent(store: Store) -> RecentEvents:
    """Recent events read from a store: kept in this process and followed through the event log where
    it is appended in commit order (the embedded store), else read from the store at every call."""
    from xingqu.store.events import SqlEventLog

    log = store.events
    if isinstance(log, SqlEventLog) and log.appends_in_order:
        return TailRecentEvents(log)
    return StoreRecentEvents(log.since)
