"""Requests per second per key, counted in Redis when it is configured so that the limit holds across
processes (the size of a request's body is limited by the app itself, ``Settings.api_max_body_bytes``)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class BodyLimit:
    """ASGI middleware limiting request bodies to ``max_bytes``: a declared Content-Length past it is
    answered 413 at once, before any of it is read; a body that streams past it is stopped there (413
    through the app's error mapping)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        return f"the request body is larger than {self.max_bytes:,} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            body = json.dumps({"error": {"code": "too_large", "message": self._message()}}).encode()
            length = str(len(body)).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", length)]
            await send({"type": "http.response.start", "status": 413, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, limited, send)
