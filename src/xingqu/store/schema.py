"""Tables derived from the record kinds in ``xingqu.domain.records`` (one declaration, no twin)."""

from __future__ import annotations

import sqlalchemy as sa

from xingqu.domain.records import KINDS, MAX_ID_LENGTH, FieldType, KindSpec

metadata = sa.MetaData()

_SQL_TYPES: dict[FieldType, sa.types.TypeEngine] = {
    FieldType.ID: sa.String(MAX_ID_LENGTH),
    FieldType.TEXT: sa.Text(),
    FieldType.INT: sa.BigInteger(),
    FieldType.MONEY: sa.BigInteger(),
    FieldType.FLOAT: sa.Double(),
    FieldType.BOOL: sa.Boolean(),
    FieldType.TIMESTAMP: sa.BigInteger(),  # UTC milliseconds since the epoch
    FieldType.ENUM: sa.String(32),
    FieldType.TAGS: sa.Text(),  # a JSON array of strings
}

#: Secondary indexes per kind: the reads that training, analytics and governance make most.
_INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    # the last covers the servability rule's lookups (no visit to the table's rows)
    "products": (("shop_id",), ("brand_id",), ("product_id", "stock", "status", "shop_id")),
    "creators": (("shop_id",),),
    "content": (("creator_id",),),
    "relations": (("target_id", "kind"),),
    "events": (("user_id", "ts"),),  # recent history per user; scans serve the rest
}


def _table(spec: KindSpec) -> sa.Table:
    cols = [
        sa.Column(f.name, _SQL_TYPES[f.type], nullable=f.name not in spec.key and not f.required)
        for f in spec.fields
    ]
    table = sa.Table(spec.table, metadata, *cols, sa.PrimaryKeyConstraint(*spec.key))
    for cols_ in _INDEXES.get(spec.name, ()):
        sa.Index(f"ix_{spec.table}_{'_'.join(cols_)}", *(table.c[c] for c in cols_))
    return table


TABLES: dict[str, sa.Table] = {name: _table(spec) for name, spec in KINDS.items()}

meta_table = sa.Table(
    "xingqu_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
)


def _chain_columns() -> tuple[sa.Column, ...]:
    """The hash chain of an append-only table (``xingqu.store.ledger``): the previous row's hash, this
    row's hash."""
    return (sa.Column("prev_hash", sa.String(64)), sa.Column("hash", sa.String(64)))


#: Every governance change, append-only: who, when, what, why, before → after (JSON). The store refuses
#: updates and deletes on it with triggers (``Dialect.protect_append_only``).
audit_table = sa.Table(
    "audit_log",
    metadata,
    sa.Column(
        "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("at", sa.BigInteger(), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("subject_kind", sa.String(32), nullable=False),
    sa.Column("subject_id", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("before", sa.Text()),
    sa.Column("after", sa.Text()),
    *_chain_columns(),
    sa.Index("ix_audit_log_subject", "subject_id"),
)

#: Listings screened to "review", waiting for a person; resolved entries stay with who decided and why.
review_table = sa.Table(
    "review_queue",
    metadata,
    sa.Column("listing_id", sa.String(128), primary_key=True),
    sa.Column("shop_id", sa.String(128)),
    sa.Column("title", sa.Text()),
    sa.Column("ruleset", sa.String(64), nullable=False),
    sa.Column("reasons", sa.Text(), nullable=False),  # JSON list of reasons
    sa.Column("status", sa.String(16), nullable=False),  # open | approved | rejected
    sa.Column("submitted_at", sa.BigInteger(), nullable=False),
    sa.Column("resolved_at", sa.BigInteger()),
    sa.Column("resolver", sa.String(128)),
    sa.Column("note", sa.Text()),
    sa.Index("ix_review_queue_status", "status"),
)

# -- rollups: derived from the event log at ingest (``xingqu.store.rollups``), read by analytics ----------

_ID = sa.String(MAX_ID_LENGTH)

#: One row per order: its amounts and times folded from its order, pay and refund events, with the shop,
#: channel and content kind it was sold through as of ingest.
order_facts_table = sa.Table(
    "order_facts",
    metadata,
    sa.Column("order_id", _ID, primary_key=True),
    sa.Column("user_id", _ID),
    sa.Column("product_id", _ID),
    sa.Column("shop_id", _ID),
    sa.Column("creator_id", _ID),
    sa.Column("content_id", _ID),
    sa.Column("content_kind", sa.String(16)),
    sa.Column("channel", sa.String(16), nullable=False),  # self | creator | other
    sa.Column("surface", sa.String(32)),
    sa.Column("placed", sa.BigInteger()),  # amount of the order event, fen
    sa.Column("paid", sa.BigInteger(), nullable=False),
    sa.Column("refunded", sa.BigInteger(), nullable=False),
    sa.Column("quality_refunded", sa.BigInteger(), nullable=False),
    sa.Column("units", sa.BigInteger()),
    sa.Column("order_ts", sa.BigInteger()),
    sa.Column("pay_ts", sa.BigInteger()),
    sa.Column("first_ts", sa.BigInteger(), nullable=False),
    sa.Index("ix_order_facts_shop_id", "shop_id"),
    sa.Index("ix_order_facts_user_paid", "user_id", "paid"),  # distinct buyers without a sort
    sa.Index("ix_order_facts_product_id", "product_id"),  # the orders of taken-down goods
)

#: Events per shop, local day (UTC+8), surface, channel and type ("" where an event has none).
daily_counts_table = sa.Table(
    "daily_counts",
    metadata,
    sa.Column("shop_id", _ID, primary_key=True),
    sa.Column("day", sa.Integer(), primary_key=True),  # days since 1970-01-01, marketplace time
    sa.Column("surface", sa.String(32), primary_key=True),
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("event_type", sa.String(32), primary_key=True),
    sa.Column("n", sa.BigInteger(), nullable=False),
)

#: The same counts over the whole marketplace (a few rows a day), for platform reports.
daily_totals_table = sa.Table(
    "daily_totals",
    metadata,
    sa.Column("day", sa.Integer(), primary_key=True),
    sa.Column("surface", sa.String(32), primary_key=True),
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("event_type", sa.String(32), primary_key=True),
    sa.Column("n", sa.BigInteger(), nullable=False),
)

#: Who entered which live session, how often and for how long: viewers and watch time per session.
live_viewers_table = sa.Table(
    "live_viewers",
    metadata,
    sa.Column("content_id", _ID, primary_key=True),
    sa.Column("user_id", _ID, primary_key=True),
    sa.Column("entries", sa.BigInteger(), nullable=False),
    sa.Column("watch_s", sa.Double(), nullable=False),
    sa.Column("first_ts", sa.BigInteger(), nullable=False),
)

#: Penalty points given to shops (append-only, like the audit log): the 12-month window sums them.
penalties_table = sa.Table(
    "penalties",
    metadata,
    sa.Column(
        "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("shop_id", _ID, nullable=False),
    sa.Column("at", sa.BigInteger(), nullable=False),
    sa.Column("violation", sa.String(64), nullable=False),
    sa.Column("points", sa.Integer(), nullable=False),
    sa.Column("subject_id", _ID),  # the product concerned, if any
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("ruleset", sa.String(64), nullable=False),
    *_chain_columns(),
    sa.Index("ix_penalties_shop_at", "shop_id", "at"),
)

#: Orders per marketplace day (of payment, else of placing), channel and shop, with the additive parts of
#: their GMV; kept in step with ``order_facts`` at ingest, so that platform reports read a few rows a day.
order_days_table = sa.Table(
    "order_days",
    metadata,
    sa.Column("day", sa.Integer(), primary_key=True),
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("shop_id", _ID, primary_key=True),  # "" when unknown
    *(
        sa.Column(name, sa.BigInteger(), nullable=False)
        for name in (
            "orders",
            "paid_orders",
            "units",
            "placed",
            "paid",
            "refunded",
            "net",
            "refunded_orders",
            "quality_refunded_orders",
        )
    ),
)

#: Paid orders per day, channel and buyer: distinct buyers per day and channel without a scan of orders.
buyer_days_table = sa.Table(
    "buyer_days",
    metadata,
    sa.Column("day", sa.Integer(), primary_key=True),
    sa.Column("channel", sa.String(16), primary_key=True),
    sa.Column("user_id", _ID, primary_key=True),
    sa.Column("paid_orders", sa.BigInteger(), nullable=False),
)

#: Trained model versions and their state: the registry every serving process asks which version to serve.
model_versions_table = sa.Table(
    "model_versions",
    metadata,
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),  # training, ready, retired
    sa.Column("created_at", sa.BigInteger(), nullable=False),  # UTC ms
    sa.Column("updated_at", sa.BigInteger(), nullable=False),
    sa.Column("manifest_sha256", sa.String(64)),  # of the version's manifest.json, once ready
    sa.Column("meta", sa.Text()),  # JSON: sizes, validation figures
)

#: API keys: only a slow hash of each secret is kept; the role and the shops or creator a key is scoped to.
api_keys_table = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # admin, ops, app, merchant, creator
    sa.Column("shops", sa.Text()),  # JSON array of shop ids (merchant keys)
    sa.Column("creator_id", _ID),  # creator keys
    sa.Column("secret_hash", sa.String(256), nullable=False),  # scrypt$n$r$p$salt$hash
    sa.Column("rate_per_s", sa.Integer()),  # requests per second; None: the server's default
    sa.Column("created_at", sa.BigInteger(), nullable=False),  # UTC ms
    sa.Column("revoked_at", sa.BigInteger()),
)

#: Online experiments: the definition (JSON), the hash salt, the slice of its layer, its window and state.
experiments_table = sa.Table(
    "experiments",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("layer", sa.String(64), nullable=False),
    sa.Column("salt", sa.String(64), nullable=False),
    sa.Column("spec", sa.Text(), nullable=False),  # JSON of the definition as submitted
    sa.Column("range_lo", sa.Double(), nullable=False),
    sa.Column("range_hi", sa.Double(), nullable=False),
    sa.Column("start_ms", sa.BigInteger(), nullable=False),
    sa.Column("end_ms", sa.BigInteger()),
    sa.Column("created_ms", sa.BigInteger(), nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("stopped_ms", sa.BigInteger()),
    sa.Column("stopped_by", sa.String(128)),
    sa.Column("stop_reason", sa.Text()),
    sa.Index("ix_experiments_layer", "layer"),
)

#: The exposure log: every feed response served from an experiment's arm, with its time and latency.
exposures_table = sa.Table(
    "exposures",
    metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("experiment", sa.String(64), primary_key=True),
    sa.Column("arm", sa.String(64), nullable=False),
    sa.Column("user_id", _ID, nullable=False),
    sa.Column("ts", sa.BigInteger(), nullable=False),  # UTC ms
    sa.Column("latency_ms", sa.Double(), nullable=False),
    sa.Index("ix_exposures_experiment_user", "experiment", "user_id"),
)


#: The columns the servability rule reads (``xingqu.domain.vocab.listed_in_good_standing`` and the stock):
#: a change to any of them is logged in ``servability_changes``.
SERVABILITY_COLUMNS: dict[str, tuple[str, ...]] = {
    "products": ("status", "stock", "shop_id"),
    "shops": ("status",),
}

#: How many of the newest servability changes the log keeps.
SERVABILITY_LOG_ROWS = 100_000

#: Products and shops whose servability may have changed, in commit order (written by triggers on the
#: embedded store, where writers are serialised): a serving process keeps the servable set in memory and
#: reads only what changed since it last looked (``xingqu.online.servability.SnapshotServability``).
servability_changes_table = sa.Table(
    "servability_changes",
    metadata,
    sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("product_id", _ID),
    sa.Column("shop_id", _ID),
    sqlite_autoincrement=True,
)
