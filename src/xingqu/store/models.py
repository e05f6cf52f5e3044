"""The model registry's rows: which trained versions exist, their state and the digest of their
manifest. Every serving process asks here which version to serve."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from xingqu.store.schema import model_versions_table as mv

STATUSES = ("training", "ready", "retired")


def record(
    conn: Connection,
    version: str,
    status: str,
    at_ms: int,
    manifest_sha256: str | None = None,
    meta: dict[str, Any] | None = None,
) -> None:
    """Insert a version, or move an existing one to ``status`` (keeping what it already had)."""
    found = conn.execute(sa.select(mv.c.version).where(mv.c.version == version)).first()
    values: dict[str, Any] = {"status": status, "updated_at": at_ms}
    if manifest_sha256 is not None:
        values["manifest_sha256"] = manifest_sha256
    if meta is not None:
        values["meta"] = json.dumps(meta, ensure_ascii=False, default=str)
    if found is None:
        conn.execute(sa.insert(mv).values(version=version, created_at=at_ms, **values))
    else:
        conn.execute(sa.update(mv).where(mv.c.version == version).values(**values))


def rows(conn: Connection) -> list[dict[str, Any]]:
    """Every registered version, oldest first."""
    out = []
    for r in conn.execute(sa.select(mv).order_by(mv.c.version)).mappings():
        row = dict(r)
        row["meta"] = json.loads(row["meta"]) if row["meta"] else None
        out.append(row)
    return out


def current(conn: Connection) -> tuple[str, str | None] | None:
    """The newest ready version and its manifest digest (None when no version is ready)."""
    row = conn.execute(
        sa.select(mv.c.version, mv.c.manifest_sha256)
        .where(mv.c.status == "ready")
        .order_by(mv.c.version.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else None


def count(conn: Connection) -> int:
    """How many versions are registered (0: a store from before the registry, or never trained)."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(mv)).scalar_one())
