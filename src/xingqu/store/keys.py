"""The API keys' rows: id, name, role and scope, and a slow hash of the secret (never the secret)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from xingqu.store.schema import api_keys_table as keys

if TYPE_CHECKING:
    from xingqu.store.store import Store


def _row(r: Any) -> dict[str, Any]:
    row = dict(r)
    row["shops"] = json.loads(row["shops"]) if row["shops"] else []
    return row


def insert(
    conn: Connection,
    *,
    key_id: str,
    name: str,
    role: str,
    shops: list[str],
    creator_id: str | None,
    secret_hash: str,
    rate_per_s: int | None,
    created_at: int,
) -> None:
    """Store a new key (its secret only as ``secret_hash``)."""
    conn.execute(
        sa.insert(keys).values(
            key_id=key_id,
            name=name,
            role=role,
            shops=json.dumps(shops, ensure_ascii=False) if shops else None,
            creator_id=creator_id,
            secret_hash=secret_hash,
            rate_per_s=rate_per_s,
            created_at=created_at,
            revoked_at=None,
        )
    )


def get(conn: Connection, key_id: str) -> dict[str, Any] | None:
    """One key's row (None when unknown)."""
    found = conn.execute(sa.select(keys).where(keys.c.key_id == key_id)).mappings().first()
    return _row(found) if found is not None else None


_COLUMNS = [c.name for c in keys.c]


def lookup(store: Store, key_id: str) -> dict[str, Any] | None:
    """``get`` as every request asks it: one read on the store's kept connection (``read_small``)."""
    sql = f"SELECT {', '.join(_COLUMNS)} FROM api_keys WHERE key_id = {store.dialect.placeholder}"
    found = store.read_small(sql, (key_id,))
    return _row(dict(zip(_COLUMNS, found[0], strict=True))) if found else None


def rows(conn: Connection, include_revoked: bool = True) -> list[dict[str, Any]]:
    """Every key, oldest first, without the hashes."""
    q = sa.select(*(c for c in keys.c if c.name != "secret_hash")).order_by(keys.c.created_at, keys.c.key_id)
    if not include_revoked:
        q = q.where(keys.c.revoked_at.is_(None))
    return [_row(r) for r in conn.execute(q).mappings()]


def revoke(conn: Connection, key_id: str, at_ms: int) -> bool:
    """Mark a key revoked; False when it is unknown or already revoked."""
    done = conn.execute(
        sa.update(keys).where(keys.c.key_id == key_id, keys.c.revoked_at.is_(None)).values(revoked_at=at_ms)
    )
    return bool(done.rowcount)
