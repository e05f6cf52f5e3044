"""Where a route's CPU work runs: in worker threads, at most ``api_threads`` at once (1 by default).
The feed is numpy and LightGBM under one interpreter lock; requests beyond the limit wait in the event
loop holding nothing, where more threads would only pass the lock back and forth (measured: 68 feeds/s
on one thread, 54 on two, 14 on forty). Slow reads (reports, audit logs) keep the default pool, so
that they never hold the feed up; add processes with ``--workers`` to use more cores.

Waiting work goes by kind: a shopper's feed before a bulk write (a batch of 1,000 events, ~50 ms), so
that an app posting events as fast as it can does not queue every feed behind its batches; a bulk
write waiting longer than ``MAX_BULK_WAIT_S`` goes first all the same, so it is never starved."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request

T = TypeVar("T")

#: Threads of every other route (authentication included) per process.
OTHER_THREADS = 4
#: A bulk write waits at most about this long behind feeds before it goes first.
MAX_BULK_WAIT_S = 0.25


class ComputeLimiter:
    """At most ``threads`` calls at once in threads of their own; the waiting ones start in order of
    kind (interactive first, bulk after), then of arrival; bulk work waiting ``max_bulk_wait_s`` or
    more counts as interactive. Used from one event loop."""

    def __init__(self, threads: int, max_bulk_wait_s: float = MAX_BULK_WAIT_S) -> None:
        self.threads = anyio.CapacityLimiter(threads)  # never waits: the slots below come first
        self.max_bulk_wait_s = max_bulk_wait_s
        self._free = threads
        self._interactive: deque[asyncio.Future[None]] = deque()
        self._bulk: deque[tuple[float, asyncio.Future[None]]] = deque()
        self.started = {"interactive": 0, "bulk": 0}  # calls started, by kind

    async def run(self, fn: Callable[[], T], bulk: bool = False) -> T:
        """``fn()`` in a worker thread once a slot is free and no earlier work goes first."""
        await self._acquire(bulk)
        self.started["bulk" if bulk else "interactive"] += 1
        try:
            return await anyio.to_thread.run_sync(fn, limiter=self.threads)
        finally:
            self._release()

    async def _acquire(self, bulk: bool) -> None:
        if self._free > 0 and not self._interactive and not self._bulk:
            self._free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if bulk:
            self._bulk.append((time.monotonic(), granted))
        else:
            self._interactive.append(granted)
        self._grant()
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():  # granted as it was cancelled: pass it on
                self._release()
            raise

    def _release(self) -> None:
        self._free += 1
        self._grant()

    def _grant(self) -> None:
        while self._free > 0:
            waiter = self._next()
            if waiter is None:
                return
            if not waiter.done():  # a waiter cancelled meanwhile is skipped
                self._free -= 1
                waiter.set_result(None)

    def _next(self) -> asyncio.Future[None] | None:
        overdue = self._bulk and time.monotonic() - self._bulk[0][0] >= self.max_bulk_wait_s
        if self._interactive and not overdue:
            return self._interactive.popleft()
        if self._bulk:
            return self._bulk.popleft()[1]
        return None


def install(app: FastAPI, threads: int) -> None:
    """Give ``app`` its limiter of CPU-bound work (call from within its event loop: the lifespan)."""
    app.state.compute = ComputeLimiter(threads)
    # the other routes' pool: enough that a slow report never holds the probes up, few enough that
    # its threads do not crowd the feed's out of the interpreter lock (anyio's default is 40)
    anyio.to_thread.current_default_thread_limiter().total_tokens = OTHER_THREADS


async def compute(request: Request, fn: Callable[..., T], *args: Any, bulk: bool = False) -> T:
    """``fn(*args)`` in a worker thread, at most ``api_threads`` at once in this process; ``bulk``
    work (batches of writes) waits behind interactive work (feeds) for up to ``MAX_BULK_WAIT_S``."""
    limiter: ComputeLimiter | None = getattr(request.app.state, "compute", None)
    if limiter is None:  # no lifespan ran (an app driven without its events)
        return await anyio.to_thread.run_sync(partial(fn, *args))
    return await limiter.run(partial(fn, *args), bulk=bulk)
