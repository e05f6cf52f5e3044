"""Requests per second per key, counted in Redis when it is configured so that the limit holds across
processes (the size of a request's body is limited by the app itself, ``Settings.api_max_body_bytes``)."""

from __future__ import annotations

import threading
import time
from typing import Any

from xingqu.errors import RateLimitedError


class RateLimiter:
    """Fixed one-second windows per key: at most ``rate`` requests in each (a key's own rate when it
    has one, else ``default_rate``). With a Redis client the counts are shared by every process."""

    def __init__(self, default_rate: int, redis_url: str | None = None, prefix: str = "xingqu:") -> None:
        self.default_rate = default_rate
        self.url, self.prefix = redis_url or "", prefix
        self.client: Any = None
        if redis_url:  # connected on first use: a Redis down at start is a 503 then, not a failed start
            import redis

            self.client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()

    def hit(self, key_id: str, rate: int | None = None) -> None:
        """Count one request of ``key_id``; over its rate is ``RateLimitedError`` (retry next second)."""
        limit = rate or self.default_rate
        now = time.time()
        second = int(now)
        if self.client is not None:
            from xingqu.online.redis import unavailable_as_error

            name = f"{self.prefix}rate:{key_id}:{second}"
            with unavailable_as_error(self.url):
                pipe = self.client.pipeline(transaction=False)
                pipe.incr(name)
                pipe.expire(name, 2)
                count = int(pipe.execute()[0])
        else:
            with self._lock:
                if len(self._counts) > 10_000:  # forget past seconds
                    self._counts = {k: v for k, v in self._counts.items() if k[1] >= second}
                count = self._counts.get((key_id, second), 0) + 1
                self._counts[(key_id, second)] = count
        if count > limit:
            raise RateLimitedError(f"more than {limit} requests a second with this key", retry_after_s=1)
