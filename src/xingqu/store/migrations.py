"""Versioned schema changes. A new store gets the current schema at once; an older one is stepped up.

To change the schema: edit the kinds in ``xingqu.domain.records`` (or ``schema._INDEXES``), then add a
``Migration`` here that brings a store of the previous version to the new one, on both backends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from xingqu.domain.records import MAX_ID_LENGTH
from xingqu.store.dialects import dialect_for
from xingqu.store.ledger import fill_chain
from xingqu.store.rollups import add_order_days, rebuild
from xingqu.store.schema import (
    TABLES,
    api_keys_table,
    audit_table,
    buyer_days_table,
    daily_counts_table,
    daily_totals_table,
    experiments_table,
    exposures_table,
    live_viewers_table,
    model_versions_table,
    order_days_table,
    order_facts_table,
    penalties_table,
    review_table,
    servability_changes_table,
)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def _noop(_conn: Connection) -> None:
    """Version 1 is the initial schema; it is created whole, never stepped into."""


def _audit_log(conn: Connection) -> None:
    """Version 2: the append-only audit log of governance changes (protected by the store's own hook)."""
    audit_table.create(conn, checkfirst=True)


def _review_queue(conn: Connection) -> None:
    """Version 3: the queue of listings screened to review."""
    review_table.create(conn, checkfirst=True)


def _rollups(conn: Connection) -> None:
    """Version 4: rollups of the event log for analytics, filled from the events already stored."""
    rollups = (order_facts_table, daily_counts_table, daily_totals_table, live_viewers_table)
    for table in (*rollups, order_days_table, buyer_days_table):  # the rebuild fills the day rollups too
        table.create(conn, checkfirst=True)
    rebuild(conn, dialect_for(conn.engine))


def _penalties(conn: Connection) -> None:
    """Version 5: penalty points of shops (append-only)."""
    penalties_table.create(conn, checkfirst=True)


def _buyers_index(conn: Connection) -> None:
    """Version 6: order facts indexed by buyer, so that counting distinct buyers needs no sort."""
    for index in order_facts_table.indexes:
        if index.name == "ix_order_facts_user_paid":
            index.create(conn, checkfirst=True)


def _order_days(conn: Connection) -> None:
    """Version 7: orders per day, channel and shop, and buyers per day and channel, from the order facts;
    order facts indexed by product."""
    for index in order_facts_table.indexes:
        if index.name == "ix_order_facts_product_id":
            index.create(conn, checkfirst=True)
    order_days_table.create(conn, checkfirst=True)
    buyer_days_table.create(conn, checkfirst=True)
    if conn.execute(sa.select(sa.func.count()).select_from(order_days_table)).scalar_one() == 0:
        add_order_days(conn, dialect_for(conn.engine), 1, None)


def _hash_chains(conn: Connection) -> None:
    """Version 8: the audit log and the penalty ledger hash-chained (tamper-evident); the chain of the
    rows already written is computed here."""
    dialect = dialect_for(conn.engine)
    for table in (audit_table, penalties_table):
        present = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
        for column in ("prev_hash", "hash"):
            if column not in present:
                conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column} VARCHAR(64)")
        dialect.unprotect_append_only(conn, table.name)  # restored by ``Store.init`` after the steps
        fill_chain(conn, table)


def _model_versions(conn: Connection) -> None:
    """Version 9: the model registry (versions and their state)."""
    model_versions_table.create(conn, checkfirst=True)


def _api_keys(conn: Connection) -> None:
    """Version 10: API keys (hashes only), their roles and scopes."""
    api_keys_table.create(conn, checkfirst=True)


def _experiments(conn: Connection) -> None:
    """Version 11: online experiments and their exposure log; events say which feed response they
    followed from (``request_id``)."""
    experiments_table.create(conn, checkfirst=True)
    exposures_table.create(conn, checkfirst=True)
    present = {c["name"] for c in sa.inspect(conn).get_columns("events")}
    if "request_id" not in present:
        conn.exec_driver_sql(f"ALTER TABLE events ADD COLUMN request_id VARCHAR({MAX_ID_LENGTH})")


def _servability_log(conn: Connection) -> None:
    """Version 12: the log of servability changes (kept by triggers where writers are serialised, see
    ``Dialect.track_servability``, installed by ``Store.init``) and an index covering the rule's lookups."""
    servability_changes_table.create(conn, checkfirst=True)
    for index in TABLES["products"].indexes:
        if index.name == "ix_products_product_id_stock_status_shop_id":
            index.create(conn, checkfirst=True)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _noop),
    Migration(2, "append-only audit log", _audit_log),
    Migration(3, "review queue", _review_queue),
    Migration(4, "analytics rollups", _rollups),
    Migration(5, "shop penalty points", _penalties),
    Migration(6, "order facts by buyer", _buyers_index),
    Migration(7, "orders and buyers per day", _order_days),
    Migration(8, "hash-chained audit log and penalty ledger", _hash_chains),
    Migration(9, "model registry", _model_versions),
    Migration(10, "API keys", _api_keys),
    Migration(11, "online experiments", _experiments),
    Migration(12, "servability change log", _servability_log),
)
#: Tables whose rows may never change once written.
APPEND_ONLY_TABLES = ("audit_log", "penalties")
LATEST_VERSION = MIGRATIONS[-1].version
