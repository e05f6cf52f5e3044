"""The store: schema, migrations and every query, over SQLite or PostgreSQL."""

from sqlalchemy.engine import Connection as _Connection

from xingqu.store.events import EventLog
from xingqu.store.ledger import ChainReport
from xingqu.store.store import Store, connection_errors, normalise_url

#: An open transaction of the store (from ``Store.reading`` or ``Store.writing``), handed to the
#: repositories' methods so that several of them read and write in one transaction.
Connection = _Connection

__all__ = ["ChainReport", "Connection", "EventLog", "Store", "connection_errors", "normalise_url"]
