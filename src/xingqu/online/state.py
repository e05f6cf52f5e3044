"""The online state a serving process uses, chosen once from settings: in this process and the
store (the embedded default), or shared through Redis by every process of a deployment."""

from __future__ import annotations

from dataclasses import dataclass

from xingqu.config import Settings
from xingqu.online.recent import RecentEvents, store_recent
from xingqu.online.servability import Servability, store_servability
from xingqu.store import Store


@dataclass
class OnlineState:
    """Recent events per user and servability, with where they live."""

    recent: RecentEvents
    servability: Servability
    shared: bool  # True: through Redis, seen by every process

    def check(self) -> None:
        """Raise ``UnavailableError`` when the shared state (Redis) does not answer."""
        ping = getattr(self.recent, "ping", None)
        if ping is not None:
            ping()

    def sizes(self) -> dict[str, int]:
        """How much the shared state holds (servable products, users with recent events); nothing for
        state kept in the store, which is the store's size."""
        out: dict[str, int] = {}
        for name, part, method in (
            ("servable_products", self.servability, "size"),
            ("recent_users", self.recent, "users"),
        ):
            measure = getattr(part, method, None)
            if self.shared and measure is not None:
                out[name] = int(measure())
        return out

    @classmethod
    def build(cls, settings: Settings, store: Store, prefix: str = "xingqu:") -> OnlineState:
        """Redis when ``settings.redis`` is set, else the store itself (always current, one process or
        several sharing the store; the embedded store's servable set and recent events kept in memory,
        brought up to date from its logs at every call)."""
        if settings.redis:
            from xingqu.online.redis import RedisRecentEvents, RedisServability, connect

            client = connect(settings.redis)
            return cls(
                RedisRecentEvents(client, settings.redis, prefix, settings.recent_ttl_s),
                RedisServability(
                    client,
                    settings.redis,
                    store.catalogue.servable_products,
                    store.catalogue.product_ids,
                    prefix,
                ),
                shared=True,
            )
        return cls(store_recent(store), store_servability(store), False)
