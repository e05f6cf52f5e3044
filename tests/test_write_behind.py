"""Writes run behind the caller: in order, one at a time, errors raised to the caller, a bound on what
waits."""

from __future__ import annotations

import threading
import time

import pytest

from xingqu.store.write_behind import WriteBehind


def test_writes_run_in_order_on_one_thread_of_their_own() -> None:
    done: list[tuple[int, str]] = []
    writes = WriteBehind("test-writer")
    for i in range(50):
        writes.submit(lambda i=i: done.append((i, threading.current_thread().name)), units=1)
    writes.wait()
    assert [i for i, _ in done] == list(range(50))
    assert {name.split("_")[0] for _, name in done} == {"test-writer"}
    writes.submit(lambda: done.append((50, threading.current_thread().name)))  # a new thread after wait
    writes.wait()
    assert done[-1][0] == 50


def test_the_caller_waits_beyond_the_limit() -> None:
    gate = threading.Event()
    writes = WriteBehind("test-writer", limit=2)
    writes.submit(gate.wait, units=1)
    writes.submit(lambda: None, units=1)  # two units waiting: at the limit, the caller goes on
    opener = threading.Timer(0.2, gate.set)
    opener.start()
    start = time.monotonic()
    writes.submit(lambda: None, units=1)  # three: waits for the first to finish
    assert time.monotonic() - start >= 0.15
    writes.wait()
    opener.join()


def test_an_error_is_raised_to_the_caller_and_later_writes_are_dropped() -> None:
    done: list[int] = []
    gate = threading.Event()
    writes = WriteBehind("test-writer")

    def fail() -> None:
        gate.wait()
        raise OSError("No space left on device")

    writes.submit(fail)
    writes.submit(lambda: done.append(1))
    gate.set()
    with pytest.raises(OSError, match="No space left"):
        writes.wait()
    assert done == []
    writes.stop()  # nothing left: raises nothing


def test_stop_drops_what_has_not_started_and_raises_nothing() -> None:
    done: list[int] = []
    gate = threading.Event()
    writes = WriteBehind("test-writer")
    writes.submit(gate.wait)
    writes.submit(lambda: done.append(1))
    threading.Timer(0.1, gate.set).start()
    writes.stop()
    assert done == []
