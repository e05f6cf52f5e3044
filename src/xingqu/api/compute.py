"""Where a route's CPU work runs: in worker threads under a limiter of ``api_threads`` (1 by default).
The feed is numpy and LightGBM under one interpreter lock; requests beyond the limit wait in the event
loop holding nothing, where more threads would only pass the lock back and forth (measured: 68 feeds/s
on one thread, 54 on two, 14 on forty). Slow reads (reports, audit logs) keep the default pool, so
that they never hold the feed up; add processes with ``--workers`` to use more cores."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request

T = TypeVar("T")

#: Threads of every other route (authentication included) per process.
OTHER_THREADS = 4


def install(app: FastAPI, threads: int) -> None:
    """Give ``app`` its limiter of CPU-bound work (call from within its event loop: the lifespan)."""
    app.state.compute = anyio.CapacityLimiter(threads)
    # the other routes' pool: enough that a slow report never holds the probes up, few enough that
    # its threads do not crowd the feed's out of the interpreter lock (anyio's default is 40)
    anyio.to_thread.current_default_thread_limiter().total_tokens = OTHER_THREADS


async def compute(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a worker thread, at most ``api_threads`` at once in this process."""
    limiter = getattr(request.app.state, "compute", None)
    return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), limiter=limiter)
