"""Batch scoring of every user on one machine: the users cut into blocks, each block ranked through the
serving pipeline (``score_users``, experiments' arms included) and written as one JSON line per user,
in the users' order. With several workers, each is a process of its own that opens the same store and
model version once (as Spark's executors do) and ranks whole blocks, so the cores share the work."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from xingqu.errors import UserError
from xingqu.runtime import Runtime
from xingqu.services.experiments import ServedFeed, score_users

#: Users ranked per call of the feed pipeline.
CHUNK = 512
#: Users a worker ranks per task at most (a few seconds of work); fewer users are cut into four
#: blocks per worker, so that the workers share them evenly.
BLOCK = 8 * CHUNK

#: Thread counts a worker's numeric libraries read when they load.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_worker: dict[str, Any] = {}


def feed_line(served: ServedFeed) -> str:
    """A user's feed as a JSON line: the user, the products in order, and their arms when any."""
    found = served.result
    line: dict[str, object] = {"user": found.user, "items": [i.product_id for i in found.items]}
    if served.arms:
        line["experiments"] = served.arms
        line["model"] = found.version
    return json.dumps(line, ensure_ascii=False)


def ranked(
    runtime: Runtime, ids: Sequence[str], n: int, version: str | None, filters: dict[str, Any]
) -> Iterator[ServedFeed]:
    """The feeds of ``ids`` in order, ranked ``CHUNK`` users per call of the feed pipeline (batch
    scoring's unit here and in Spark's executors)."""
    for lo in range(0, len(ids), CHUNK):
        yield from score_users(runtime, ids[lo : lo + CHUNK], n, version=version, **filters)


def _lines(
    runtime: Runtime, ids: Sequence[str], n: int, version: str | None, filters: dict[str, Any]
) -> list[str]:
    return [feed_line(s) for s in ranked(runtime, ids, n, version, filters)]


@contextlib.contextmanager
def _one_thread_each() -> Iterator[None]:
    """Workers started inside run their BLAS and OpenMP (faiss) on one thread each, as Spark's Python
    workers do: N processes each spinning up a thread per core fight over the cores."""
    saved = {k: os.environ.get(k) for k in THREAD_VARS}
    os.environ.update(dict.fromkeys(THREAD_VARS, "1"))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _open(parts: dict[str, Any]) -> None:
    """A worker's start: its own runtime over the parent's settings. Ctrl-C is the parent's to handle
    (it drops the blocks not started and waits for the running ones), not each worker's."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker["runtime"] = Runtime(**parts)


def _block(task: tuple[list[str], int, str | None, dict[str, Any]]) -> list[str]:
    ids, n, version, filters = task
    return _lines(_worker["runtime"], ids, n, version, filters)


def feed_lines(
    runtime: Runtime,
    users: Sequence[str],
    n: int,
    *,
    version: str | None = None,
    filters: dict[str, Any] | None = None,
    workers: int = 1,
    block: int = BLOCK,
) -> Iterator[str]:
    """Every one of ``users``' feeds of up to ``n`` products as JSON lines, in order; ``workers`` > 1
    ranks blocks of at most ``block`` users in that many processes at once (each loads the model:
    memory grows with them)."""
    filters = dict(filters or {})
    size = min(block, max(1, -(-len(users) // (4 * max(workers, 1)))))
    blocks = [list(users[lo : lo + size]) for lo in range(0, len(users), size)]
    if workers <= 1 or len(blocks) <= 1:
        for ids in blocks:
            yield from _lines(runtime, ids, n, version, filters)
        return
    s = runtime.settings
    parts = {"db": s.db, "models_dir": str(runtime.models_dir.resolve()), "events": s.events}
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited connections or threads
    pool = ProcessPoolExecutor(
        min(workers, len(blocks)), mp_context=spawn, initializer=_open, initargs=(parts,)
    )
    try:
        with _one_thread_each():  # the workers start (and read their environment) on the first submit
            done = pool.map(_block, [(b, n, version, filters) for b in blocks])
        for lines in done:
            yield from lines
    except BrokenProcessPool as exc:
        raise UserError(
            f"a scoring worker process died before its users were ranked (killed, or out of memory with "
            f"{workers} workers each holding the model): run again with fewer --workers"
        ) from exc
    finally:  # on a failure or an interrupt, blocks not yet started are dropped, not ranked
        pool.shutdown(cancel_futures=True)
