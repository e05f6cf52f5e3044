"""Helpers of the HTTP API tests: a tiny simulated world trained once, copies of its store, and real
uvicorn servers on loopback (in a thread of the test process, or as ``xingqu serve`` processes)."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import uvicorn

from xingqu.api import create_app
from xingqu.ingest import import_path
from xingqu.runtime import Runtime
from xingqu.services.keys import create_key
from xingqu.sim.config import preset
from xingqu.sim.run import simulate
from xingqu.store import Store
from xingqu.training import TrainedModel, train

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class World:
    """A simulated fortnight in a SQLite store with one trained model version."""

    root: Path
    model: TrainedModel

    @property
    def db_path(self) -> Path:
        return self.root / "s.db"

    @property
    def models(self) -> Path:
        return self.root / "models"

    def copy(self, dest: Path, models: bool = False) -> tuple[str, Path]:
        """A copy of the store (SQLite's backup) and the models folder (shared unless ``models``)."""
        dest.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(self.db_path) as src, sqlite3.connect(dest / "s.db") as dst:
            src.backup(dst)
        folder = self.models
        if models:
            folder = dest / "models"
            shutil.copytree(self.models, folder)
        return f"sqlite:///{dest / 's.db'}", folder

    def busy_user(self) -> str:
        """The user with the longest history."""
        assert self.model.feed is not None
        indptr = self.model.history.indptr
        return str(self.model.feed.profiles.users.ids[int(np.argmax(np.diff(indptr)))])


def build_world(root: Path) -> World:
    simulate(preset("tiny", users=400, days=12), root / "m")
    store = Store(f"sqlite:///{root / 's.db'}")
    import_path(store, root / "m")
    model = train(store, root / "models")
    store.close()
    return World(root, model)


def free_socket() -> socket.socket:
    """A listening-ready socket on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serving(runtime: Runtime) -> Iterator[str]:
    """A real uvicorn server on loopback over ``runtime`` (in a thread); yields its base URL."""
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(runtime), log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@contextmanager
def serve_process(
    env: dict[str, str], workers: int = 1, log: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``xingqu serve`` as a process of its own on a free loopback port, ready when yielded."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    out = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        [sys.executable, "-m", "xingqu.cli.app", "serve", "--port", str(port), "--workers", str(workers)],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **env},
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_ready(url: str, process: subprocess.Popen[bytes] | None = None, timeout: float = 90) -> None:
    """Until ``/readyz`` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def make_key(runtime: Runtime, role: str, **scope: object) -> str:
    """A new key of ``role`` (shops=…, creator=…)."""
    return create_key(runtime, role, **scope)[0]  # type: ignore[arg-type]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class TcpProxy:
    """A TCP relay on a loopback port to ``target``: stopped, it refuses new connections and cuts the
    open ones (the server behind it "went away"); started again, it relays on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        sock = free_socket()
        self.port = sock.getsockname()[1]
        sock.close()
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            open_, self._open = self._open, []
        if listener is not None:
            listener.close()
        for s in open_:
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65_536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
