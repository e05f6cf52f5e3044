"""Online state shared through Redis by every process of a deployment: each user's recent events (a
capped list per user with a time to live) and the set of servable products (rebuilt from the store,
then kept current by governance actions). A Redis that cannot be reached is ``UnavailableError``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

from xingqu.errors import MissingDependencyError, UnavailableError
from xingqu.online.recent import MAX_PER_USER, RecentEvent, events_of, kept
from xingqu.online.servability import ServableQuery

#: Product ids listed per Redis call when the servable set is rebuilt.
CHUNK = 5_000


def connect(url: str) -> Any:
    """A Redis client for ``url`` (redis://host:port/db), checked with a PING."""
    try:
        import redis
    except ImportError:  # pragma: no cover - the extra is part of the test install
        raise MissingDependencyError("redis", "redis", "shared online state (XINGQU_REDIS)") from None
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    with unavailable_as_error(url):
        client.ping()
    return client


@contextmanager
def unavailable_as_error(url: str) -> Iterator[None]:
    """Redis connection failures and time-outs become ``UnavailableError`` naming the server."""
    import redis

    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise UnavailableError(f"Redis at {safe_url(url)} cannot be reached: {exc}") from None


def connection_errors() -> tuple[type[BaseException], ...]:
    """Errors of a Redis server that does not answer, as they may surface past ``unavailable_as_error``."""
    try:
        import redis
    except ImportError:  # pragma: no cover - the extra is part of every server install
        return ()
    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def safe_url(url: str) -> str:
    """``url`` without a password."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://…@{rest.split('@', 1)[1]}"


def _members(table: pa.Table) -> dict[str, list[tuple[str, int]]]:
    """Per user, each event as a sorted-set member (its id with the fields the feed reads) and its
    time: an event recorded twice (a retried batch) is one member."""
    grouped = events_of(table)
    if not grouped:
        return {}
    ids = table["event_id"].to_pylist() if "event_id" in table.column_names else None
    out: dict[str, list[tuple[str, int]]] = {}
    seen: dict[str, int] = {}
    users = table["user_id"].to_pylist()
    products, orders = table["product_id"].to_pylist(), table["order_id"].to_pylist()
    kinds = table["event_type"].to_pylist()
    contents = table["content_id"].to_pylist() if "content_id" in table.column_names else [None] * len(users)
    for row, user in enumerate(users):
        if not user or not kept(kinds[row], products[row], orders[row], contents[row]):
            continue  # as ``events_of``
        k = seen.get(user, 0)
        seen[user] = k + 1
        e = grouped[user][k]
        key = ids[row] if ids is not None else None
        member = json.dumps([key, *e], separators=(",", ":"), ensure_ascii=False)
        out.setdefault(user, []).append((member, e.ts))
    return out


class RedisRecentEvents:
    """Recent events per user in Redis sorted sets by time (newest ``max_per_user`` kept, expiring
    ``ttl_s`` after a user's last event; each event id once): an event recorded by one process is in the
    next feed of every process, and recording a batch again changes nothing."""

    def __init__(
        self,
        client: Any,
        url: str,
        prefix: str = "xingqu:",
        ttl_s: int = 7 * 86_400,
        max_per_user: int = MAX_PER_USER,
    ) -> None:
        self.client, self.url, self.prefix = client, url, prefix
        self.ttl_s, self.max_per_user = ttl_s, max_per_user

    def _key(self, user: str) -> str:
        return f"{self.prefix}events:{user}"

    def record(self, events: pa.Table) -> None:
        grouped = _members(events)
        if not grouped:
            return
        with unavailable_as_error(self.url):
            pipe = self.client.pipeline(transaction=False)
            for user, members in grouped.items():
                key = self._key(user)
                pipe.zadd(key, dict(members))
                pipe.zremrangebyrank(key, 0, -self.max_per_user - 1)
                pipe.expire(key, self.ttl_s)
            pipe.execute()

    def for_users(self, user_ids: Sequence[str], since_ms: int) -> list[list[RecentEvent]]:
        with unavailable_as_error(self.url):
            pipe = self.client.pipeline(transaction=False)
            for user in user_ids:
                pipe.zrangebyscore(self._key(user), f"({since_ms}", "+inf")
            found = pipe.execute()
        return [[RecentEvent(*json.loads(r)[1:]) for r in raw] for raw in found]

    def ping(self) -> None:
        """Raise ``UnavailableError`` unless Redis answers."""
        with unavailable_as_error(self.url):
            self.client.ping()

    def users(self) -> int:
        """How many users have recent events in Redis (counted by a scan: for metrics, not requests)."""
        with unavailable_as_error(self.url):
            return sum(1 for _ in self.client.scan_iter(match=self._key("*"), count=1_000))


class RedisServability:
    """The set of servable product ids in Redis, built from the store's rule on first use (or when
    told that anything may have changed) and updated product by product by governance actions, so
    that a request asks Redis once instead of querying the store, and a takedown through any process
    is honoured by all on their next request. Unknown ids are not servable (fail closed)."""

    def __init__(
        self,
        client: Any,
        url: str,
        query: ServableQuery,
        all_ids: Any,
        prefix: str = "xingqu:",
    ) -> None:
        self.client, self.url, self.query, self.all_ids = client, url, query, all_ids
        self.key = f"{prefix}servable"
        self.ready_key = f"{prefix}servable:ready"

    def servable(self, product_ids: list[str]) -> set[str]:
        if not product_ids:
            return set()
        with unavailable_as_error(self.url):
            if not self.client.exists(self.ready_key):
                self.changed(None)
            member = self.client.smismember(self.key, product_ids)
        return {p for p, m in zip(product_ids, member, strict=True) if m}

    def size(self) -> int:
        """How many products are servable now (as the shared set says)."""
        with unavailable_as_error(self.url):
            return int(self.client.scard(self.key))

    def changed(self, product_ids: list[str] | None = None) -> None:
        """Re-ask the store about these products (None: rebuild the whole set, swapped in at once)."""
        with unavailable_as_error(self.url):
            if product_ids is None:
                ids = list(self.all_ids())
                ok = sorted(self.query(ids))
                temp = f"{self.key}:building"
                pipe = self.client.pipeline(transaction=True)
                pipe.delete(temp)
                for lo in range(0, len(ok), CHUNK):
                    pipe.sadd(temp, *ok[lo : lo + CHUNK])
                if ok:
                    pipe.rename(temp, self.key)
                else:
                    pipe.delete(self.key)
                pipe.set(self.ready_key, 1)
                pipe.execute()
                return
            if not product_ids:
                return
            ok = self.query(list(product_ids))
            pipe = self.client.pipeline(transaction=True)
            if ok:
                pipe.sadd(self.key, *sorted(ok))
            gone = sorted(set(product_ids) - ok)
            if gone:
                pipe.srem(self.key, *gone)
            pipe.execute()
