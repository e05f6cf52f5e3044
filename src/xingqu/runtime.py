"""The composition root: settings read once, and from them the store, the model folder and the online
state, built on first use. The CLI, the demo, the simulator's serving arms and (later) the API get
their parts here instead of building their own."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from xingqu.config import Settings
from xingqu.online.state import OnlineState
from xingqu.registry import ModelRegistry
from xingqu.store import EventLog, Store

T = TypeVar("T")


class Runtime:
    """One process's parts. ``overrides`` replace settings by field name (None: keep the setting)."""

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        base = settings or Settings()
        given = {k: v for k, v in overrides.items() if v is not None}
        self.settings = base.model_copy(update=given) if given else base
        self._lock = threading.Lock()
        self._locks: dict[Hashable, threading.Lock] = {}
        self._shared: dict[Hashable, Any] = {}

    @cached_property
    def store(self) -> Store:
        """The store of ``settings.db`` (opened once)."""
        return Store.open(self.settings)

    @property
    def events(self) -> EventLog:
        """The event log: the store's table, or the Parquet event lake ``settings.events`` names."""
        return self.store.events

    @property
    def models_dir(self) -> Path:
        """Where trained model versions are saved."""
        return Path(self.settings.models_dir)

    @cached_property
    def registry(self) -> ModelRegistry:
        """Trained model versions: files in the models folder, state in the store."""
        return ModelRegistry(self.store, self.models_dir)

    @cached_property
    def online(self) -> OnlineState:
        """Recent events and servability: Redis when configured, else this process and the store."""
        return OnlineState.build(self.settings, self.store, self.settings.redis_prefix)

    def shared(self, key: Hashable, make: Callable[[], T]) -> T:
        """One object per ``key`` for the life of this runtime (a loaded model's service…), made on
        first use; the layers above keep their long-lived parts here. One part being made holds up
        only those asking for it (a part may ask for another while it is made)."""
        if key in self._shared:
            return self._shared[key]  # type: ignore[no-any-return]
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._shared:
                self._shared[key] = make()
            return self._shared[key]  # type: ignore[no-any-return]

    def forget(self, keep: Hashable, kind: Hashable) -> None:
        """Let go of every shared part whose key is a tuple starting with ``kind`` but ``keep`` (the
        parts of model versions no longer served), so that a long-running server holds one of each."""
        with self._lock:
            for key in [k for k in self._shared if isinstance(k, tuple) and k[:1] == (kind,) and k != keep]:
                del self._shared[key]
                self._locks.pop(key, None)
