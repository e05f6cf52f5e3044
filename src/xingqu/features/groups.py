"""Who belongs to which group of people: a creator's followers, fan-group members, recent viewers and
buyers; a shop's or brand's followers, members and buyers (with their first and last purchase); a
product's or category's buyers. Sparse group × user matrices built once from the market, so that a
group of a million members is one row slice."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from xingqu.dataset.matrix import Vocabulary
from xingqu.domain.units import DAY_MS
from xingqu.errors import NotFoundError
from xingqu.features.market import MarketTables, kept_pays, strings

WINDOW_DAYS = 30


def _matrix(
    rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], data: np.ndarray | None = None
) -> sp.csr_matrix:
    ok = (rows >= 0) & (cols >= 0)
    values = np.ones(ok.sum(), np.float64) if data is None else data[ok].astype(np.float64)
    m = sp.csr_matrix((values, (rows[ok], cols[ok])), shape=shape)
    return m


def _binary(m: sp.csr_matrix) -> sp.csr_matrix:
    m = m.tocsr()
    m.sum_duplicates()
    m.data[:] = 1.0
    m.eliminate_zeros()
    return m


@dataclass(frozen=True)
class Relations:
    """Who follows which account, is in whose fan group, is a member of which shop (rows accounts or
    shops, columns users; 1 where so), from the relations table and the follow / join events of the log."""

    follows: sp.csr_matrix  # follows and fan groups
    fan_groups: sp.csr_matrix
    members: sp.csr_matrix
    event_kinds: np.ndarray  # every event's type, for callers reading the log too
    event_users: np.ndarray  # user index of every event, -1 unknown
    event_accounts: np.ndarray  # creator account of every event, -1 none


def relations(market: MarketTables, users: Vocabulary, creators: Vocabulary, shops: Vocabulary) -> Relations:
    """The one reading of follows, fan groups and memberships (groups and profiles share it)."""
    rel, e = market.relations, market.events

    def both(vocab: Vocabulary, rel_column: str, event_column: str) -> np.ndarray:
        return np.concatenate([vocab.lookup_arrow(rel[rel_column]), vocab.lookup_arrow(e[event_column])])

    kinds = np.concatenate([strings(rel, "kind"), strings(e, "event_type")])
    who = both(users, "user_id", "user_id")
    account = both(creators, "target_id", "creator_id")
    shop_t = both(shops, "target_id", "shop_id")
    fol = np.isin(kinds, ["follow", "fan_group", "join_fan_group"])
    fan = np.isin(kinds, ["fan_group", "join_fan_group"])
    mem = np.isin(kinds, ["membership", "join_membership"])
    shape_k = (len(creators), len(users))
    return Relations(
        _binary(_matrix(account[fol], who[fol], shape_k)),
        _binary(_matrix(account[fan], who[fan], shape_k)),
        _binary(_matrix(shop_t[mem], who[mem], (len(shops), len(users)))),
        kinds[rel.num_rows :],
        who[rel.num_rows :],
        account[rel.num_rows :],
    )


def _extreme(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int], largest: bool
) -> sp.csr_matrix:
    """One entry per (row, col): the smallest or largest value (times in days, kept > 0)."""
    ok = (rows >= 0) & (cols >= 0)
    r, c, v = rows[ok], cols[ok], values[ok]
    order = np.lexsort((-v if largest else v, c, r))
    r, c, v = r[order], c[order], v[order]
    first = np.r_[True, (r[1:] != r[:-1]) | (c[1:] != c[:-1])] if len(r) else np.zeros(0, bool)
    return sp.csr_matrix((v[first], (r[first], c[first])), shape=shape)


@dataclass
class Groups:
    """Group memberships, rows = group, columns = user index (``users``)."""

    users: Vocabulary
    creators: Vocabulary
    shops: Vocabulary
    brands: Vocabulary
    items: Vocabulary
    categories: Vocabulary  # level-1 names
    item_category: np.ndarray  # level-1 index per item, -1 unknown
    item_brand: np.ndarray  # brand index per item, -1 none
    item_shop: np.ndarray
    shop_official: np.ndarray  # creator index per shop, -1
    shop_brands: sp.csr_matrix  # shops × brands authorised
    follows: sp.csr_matrix  # creators × users
    fan_groups: sp.csr_matrix  # creators × users
    members: sp.csr_matrix  # shops × users
    viewers: sp.csr_matrix  # creators × users, plays or room visits in the window
    creator_buyers: sp.csr_matrix  # creators × users, kept purchases through the creator in the window
    first_paid: sp.csr_matrix  # items × users: day (ms / DAY_MS + 1) of the first kept purchase
    last_paid: sp.csr_matrix  # items × users: day of the last kept purchase
    now_ms: int
    window_days: float

    @classmethod
    def build(cls, market: MarketTables, window_days: float = WINDOW_DAYS) -> Groups:
        users = Vocabulary(market.user_ids())
        creators = Vocabulary(np.array(sorted(set(market.creators["creator_id"].to_pylist())), dtype=object))
        p = market.products
        shops = Vocabulary(
            np.array(
                sorted(set(market.shops["shop_id"].to_pylist()) | set(p["shop_id"].to_pylist())), dtype=object
            )
        )
        brand_ids = set(strings(p, "brand_id").tolist()) - {""}
        for row in market.shops["brand_ids"].to_pylist():
            brand_ids |= set(row or ())
        brands = Vocabulary(np.array(sorted(brand_ids), dtype=object))
        items = Vocabulary(np.array(sorted(set(p["product_id"].to_pylist())), dtype=object))
        level1 = np.array([c.split(">")[0] for c in strings(p, "category")], dtype=object)
        categories = Vocabulary(np.array(sorted(set(level1.tolist()) - {""}), dtype=object))
        pi = items.lookup(p["product_id"].to_numpy(zero_copy_only=False))
        item_category = np.full(len(items), -1, np.int64)
        item_category[pi] = categories.lookup(level1)
        item_brand = np.full(len(items), -1, np.int64)
        item_brand[pi] = brands.lookup(strings(p, "brand_id"))
        item_shop = np.full(len(items), -1, np.int64)
        item_shop[pi] = shops.lookup(strings(p, "shop_id"))
        s = market.shops
        shop_official = np.full(len(shops), -1, np.int64)
        si = shops.lookup(s["shop_id"].to_numpy(zero_copy_only=False))
        shop_official[si] = creators.lookup(strings(s, "official_account_id"))
        sb_rows, sb_cols = [], []
        for k, row in zip(si.tolist(), s["brand_ids"].to_pylist(), strict=True):
            for b in row or ():
                sb_rows.append(k)
                sb_cols.append(b)
        shop_brands = _binary(
            _matrix(
                np.array(sb_rows, np.int64),
                brands.lookup(np.array(sb_cols, dtype=object)),
                (len(shops), len(brands)),
            )
        )
        e = market.events
        rel = relations(market, users, creators, shops)
        follows, fan_groups, members = rel.follows, rel.fan_groups, rel.members
        shape_k = (len(creators), len(users))
        # behaviour in the window
        ts = pc.cast(e["ts"], pa.int64()).to_numpy() if e.num_rows else np.zeros(0, np.int64)
        now = int(ts.max()) if len(ts) else 0
        recent = ts >= now - window_days * DAY_MS
        ev_kind, ev_user, ev_acc = rel.event_kinds, rel.event_users, rel.event_accounts
        watched = recent & np.isin(ev_kind, ["video_play", "live_enter"])
        viewers = _binary(_matrix(ev_acc[watched], ev_user[watched], shape_k))
        kept = kept_pays(e)
        bought = recent & kept
        creator_buyers = _binary(_matrix(ev_acc[bought], ev_user[bought], shape_k))
        ev_item = items.lookup_arrow(e["product_id"])
        day = ts // DAY_MS + 1.0  # +1: day 0 must not vanish as a sparse zero
        k_idx = np.flatnonzero(kept)
        shape_i = (len(items), len(users))
        first_paid = _extreme(
            ev_item[k_idx], ev_user[k_idx], day[k_idx].astype(float), shape_i, largest=False
        )
        last_paid = _extreme(ev_item[k_idx], ev_user[k_idx], day[k_idx].astype(float), shape_i, largest=True)
        return cls(
            users,
            creators,
            shops,
            brands,
            items,
            categories,
            item_category,
            item_brand,
            item_shop,
            shop_official,
            shop_brands,
            follows,
            fan_groups,
            members,
            viewers,
            creator_buyers,
            first_paid,
            last_paid,
            now,
            window_days,
        )

    # -- lookups --------------------------------------------------------------------------------

    def _index(self, vocab: Vocabulary, key: str, what: str) -> int:
        i = vocab.index.get(key)
        if i is None:
            raise NotFoundError(f"unknown {what} {key!r}")
        return i

    def creator(self, creator_id: str) -> int:
        return self._index(self.creators, creator_id, "creator")

    def shop(self, shop_id: str) -> int:
        return self._index(self.shops, shop_id, "shop")

    def brand(self, brand_id: str) -> int:
        return self._index(self.brands, brand_id, "brand")

    def item(self, product_id: str) -> int:
        return self._index(self.items, product_id, "product")

    def category(self, name: str) -> int:
        return self._index(self.categories, name, "category")

    @staticmethod
    def row(m: sp.csr_matrix, r: int) -> np.ndarray:
        return m.indices[m.indptr[r] : m.indptr[r + 1]].astype(np.int64)

    def items_of(
        self, *, shop: int | None = None, brand: int | None = None, category: int | None = None
    ) -> np.ndarray:
        ok = np.ones(len(self.items), bool)
        if shop is not None:
            ok &= self.item_shop == shop
        if brand is not None:
            ok &= self.item_brand == brand
        if category is not None:
            ok &= self.item_category == category
        return np.flatnonzero(ok)

    def buyers(self, items: np.ndarray, window: bool = True) -> np.ndarray:
        """Users with a kept purchase of any of ``items`` (in the window, or ever)."""
        last = self.last_paid[items]
        if window:
            last = last.multiply(last >= self.window_start_day).tocsr()
        return np.unique(last.indices).astype(np.int64)

    @property
    def window_start_day(self) -> int:
        """The first day inside the window, in the 1-based day numbers of ``first_paid`` / ``last_paid``."""
        return int((self.now_ms - self.window_days * DAY_MS) // DAY_MS + 1)

    def buyer_split(self, items: np.ndarray, active_days: float = 90.0) -> dict[str, np.ndarray]:
        """Past buyers of ``items`` as new (first purchase in the window), active (last purchase within
        ``active_days``, first before the window) and lapsed (nothing for ``active_days``)."""
        first = self.first_paid[items]
        last = self.last_paid[items]
        if first.nnz == 0:
            empty = np.zeros(0, np.int64)
            return {"new": empty, "active": empty, "lapsed": empty}
        first_day = _col_min(first)
        last_day = _col_max(last)
        today = self.now_ms // DAY_MS + 1
        bought = np.flatnonzero(last_day > 0)
        f, l_ = first_day[bought], last_day[bought]
        new = f >= self.window_start_day  # the same window as buyers()
        active = ~new & (l_ > today - active_days)
        return {"new": bought[new], "active": bought[active], "lapsed": bought[~new & ~active]}

    def creator_audience(self, creator: int) -> np.ndarray:
        """A creator's audience: followers and the window's viewers and buyers."""
        rows = [
            self.row(self.follows, creator),
            self.row(self.viewers, creator),
            self.row(self.creator_buyers, creator),
        ]
        return np.unique(np.concatenate(rows))

    def shop_followers(self, shops: np.ndarray) -> np.ndarray:
        """Followers of the shops' official accounts and the shops' members."""
        accounts = self.shop_official[shops]
        accounts = accounts[accounts >= 0]
        parts = [self.follows[accounts].indices, self.members[shops].indices]
        return np.unique(np.concatenate(parts)).astype(np.int64)

    def brand_shops(self, brand: int) -> np.ndarray:
        """Shops authorised for the brand or selling it."""
        auth = self.shop_brands[:, brand].nonzero()[0]
        selling = self.item_shop[self.item_brand == brand]
        return np.unique(np.concatenate([auth, selling[selling >= 0]])).astype(np.int64)


def _col_min(m: sp.csr_matrix) -> np.ndarray:
    """Smallest positive entry per column (0 where none)."""
    c = m.tocsc()
    out = np.zeros(c.shape[1])
    lens = np.diff(c.indptr)
    nz = np.flatnonzero(lens)
    if len(nz):
        out[nz] = np.minimum.reduceat(c.data, c.indptr[nz])
    return out


def _col_max(m: sp.csr_matrix) -> np.ndarray:
    c = m.tocsc()
    out = np.zeros(c.shape[1])
    nz = np.flatnonzero(np.diff(c.indptr))
    if len(nz):
        out[nz] = np.maximum.reduceat(c.data, c.indptr[nz])
    return out
