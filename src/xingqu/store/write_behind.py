"""Writes run behind the caller: in the order handed over, one at a time, on a thread of their own,
while the caller goes on (pyarrow's encoders and SQLite's statements run without holding the GIL)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor


class WriteBehind:
    """Runs the writes handed to ``submit`` in order on one thread (started on the first), at most
    ``limit`` units of them waiting (the caller waits beyond it); a write's error is raised to the
    caller at a later ``submit`` or at ``wait``. Whatever a write touches, the caller leaves alone until
    ``wait`` or ``stop`` returns."""

    def __init__(self, name: str, limit: int | None = None) -> None:
        self.name = name
        self.limit = limit
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[tuple[Future[None], int]] = deque()  # oldest first, with their units
        self._units = 0
        self._failed = False  # a write failed: the later ones are not run

    def submit(self, write: Callable[[], None], units: int = 0) -> None:
        """Hand ``write`` over; then collect the writes done (raising the first error) and wait for the
        oldest ones while more than ``limit`` units are waiting."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix=self.name)
        self._pending.append((self._pool.submit(self._run, write), units))
        self._units += units
        while self._pending and (
            self._pending[0][0].done() or (self.limit is not None and self._units > self.limit)
        ):
            self._collect()

    def _run(self, write: Callable[[], None]) -> None:
        if self._failed:
            return
        try:
            write()
        except BaseException:
            self._failed = True
            raise

    def _collect(self) -> None:
        done, units = self._pending.popleft()
        self._units -= units
        done.result()

    def wait(self) -> None:
        """Wait for every write handed over and end the thread; the first error is raised (the writes
        after it are not run)."""
        try:
            while self._pending:
                self._collect()
        finally:
            self.stop()

    def stop(self) -> None:
        """Drop the writes not yet started, wait for the one running and end the thread, raising
        nothing (for a caller that is failing already)."""
        for done, _ in self._pending:
            done.cancel()
        self._pending.clear()
        self._units = 0
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._failed = False
