"""The API's compute limiter: one slot, feeds before bulk writes, bulk never starved, no slot lost."""

from __future__ import annotations

import asyncio
import threading

from xingqu.api.compute import ComputeLimiter


async def _hold(limiter: ComputeLimiter, release: threading.Event) -> asyncio.Task[None]:
    """A task holding the limiter's one slot until ``release`` is set."""
    task = asyncio.create_task(limiter.run(release.wait))
    while limiter.started["interactive"] + limiter.started["bulk"] == 0:
        await asyncio.sleep(0.001)
    return task


def test_feeds_waiting_start_before_bulk_writes_that_waited_less() -> None:
    async def scenario() -> list[str]:
        limiter = ComputeLimiter(1, max_bulk_wait_s=60)
        release, order = threading.Event(), []
        held = await _hold(limiter, release)
        calls = [
            limiter.run(lambda: order.append("bulk-1"), bulk=True),
            limiter.run(lambda: order.append("feed-1")),
            limiter.run(lambda: order.append("bulk-2"), bulk=True),
            limiter.run(lambda: order.append("feed-2")),
        ]
        tasks = [asyncio.create_task(c) for c in calls]
        await asyncio.sleep(0.01)  # all four waiting
        release.set()
        await asyncio.gather(held, *tasks)
        return order

    assert asyncio.run(scenario()) == ["feed-1", "feed-2", "bulk-1", "bulk-2"]


def test_a_bulk_write_waiting_past_its_limit_goes_before_feeds() -> None:
    async def scenario() -> list[str]:
        limiter = ComputeLimiter(1, max_bulk_wait_s=0.05)
        release, order = threading.Event(), []
        held = await _hold(limiter, release)
        bulk = asyncio.create_task(limiter.run(lambda: order.append("bulk"), bulk=True))
        await asyncio.sleep(0.1)  # the bulk write is overdue by now
        feed = asyncio.create_task(limiter.run(lambda: order.append("feed")))
        await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(held, bulk, feed)
        return order

    assert asyncio.run(scenario()) == ["bulk", "feed"]


def test_cancelled_waiters_give_their_slot_back() -> None:
    async def scenario() -> tuple[int, list[str]]:
        limiter = ComputeLimiter(1)
        release, order = threading.Event(), []
        held = await _hold(limiter, release)
        gone = [asyncio.create_task(limiter.run(lambda: order.append("gone"))) for _ in range(3)]
        kept = asyncio.create_task(limiter.run(lambda: order.append("kept"), bulk=True))
        await asyncio.sleep(0.01)
        for task in gone:
            task.cancel()
        release.set()
        await asyncio.gather(held, kept)
        await asyncio.gather(*gone, return_exceptions=True)
        await limiter.run(lambda: order.append("after"))  # the slot is free again
        return limiter._free, order

    free, order = asyncio.run(scenario())
    assert order == ["kept", "after"] and free == 1
