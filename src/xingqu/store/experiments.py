"""Online experiments' rows and their exposure log (the rules — what may change when, how users are
assigned — stay in ``xingqu.experiments`` and ``xingqu.services.experiments``). Changes take the
caller's ``conn``, so that a change and its audit entry commit together."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from xingqu.domain.vocab import BLOCKED_SHOP_STATUSES, SERVABLE_PRODUCT_STATUSES
from xingqu.store.repository import Repository
from xingqu.store.schema import TABLES
from xingqu.store.schema import experiments_table as ex
from xingqu.store.schema import exposures_table as xp


class Experiments(Repository):
    """Experiment definitions and states; the feed responses served from their arms."""

    def insert(self, conn: Connection, row: dict[str, Any]) -> None:
        """Store a new experiment (a full ``experiments`` row)."""
        conn.execute(sa.insert(ex).values(**row))

    def get(self, name: str, conn: Connection | None = None) -> dict[str, Any] | None:
        """One experiment's row (None when unknown)."""
        with self._conn(conn) as c:
            found = c.execute(sa.select(ex).where(ex.c.name == name)).mappings().first()
        return dict(found) if found is not None else None

    def rows(self, conn: Connection | None = None, layer: str | None = None) -> list[dict[str, Any]]:
        """Every experiment (of one layer when given), oldest first."""
        q = sa.select(ex).order_by(ex.c.created_ms, ex.c.name)
        if layer is not None:
            q = q.where(ex.c.layer == layer)
        with self._conn(conn) as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def live(self, now_ms: int, conn: Connection | None = None) -> list[dict[str, Any]]:
        """Experiments not stopped whose end has not passed (running or scheduled)."""
        q = (
            sa.select(ex)
            .where(ex.c.stopped_ms.is_(None), sa.or_(ex.c.end_ms.is_(None), ex.c.end_ms > now_ms))
            .order_by(ex.c.created_ms, ex.c.name)
        )
        with self._conn(conn) as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def stop(self, conn: Connection, name: str, at_ms: int, actor: str, reason: str) -> bool:
        """Mark an experiment stopped; False when it is unknown or already stopped."""
        done = conn.execute(
            sa.update(ex)
            .where(ex.c.name == name, ex.c.stopped_ms.is_(None))
            .values(stopped_ms=at_ms, stopped_by=actor, stop_reason=reason)
        )
        return bool(done.rowcount)

    # -- exposure log ---------------------------------------------------------------------------

    def log_exposures(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append feed responses served from arms (request_id, experiment, arm, user_id, ts,
        latency_ms), in a write of their own; a repeated (request, experiment) is kept once."""
        if not rows:
            return
        with self._store.writing() as conn:
            keys = [(r["request_id"], r["experiment"]) for r in rows]
            found = {
                (a, b)
                for a, b in conn.execute(
                    sa.select(xp.c.request_id, xp.c.experiment).where(
                        xp.c.request_id.in_([k[0] for k in keys])
                    )
                )
            }
            fresh = []
            for r, k in zip(rows, keys, strict=True):
                if k not in found:
                    found.add(k)
                    fresh.append(r)
            if fresh:
                conn.execute(sa.insert(xp), fresh)

    def exposures(self, experiment: str, conn: Connection | None = None) -> list[dict[str, Any]]:
        """Every response served from ``experiment``'s arms, in time order."""
        q = sa.select(xp).where(xp.c.experiment == experiment).order_by(xp.c.ts, xp.c.request_id)
        with self._conn(conn) as c:
            return [dict(r) for r in c.execute(q).mappings()]

    def exposure_counts(self, experiment: str, conn: Connection | None = None) -> dict[str, tuple[int, int]]:
        """Per arm: distinct users and responses served."""
        q = (
            sa.select(xp.c.arm, sa.func.count(sa.distinct(xp.c.user_id)), sa.func.count())
            .where(xp.c.experiment == experiment)
            .group_by(xp.c.arm)
        )
        with self._conn(conn) as c:
            return {str(a): (int(u), int(n)) for a, u, n in c.execute(q)}

    def not_in_good_standing(self, product_ids: Sequence[str], conn: Connection | None = None) -> set[str]:
        """Which of ``product_ids`` are no longer listed or sold by a suspended or closed shop: their sales
        are left out of quality GMV, as analytics leaves them out."""
        p, s = TABLES["products"], TABLES["shops"]
        ids = sorted(set(product_ids))
        out: set[str] = set()
        with self._conn(conn) as c:
            for lo in range(0, len(ids), 500):
                q = (
                    sa.select(p.c.product_id)
                    .select_from(p.outerjoin(s, p.c.shop_id == s.c.shop_id))
                    .where(
                        p.c.product_id.in_(ids[lo : lo + 500]),
                        sa.or_(
                            p.c.status.is_(None),
                            p.c.status.not_in(SERVABLE_PRODUCT_STATUSES),
                            sa.func.coalesce(s.c.status, "").in_(BLOCKED_SHOP_STATUSES),
                        ),
                    )
                )
                out.update(str(r[0]) for r in c.execute(q))
        return out

    def delete_scheduled(self, conn: Connection, name: str) -> None:
        """Remove an experiment that never started (its definition is replaced by an edit)."""
        conn.execute(sa.delete(ex).where(ex.c.name == name, ex.c.stopped_ms.is_(None)))
