"""Catalogue reads and the few catalogue writes governance makes (a product's status, a shop's status
or experience score): products, shops, brands, creators, content and relations.

Every method takes an optional ``conn``: given, it runs inside that transaction (an import sees the
rows it has just written; a governance change reads and writes in one transaction); else in a read
of its own.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from xingqu.domain.records import kind_spec
from xingqu.domain.vocab import BLOCKED_SHOP_STATUSES, SERVABLE_PRODUCT_STATUSES
from xingqu.errors import NotFoundError
from xingqu.store.dialects import IN_CHUNK
from xingqu.store.repository import Repository
from xingqu.store.schema import TABLES, servability_changes_table

if TYPE_CHECKING:
    from xingqu.store.store import Store

#: Ids per ``IN (…)`` list of a chunked lookup.
_CHUNK = 5_000
#: Products per read of ``product_cards`` (within every driver's limit of bound parameters).
_CARD_CHUNK = 500
_CARDS_SQL = (
    "SELECT p.product_id, p.title, p.price, p.shop_id, s.name, p.brand_id, b.name, p.category "
    "FROM products p LEFT JOIN shops s ON s.shop_id = p.shop_id "
    "LEFT JOIN brands b ON b.brand_id = p.brand_id WHERE p.product_id IN"
)


def listed_in_good_standing(product: sa.Table, shop: sa.Table) -> sa.ColumnElement[bool]:
    """The servability rule of ``xingqu.domain.vocab`` but stock, in SQL over a product row and its
    (outer-joined) shop row: listed, and the shop neither suspended nor closed."""
    return sa.and_(
        product.c.status.in_(SERVABLE_PRODUCT_STATUSES),
        sa.or_(shop.c.status.is_(None), shop.c.status.not_in(BLOCKED_SHOP_STATUSES)),
    )


#: Every product that may be shown now: listed, in stock, its shop in good standing.
_ALL_SERVABLE = (
    sa.select(TABLES["products"].c.product_id)
    .select_from(
        TABLES["products"].outerjoin(
            TABLES["shops"], TABLES["shops"].c.shop_id == TABLES["products"].c.shop_id
        )
    )
    .where(TABLES["products"].c.stock > 0, listed_in_good_standing(TABLES["products"], TABLES["shops"]))
)
#: Changes in the servability log after a sequence number, oldest first (SQLite's parameter style: the
#: log is kept only where writers are serialised, ``Dialect.logs_servability``).
_CHANGES_SQL = "SELECT seq, product_id, shop_id FROM servability_changes WHERE seq > ? ORDER BY seq LIMIT ?"
#: Which of some product ids may be shown now, built once: a feed asks it on every request.
_SERVABLE = _ALL_SERVABLE.where(TABLES["products"].c.product_id.in_(sa.bindparam("ids", expanding=True)))


#: Committed keys remembered per kind at most (then forgotten all at once and learnt again).
MAX_REMEMBERED_KEYS = 2_000_000


class Catalogue(Repository):
    """Queries over the catalogue tables (see the module docstring for ``conn``)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        #: kind → keys known to be committed (catalogue rows are never deleted, so they stay true)
        self._committed: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def remember(self, kind: str, keys: Iterable[str]) -> None:
        """Keys of ``kind`` now committed: later ``known_among`` calls need not ask the database."""
        with self._lock:
            known = self._committed.setdefault(kind, set())
            if len(known) > MAX_REMEMBERED_KEYS:
                known.clear()
            known.update(keys)

    def known_among(self, kind: str, wanted: list[str], conn: Connection | None = None) -> list[str]:
        """Which of ``wanted`` keys of ``kind`` exist, those remembered as committed without a query."""
        with self._lock:
            known = self._committed.get(kind, set())
            hit = [k for k in wanted if k in known]
            rest = [k for k in wanted if k not in known]
        if not rest:
            return hit
        return hit + self.keys(kind, conn, among=rest).to_pylist()

    # -- keys and lookups -------------------------------------------------------------------------

    def keys(self, kind: str, conn: Connection | None = None, among: list[str] | None = None) -> pa.Array:
        """Every key of a single-key kind, for reference checks and vocabularies; only those ``among``
        some wanted keys when given (a small batch checks its own references, not the whole table's:
        without ``conn``, one raw read per chunk on the store's kept connection, ``Store.read_small``)."""
        (key,) = kind_spec(kind).key
        table = TABLES[kind]
        dialect = self._store.dialect
        if among is not None and conn is None:
            values = []
            for lo in range(0, len(among), IN_CHUNK):
                chunk = tuple(among[lo : lo + IN_CHUNK])
                rows = self._store.read_small(dialect.among_sql(table.name, key, (key,), len(chunk)), chunk)
                values.extend(v for (v,) in rows)
            return pa.array(values, type=pa.string())
        with self._conn(conn) as c:
            if among is None:
                return dialect.column_values(c, table.name, key)[0]
            values = [v for (v,) in dialect.rows_among(c, table.name, key, (key,), among)]
        return pa.array(values, type=pa.string())

    def require_known(self, kind: str, key: str) -> None:
        """Raise ``NotFoundError`` unless a record of ``kind`` (a single-key kind) has key ``key``: a
        report on an unknown shop is an error, not a page of zeros."""
        (column,) = kind_spec(kind).key
        table = TABLES[kind]
        with self._conn(None) as conn:
            found = conn.execute(sa.select(table.c[column]).where(table.c[column] == key).limit(1)).first()
        if found is None:
            noun = kind if kind == "content" else kind.removesuffix("s")
            raise NotFoundError(f"unknown {noun} {key!r}")

    def user_profile(self, user_id: str) -> dict[str, Any] | None:
        """The users row of ``user_id`` (None when unknown)."""
        u = TABLES["users"]
        with self._conn(None) as conn:
            row = conn.execute(sa.select(u).where(u.c.user_id == user_id)).mappings().first()
        return dict(row) if row else None

    def product_titles(self, product_ids: list[str]) -> dict[str, tuple[str, int]]:
        """Title and price (fen) of each known product among ``product_ids``."""
        p = TABLES["products"]
        with self._conn(None) as conn:
            rows = conn.execute(
                sa.select(p.c.product_id, p.c.title, p.c.price).where(p.c.product_id.in_(list(product_ids)))
            ).all()
        return {pid: (title, int(price)) for pid, title, price in rows}

    def product_row(self, product_id: str) -> dict[str, Any] | None:
        """The products row of ``product_id`` with its shop's and brand's names and the shop's status
        (None when the product is unknown)."""
        p, shops, brands = TABLES["products"], TABLES["shops"], TABLES["brands"]
        q = (
            sa.select(
                p,
                shops.c.name.label("shop"),
                shops.c.status.label("shop_status"),
                brands.c.name.label("brand"),
            )
            .select_from(
                p.outerjoin(shops, shops.c.shop_id == p.c.shop_id).outerjoin(
                    brands, brands.c.brand_id == p.c.brand_id
                )
            )
            .where(p.c.product_id == product_id)
        )
        with self._conn(None) as conn:
            row = conn.execute(q).mappings().first()
        return dict(row) if row else None

    def product_ids(self) -> list[str]:
        """Every product id in the store."""
        p = TABLES["products"]
        with self._conn(None) as conn:
            return list(conn.execute(sa.select(p.c.product_id)).scalars())

    def product_cards(self, product_ids: list[str]) -> dict[str, dict[str, Any]]:
        """What a client shows of each known product among ``product_ids``: title, price (fen), shop and
        brand (id and name) and category path. Asked for every feed served: one raw read per chunk
        on the store's kept connection (``Store.read_small``)."""
        out: dict[str, dict[str, Any]] = {}
        mark = self._store.dialect.placeholder
        for lo in range(0, len(product_ids), _CARD_CHUNK):
            chunk = tuple(product_ids[lo : lo + _CARD_CHUNK])
            rows = self._store.read_small(f"{_CARDS_SQL} ({', '.join([mark] * len(chunk))})", chunk)
            for pid, title, price, shop_id, shop, brand_id, brand, category in rows:
                out[pid] = {
                    "title": title,
                    "price": int(price),
                    "shop_id": shop_id,
                    "shop": shop,
                    "brand_id": brand_id,
                    "brand": brand,
                    "category": category,
                }
        return out

    def servable_products(self, product_ids: list[str]) -> set[str]:
        """Which of ``product_ids`` may be shown now: listed, in stock, and not of a suspended or closed
        shop — the servability rule of ``xingqu.domain.vocab`` (governance wins everywhere)."""
        if not product_ids:
            return set()
        out: set[str] = set()
        with self._conn(None) as conn:
            for lo in range(0, len(product_ids), _CHUNK):
                out.update(conn.execute(_SERVABLE, {"ids": product_ids[lo : lo + _CHUNK]}).scalars().all())
        return out

    # -- the servability change log (``schema.servability_changes_table``) ----------------------------

    @property
    def logs_servability(self) -> bool:
        """Whether this store logs servability changes (so the servable set may be kept in memory)."""
        return self._store.dialect.logs_servability

    def servable_now(self) -> tuple[int, set[str]]:
        """The last servability change logged, then every product servable now (read in that order, so
        that a change committed in between is in both and applied twice, never missed)."""
        log = servability_changes_table
        with self._conn(None) as conn:
            last = conn.execute(sa.select(sa.func.coalesce(sa.func.max(log.c.seq), 0))).scalar_one()
        with self._conn(None) as conn:
            return int(last), set(conn.execute(_ALL_SERVABLE).scalars())

    def servability_changes(self, after: int, limit: int) -> tuple[list[int], list[str]]:
        """Up to ``limit`` changes logged after sequence number ``after``: their sequence numbers, and
        the products they touch (each product of a changed shop, too)."""
        rows = self._store.read_small(_CHANGES_SQL, (after, limit))  # asked at every request: kept cheap
        if not rows:
            return [], []
        products = {product for _, product, _ in rows if product is not None}
        shops = sorted({shop for _, _, shop in rows if shop is not None})
        p = TABLES["products"]
        with self._conn(None) as conn:
            for lo in range(0, len(shops), _CHUNK):
                chunk = shops[lo : lo + _CHUNK]
                products.update(
                    conn.execute(sa.select(p.c.product_id).where(p.c.shop_id.in_(chunk))).scalars()
                )
        return [int(seq) for seq, _, _ in rows], sorted(products)

    def product_shops(self, conn: Connection | None = None) -> dict[str, str]:
        """Each product's shop."""
        p = TABLES["products"]
        with self._conn(conn) as c:
            return {pid: shop for pid, shop in c.execute(sa.select(p.c.product_id, p.c.shop_id))}

    # -- what screening compares a listing with ---------------------------------------------------

    def brand_names(self, conn: Connection | None = None) -> list[tuple[str, str | None]]:
        """(brand id, registered name) of every brand."""
        b = TABLES["brands"]
        with self._conn(conn) as c:
            return [(brand, name) for brand, name in c.execute(sa.select(b.c.brand_id, b.c.name))]

    def shop_brands(self, conn: Connection | None = None) -> dict[str, list[str]]:
        """The brands each shop is authorised to sell (an empty list when none are recorded)."""
        s = TABLES["shops"]
        with self._conn(conn) as c:
            return {
                shop: json.loads(b) if b else []
                for shop, b in c.execute(sa.select(s.c.shop_id, s.c.brand_ids))
            }

    def listings(self, conn: Connection | None = None) -> list[tuple[str, str, str, str | None, str | None]]:
        """(product, shop, title, brand, category) of every product: what new listings are compared with."""
        p = TABLES["products"]
        with self._conn(conn) as c:
            return [
                tuple(r)  # type: ignore[misc]
                for r in c.execute(
                    sa.select(p.c.product_id, p.c.shop_id, p.c.title, p.c.brand_id, p.c.category)
                )
            ]

    def listed_prices(
        self, conn: Connection | None = None
    ) -> list[tuple[str | None, str | None, int | None]]:
        """(brand, category, price) of every listed product: the usual prices listings are judged by."""
        p = TABLES["products"]
        with self._conn(conn) as c:
            return [
                tuple(r)  # type: ignore[misc]
                for r in c.execute(
                    sa.select(p.c.brand_id, p.c.category, p.c.price).where(p.c.status == "listed")
                )
            ]

    # -- governance changes -----------------------------------------------------------------------

    def product_status(self, conn: Connection, product_id: str) -> str | None:
        """A product's status (None when the product is unknown)."""
        p = TABLES["products"]
        return conn.execute(sa.select(p.c.status).where(p.c.product_id == product_id)).scalar_one_or_none()  # type: ignore[no-any-return]

    def set_product_status(self, conn: Connection, product_id: str, status: str) -> None:
        """Set a product's status inside ``conn``'s transaction (the caller audits it)."""
        p = TABLES["products"]
        conn.execute(sa.update(p).where(p.c.product_id == product_id).values(status=status))

    def shop_status(self, shop_id: str, conn: Connection | None = None) -> tuple[bool, str | None]:
        """Whether the shop is known, and its status."""
        s = TABLES["shops"]
        with self._conn(conn) as c:
            row = c.execute(sa.select(s.c.status).where(s.c.shop_id == shop_id)).first()
        return (False, None) if row is None else (True, row[0])

    def set_shop_status(self, conn: Connection, shop_id: str, status: str) -> None:
        """Set a shop's status inside ``conn``'s transaction (the caller audits it)."""
        s = TABLES["shops"]
        conn.execute(sa.update(s).where(s.c.shop_id == shop_id).values(status=status))

    def experience_scores(self, conn: Connection | None = None) -> dict[str, float | None]:
        """Every shop's stored experience score (None when unscored)."""
        s = TABLES["shops"]
        with self._conn(conn) as c:
            return dict(c.execute(sa.select(s.c.shop_id, s.c.experience_score)).all())  # type: ignore[arg-type]

    def set_experience_score(self, conn: Connection, shop_id: str, score: float) -> None:
        """Set a shop's experience score inside ``conn``'s transaction (the caller audits it)."""
        s = TABLES["shops"]
        conn.execute(sa.update(s).where(s.c.shop_id == shop_id).values(experience_score=score))

    # -- relations and content --------------------------------------------------------------------

    def relations_of(self, user_ids: list[str]) -> set[tuple[str, str]]:
        """(user, target) of every stored relation of ``user_ids`` (follows, fan groups, memberships)."""
        r = TABLES["relations"]
        out: set[tuple[str, str]] = set()
        with self._conn(None) as conn:
            for lo in range(0, len(user_ids), _CHUNK):
                q = sa.select(r.c.user_id, r.c.target_id).where(r.c.user_id.in_(user_ids[lo : lo + _CHUNK]))
                out.update((u, t) for u, t in conn.execute(q))
        return out

    def official_accounts(self, shop_ids: list[str]) -> dict[str, str]:
        """The official account of each of ``shop_ids`` that has one."""
        s = TABLES["shops"]
        out: dict[str, str] = {}
        with self._conn(None) as conn:
            for lo in range(0, len(shop_ids), _CHUNK):
                q = sa.select(s.c.shop_id, s.c.official_account_id).where(
                    s.c.shop_id.in_(shop_ids[lo : lo + _CHUNK])
                )
                out.update({k: v for k, v in conn.execute(q) if v is not None})
        return out

    def live_sessions(self, shop_id: str | None = None) -> list[tuple[Any, ...]]:
        """(content, creator, title, published_at, ended_at, duration_s, creator kind) of every live
        session (of one shop's accounts, when given)."""
        c, k = TABLES["content"], TABLES["creators"]
        q = (
            sa.select(
                c.c.content_id,
                c.c.creator_id,
                c.c.title,
                c.c.published_at,
                c.c.ended_at,
                c.c.duration_s,
                k.c.kind,
            )
            .select_from(c.outerjoin(k, k.c.creator_id == c.c.creator_id))
            .where(c.c.kind == "live")
        )
        if shop_id is not None:
            q = q.where(k.c.shop_id == shop_id)
        with self._conn(None) as conn:
            return [tuple(r) for r in conn.execute(q)]
