"""The store: schema, migrations and every query, over SQLite or PostgreSQL."""

from xingqu.store.store import Store, normalise_url

__all__ = ["Store", "normalise_url"]
