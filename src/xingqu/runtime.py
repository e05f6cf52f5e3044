"""The composition root: settings read once, and from them the store, the model folder and the online
state, built on first use. The CLI, the demo, the simulator's serving arms and (later) the API get
their parts here instead of building their own."""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from typing import Any

from xingqu.config import Settings
from xingqu.online.state import OnlineState
from xingqu.store import Store


class Runtime:
    """One process's parts. ``overrides`` replace settings by field name (None: keep the setting)."""

    def __init__(self, settings: Settings | None = None, **overrides: Any) -> None:
        base = settings or Settings()
        given = {k: v for k, v in overrides.items() if v is not None}
        self.settings = base.model_copy(update=given) if given else base
        self._lock = threading.Lock()
        self._feeds: dict[str | None, Any] = {}

    @cached_property
    def store(self) -> Store:
        """The store of ``settings.db`` (opened once)."""
        return Store.open(self.settings.db, settings=self.settings)

    @property
    def models_dir(self) -> Path:
        """Where trained model versions are saved."""
        return Path(self.settings.models_dir)

    @cached_property
    def online(self) -> OnlineState:
        """Recent events and servability: Redis when configured, else this process and the store."""
        return OnlineState.build(self.settings, self.store, self.settings.redis_prefix)

    def feed_service(self, version: str | None = None) -> Any:
        """The feed service of a model version (None: the latest, followed as new ones are saved)."""
        from xingqu.services.feed import FeedService

        with self._lock:
            if version not in self._feeds:
                self._feeds[version] = FeedService(self, version)
            return self._feeds[version]
