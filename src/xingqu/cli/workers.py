"""Several serving processes on one port, each with a listening socket of its own (``SO_REUSEPORT``):
the kernel spreads new connections over them evenly. With one shared socket, as uvicorn's own
supervisor has it, whichever worker is idle takes each connection, and under keep-alive one worker
ends up holding every client while the others wait (measured: 89 % and 0 % of a core)."""

from __future__ import annotations

import multiprocessing
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess
from types import FrameType

from xingqu.errors import UserError

#: A worker that exits with an error sooner than this after starting failed to start (a bad setting,
#: a port taken): the server stops. One killed by a signal, or dying later, is replaced.
STARTUP_S = 10.0
#: More replacements than this per worker within a minute: the server stops rather than loop.
MAX_RESTARTS_PER_MIN = 5


def bound_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` that other processes of this server may bind too. The kernel
    hands it connections only once it listens: until then they go to the workers already serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket listening on ``host``:``port`` that other processes of this server may bind too."""
    sock = bound_socket(host, port)
    sock.listen(2048)
    return sock


def run_worker(host: str, port: int, access_log: bool, replacing: bool = False) -> None:
    """One serving process: its own socket, the app built from the environment's settings.

    The first workers listen at once, so that connections opened while the server starts are spread
    over all of them (kept alive, they stay where they land). A replacement binds its socket now and
    listens only after the app has warmed up (uvicorn listens on a socket passed to it after the
    lifespan's start): until then the kernel hands new connections to the workers serving, where they
    would otherwise wait the seconds a model takes to load."""
    import uvicorn

    sock = bound_socket(host, port) if replacing else listening_socket(host, port)
    config = uvicorn.Config(
        "xingqu.api.app:app_from_env",
        factory=True,
        access_log=access_log,
        log_level="info" if access_log else "warning",
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run(sockets=[sock])


def supervise(host: str, port: int, workers: int, access_log: bool) -> None:
    """Run ``workers`` processes until SIGINT or SIGTERM (then stop them gracefully); a worker that dies
    while serving is replaced; one that cannot start stops the server with an error."""
    try:  # a port held by another program is refused here, before any worker starts
        listening_socket(host, port).close()
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    ctx = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def start(replacing: bool = False) -> tuple[BaseProcess, float]:
        proc = ctx.Process(target=run_worker, args=(host, port, access_log, replacing), name="xingqu-worker")
        proc.start()
        return proc, time.monotonic()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    procs = [start() for _ in range(workers)]
    restarts: list[float] = []
    try:
        while not stop.wait(0.5):
            for i, (proc, began) in enumerate(procs):
                if proc.is_alive():
                    continue
                now = time.monotonic()
                code = proc.exitcode or 0
                if code > 0 and now - began < STARTUP_S:
                    raise UserError(f"a serving process exited with code {code} as it started")
                restarts = [t for t in restarts if now - t < 60] + [now]
                if len(restarts) > MAX_RESTARTS_PER_MIN * workers:
                    raise UserError(f"serving processes keep exiting (the last with code {code})")
                procs[i] = start(replacing=True)  # killed, or died while serving: replaced
    finally:
        for proc, _ in procs:
            if proc.is_alive():
                proc.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        for proc, _ in procs:
            proc.join(15)
            if proc.is_alive():
                proc.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
