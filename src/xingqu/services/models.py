"""Model versions as use cases: which exist, which is served, and training runs started in the background
(one at a time per models folder) whose new version every serving process picks up when it is ready."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from xingqu.errors import ConflictError
from xingqu.runtime import Runtime

#: The lock a training run holds on its models folder while it runs (held by the training process).
LOCK_NAME = ".training.lock"


def list_models(runtime: Runtime) -> dict[str, Any]:
    """Every version with its state, and the one served now."""
    runtime.store.require_ready()
    registry = runtime.registry
    return {"current": registry.current(), "versions": [v.to_dict() for v in registry.list()]}


def current_model(runtime: Runtime) -> dict[str, Any]:
    """The version served now (the newest ready one) with its registry entry and what was saved."""
    runtime.store.require_ready()
    current = runtime.registry.current()
    if current is None:
        return {"current": None, "version": None}
    return {"current": current, "version": runtime.registry.show(current)}


@dataclass
class TrainingRun:
    """A training run this process started: a ``xingqu train`` child process and what it said."""

    started_ms: int
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    finished_ms: int | None = None

    def to_dict(self) -> dict[str, Any]:
        code = self.process.poll()
        out: dict[str, Any] = {
            "pid": self.process.pid,
            "started_ms": self.started_ms,
            "finished_ms": self.finished_ms,
            "running": code is None,
            "exit_code": code,
        }
        if code is not None:
            text = "".join(self.output).strip()
            try:
                meta = json.loads(text) if code == 0 else None
            except ValueError:
                meta = None
            out["version"] = meta.get("version") if isinstance(meta, dict) else None
            out["error"] = None if code == 0 else (text.splitlines() or ["(no output)"])[-1]
        return out


class Trainer:
    """Starts training runs in a child process (so serving keeps its cores' attention and its memory)
    and reports on them. One run at a time per models folder, across processes: the run holds an
    exclusive lock on a file in the folder for as long as it lives."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.last: TrainingRun | None = None
        self._lock = threading.Lock()

    @property
    def lock_path(self) -> Path:
        return self.runtime.models_dir / LOCK_NAME

    def _take_lock(self) -> IO[str] | None:
        """The folder's training lock, taken (None when a run holds it)."""
        self.runtime.models_dir.mkdir(parents=True, exist_ok=True)
        fh = self.lock_path.open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return None
        return fh

    def running(self) -> bool:
        """Whether a training run of any process is running on this models folder."""
        fh = self._take_lock()
        if fh is None:
            return True
        fh.close()
        return False

    def start(self) -> TrainingRun:
        """Start ``xingqu train`` on this runtime's store and models folder in the background; another
        run still going (from any process) is a ``ConflictError``."""
        self.runtime.store.require_ready()
        with self._lock:
            fh = self._take_lock()
            if fh is None:
                raise ConflictError("a training run is already going on this models folder")
            try:
                settings = self.runtime.settings
                nice = [found, "-n", "10"] if (found := shutil.which("nice")) else []  # serving comes first
                command = [*nice, sys.executable, "-m", "xingqu.cli.app", "train", "--json"]
                command += ["--db", settings.db, "--models-dir", str(self.runtime.models_dir)]
                process = subprocess.Popen(
                    command,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    pass_fds=(fh.fileno(),),  # the child holds the lock until it ends
                )
            finally:
                fh.close()
            run = TrainingRun(int(time.time() * 1000), process)
            self.last = run
        threading.Thread(target=self._follow, args=(run,), daemon=True, name="xingqu-training").start()
        return run

    def _follow(self, run: TrainingRun) -> None:
        assert run.process.stdout is not None
        for line in run.process.stdout:
            run.output.append(line)
            del run.output[:-200]
        run.process.wait()
        run.finished_ms = int(time.time() * 1000)

    def status(self) -> dict[str, Any]:
        """Whether a run is going on this models folder (started by any process), and the last run this
        process started."""
        return {"running": self.running(), "last": self.last.to_dict() if self.last else None}


def trainer(runtime: Runtime) -> Trainer:
    """The runtime's trainer (one per runtime)."""
    return runtime.shared(("trainer",), lambda: Trainer(runtime))
