"""Shared online state behind interfaces: recent events per user, servability of products, the
current model version — held in process, read from the store, or shared through Redis."""

from xingqu.online.recent import (
    MemoryRecentEvents,
    RecentEvent,
    RecentEvents,
    StoreRecentEvents,
    TailRecentEvents,
    events_of,
    store_recent,
)
from xingqu.online.servability import Servability, StoreServability

__all__ = [
    "MemoryRecentEvents",
    "RecentEvent",
    "RecentEvents",
    "Servability",
    "StoreRecentEvents",
    "StoreServability",
    "TailRecentEvents",
    "events_of",
    "store_recent",
]
