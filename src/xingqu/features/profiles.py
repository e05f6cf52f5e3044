"""User profiles and product statistics from behaviour (domain §4.1): per user the interest in each
level-1 category, the price band in each (centre and width, log yuan), brand, style and function
affinities and private-domain relations; per product its trend, refund rate and the accounts that
carry it. Everything is aligned with model vocabularies, as dense arrays or CSR matrices, so a request
gathers its features without a query."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from xingqu.dataset.interactions import EVENT_WEIGHTS
from xingqu.dataset.matrix import Vocabulary
from xingqu.domain.units import DAY_MS
from xingqu.domain.vocab import EventType
from xingqu.features.groups import relations
from xingqu.features.market import MarketTables, carried_pairs, kept_pays

#: Events that reveal the price a user is willing to pay, and how much each says.
PRICE_WEIGHTS = {"click": 1.0, "add_to_cart": 2.0, "order": 3.0, "pay": 4.0}
#: Pseudo-counts pulling thin evidence towards the wider group (user → segment → category).
USER_PRIOR = 3.0
CATEGORY_PRIOR = 4.0
INTEREST_PRIOR = 2.0
#: No one's price band is narrower than this (log scale, about ±20 % around its centre).
MIN_PRICE_SD = 0.2
REFUND_PRIOR = 5.0
INTEREST_HALF_LIFE_DAYS = 30.0
TREND_RECENT_DAYS = 3.0
TREND_BASE_DAYS = 14.0
CARRIER_DAYS = 30
SHOWN_DAYS = 7
#: Events that count as engaging with a product shown (an impression followed by one is not ignored).
ENGAGED_EVENTS = ("click", "add_to_cart", "order", "pay")


def _col(table: pa.Table, name: str) -> np.ndarray:
    return table[name].to_numpy(zero_copy_only=False)


def _ms(table: pa.Table, name: str) -> np.ndarray:
    return pc.fill_null(pc.cast(table[name], pa.int64()), 0).to_numpy()


def _tags(values: list[list[str] | None], vocab: dict[str, int], n_rows: int) -> sp.csr_matrix:
    rows, cols = [], []
    for r, tags in enumerate(values):
        for t in tags or ():
            rows.append(r)
            cols.append(vocab.setdefault(t, len(vocab)))
    m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_rows, max(len(vocab), 1)))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def _row_normalise(m: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(m.sum(axis=1)).ravel()
    return sp.csr_matrix(sp.diags(1 / np.where(sums > 0, sums, 1)) @ m)


@dataclass
class Catalogue:
    """Product attributes by item index: level-1 category, price, brand, shop, tags, creation time."""

    items: Vocabulary
    categories: list[str]  # level-1 names
    category: np.ndarray  # object: full category path, "" unknown
    level1: np.ndarray  # int32, -1 unknown
    price: np.ndarray  # fen, float64; nan unknown
    brands: Vocabulary
    brand: np.ndarray  # int32, -1 none
    shops: Vocabulary
    shop: np.ndarray  # int32, -1 unknown
    shop_score: np.ndarray  # by shop index, 0..5 (missing: the median)
    shop_official: np.ndarray  # by shop index: creator index of its official account, -1
    creators: Vocabulary
    styles: sp.csr_matrix  # items × style tags
    functions: sp.csr_matrix  # items × function tags
    created_ms: np.ndarray  # int64
    cat_median: np.ndarray  # by level-1: median log-yuan price of the catalogue
    contents: Vocabulary = field(default_factory=lambda: Vocabulary(np.zeros(0, dtype=object)))
    content_goods: sp.csr_matrix = field(default_factory=lambda: sp.csr_matrix((0, 0), dtype=np.float32))
    content_categories: sp.csr_matrix = field(  # contents × level-1: the categories a content is about
        default_factory=lambda: sp.csr_matrix((0, 0), dtype=np.float32)
    )

    @property
    def log_price(self) -> np.ndarray:
        """Log-yuan prices (unknown: ¥1), computed once."""
        cached = self.__dict__.get("_log_price")
        if cached is None:
            cached = np.log(np.maximum(np.nan_to_num(self.price, nan=100.0), 1.0) / 100.0)
            self.__dict__["_log_price"] = cached
        return cached

    @property
    def leaf(self) -> np.ndarray:
        """Each item's leaf category (its full category path) as an index, −1 unknown; computed once."""
        cached = self.__dict__.get("_leaf")
        if cached is None:
            paths = np.asarray(self.category, dtype=object).astype(str)
            _, index = np.unique(paths, return_inverse=True)
            cached = np.where(paths == "", -1, index).astype(np.int64)
            self.__dict__["_leaf"] = cached
        return cached

    @property
    def content_leaves(self) -> sp.csr_matrix:
        """(contents × leaves) the leaf categories of the goods each video or live room carries."""
        cached = self.__dict__.get("_content_leaves")
        if cached is None:
            leaf = self.leaf
            width = int(leaf.max(initial=-1)) + 1
            known = np.flatnonzero(leaf >= 0)
            onehot = sp.csr_matrix(
                (np.ones(len(known), np.float32), (known, leaf[known])), shape=(len(leaf), max(width, 1))
            )
            cached = sp.csr_matrix(self.content_goods @ onehot) if self.content_goods.shape[0] else onehot[:0]
            cached.data[:] = 1.0
            self.__dict__["_content_leaves"] = cached
        return cached

    @classmethod
    def build(cls, market: MarketTables, items: Vocabulary) -> Catalogue:
        p = market.products
        n = len(items)
        idx = items.lookup(_col(p, "product_id"))
        ok = idx >= 0
        p, idx = p.filter(pa.array(ok)), idx[ok]
        paths = np.full(n, "", dtype=object)
        paths[idx] = [str(c or "") for c in _col(p, "category")]
        cats = [str(c).split(">")[0] if c else "" for c in _col(p, "category")]
        names = sorted({c for c in cats if c})
        cat_of = {c: k for k, c in enumerate(names)}
        level1 = np.full(n, -1, np.int32)
        level1[idx] = [cat_of.get(c, -1) for c in cats]
        price = np.full(n, np.nan)
        price[idx] = pc.fill_null(pc.cast(p["price"], pa.float64()), np.nan).to_numpy()
        brands = Vocabulary.of(np.array([b for b in _col(p, "brand_id") if b], dtype=object))
        brand = np.full(n, -1, np.int32)
        brand[idx] = brands.lookup(np.array([b or "" for b in _col(p, "brand_id")], dtype=object))
        shop_ids = np.array(
            sorted(set(_col(market.shops, "shop_id").tolist()) | set(_col(p, "shop_id").tolist())),
            dtype=object,
        )
        shops = Vocabulary(shop_ids)
        shop = np.full(n, -1, np.int32)
        shop[idx] = shops.lookup(_col(p, "shop_id"))
        creators = Vocabulary(
            np.array(sorted(set(_col(market.creators, "creator_id").tolist())), dtype=object)
        )
        score = np.full(len(shops), np.nan)
        official = np.full(len(shops), -1, np.int32)
        if market.shops.num_rows:
            s_idx = shops.lookup(_col(market.shops, "shop_id"))
            score[s_idx] = pc.fill_null(
                pc.cast(market.shops["experience_score"], pa.float64()), np.nan
            ).to_numpy()
            acc = creators.lookup(
                np.array([a or "" for a in _col(market.shops, "official_account_id")], dtype=object)
            )
            official[s_idx] = acc
        score = np.where(np.isnan(score), np.nanmedian(score) if np.isfinite(score).any() else 4.5, score)
        style_vocab: dict[str, int] = {}
        func_vocab: dict[str, int] = {}
        styles = sp.csr_matrix((n, 1), dtype=np.float32)
        functions = sp.csr_matrix((n, 1), dtype=np.float32)
        if len(idx):
            perm = sp.csr_matrix(
                (np.ones(len(idx), np.float32), (idx, np.arange(len(idx)))), shape=(n, len(idx))
            )
            styles = sp.csr_matrix(perm @ _tags(p["style_tags"].to_pylist(), style_vocab, len(idx)))
            functions = sp.csr_matrix(perm @ _tags(p["function_tags"].to_pylist(), func_vocab, len(idx)))
        created = np.zeros(n, np.int64)
        created[idx] = _ms(p, "created_at")
        log_price = np.log(np.maximum(np.nan_to_num(price, nan=100.0), 1.0) / 100.0)
        cat_median = np.array(
            [np.median(log_price[level1 == k]) if (level1 == k).any() else 0.0 for k in range(len(names))]
        )
        return cls(
            items,
            names,
            paths,
            level1,
            price,
            brands,
            brand,
            shops,
            shop,
            score,
            official,
            creators,
            styles,
            functions,
            created,
            cat_median,
            *_content_goods(market.content, items, level1, names),
        )


def _content_goods(
    content: pa.Table, items: Vocabulary, level1: np.ndarray, names: list[str]
) -> tuple[Vocabulary, sp.csr_matrix, sp.csr_matrix]:
    """Every video and live room: the products it carries (contents × items) and the level-1
    categories it is about (its own category and its goods' categories, contents × categories)."""
    ids = np.array(content["content_id"].to_pylist() if content.num_rows else [], dtype=object)
    contents = Vocabulary(ids)
    n_c, n_cat = len(ids), max(len(names), 1)
    if not n_c:
        return (
            contents,
            sp.csr_matrix((0, len(items)), dtype=np.float32),
            sp.csr_matrix((0, n_cat), dtype=np.float32),
        )
    lists = content["product_ids"]
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy()
    owner = np.repeat(np.arange(n_c), lengths)
    flat = pc.list_flatten(lists).to_numpy(zero_copy_only=False)
    item = items.lookup(flat) if len(flat) else np.zeros(0, np.int64)
    ok = item >= 0
    goods = sp.csr_matrix(
        (np.ones(int(ok.sum()), np.float32), (owner[ok], item[ok])), shape=(n_c, len(items))
    )
    goods.data[:] = 1.0
    cat_of = {c: k for k, c in enumerate(names)}
    own = np.array([cat_of.get(str(c or "").split(">")[0], -1) for c in _col(content, "category")], np.int64)
    rows = np.r_[owner[ok], np.arange(n_c)]
    cols = np.r_[level1[item[ok]], own]
    has = cols >= 0
    cats = sp.csr_matrix((np.ones(int(has.sum()), np.float32), (rows[has], cols[has])), shape=(n_c, n_cat))
    cats.sum_duplicates()
    cats.data[:] = 1.0
    goods.sum_duplicates()
    goods.data[:] = 1.0
    return contents, goods, cats


@dataclass
class UserProfiles:
    """What each user's behaviour says about them, by user index."""

    users: Vocabulary
    interest: np.ndarray  # (U, C) share of (decayed) interest per level-1 category
    price_mu: np.ndarray  # (U, C) centre of the price band, log yuan
    price_sd: np.ndarray  # (U,) half-width scale of the band, log
    evidence: np.ndarray  # (U,) weighted price observations behind the band
    brand: sp.csr_matrix  # (U, brands) share
    style: sp.csr_matrix  # (U, styles) share
    function: sp.csr_matrix  # (U, functions) share
    follows: sp.csr_matrix  # (U, creators) follow or fan group
    members: sp.csr_matrix  # (U, shops) membership
    bought: sp.csr_matrix  # (U, items) last day (ms / DAY_MS) of a kept purchase
    shown: sp.csr_matrix  # (U, items) impressions in the last week of pairs never clicked
    segment_offset: dict[str, float]  # consumption level → mean price offset (for users with no data)
    level: np.ndarray  # (U,) consumption level per user, "" unknown
    cat_median: np.ndarray  # (C,) the catalogue's median log-yuan price per level-1 category


@dataclass
class ItemStats:
    """Behaviour statistics of each product, by item index."""

    trend: np.ndarray  # log ratio of recent daily interest to the longer baseline
    recent: np.ndarray  # log1p of recent weighted interactions
    refund_rate: np.ndarray  # shrunk towards the category's rate
    carriers: sp.csr_matrix  # (items, creators): accounts that carried it in content lately
    repurchase_days: np.ndarray  # by level-1: median days between repeat purchases; inf = durable
    now_ms: int


@dataclass
class EventSums:
    """Everything profiles and product statistics read from the event log, summed per (user, product)
    pair or per product: the part of ``build_profiles`` that grows with the log. ``event_sums`` sums it
    here; ``xingqu.distributed.jobs.profile_pairs`` sums the same on Spark. Unknown users and products
    are left out, except from ``pays`` and ``refunds`` (every user's)."""

    now_ms: int  # the latest event of the log: ages count back from it
    interest: sp.csr_matrix  # (U, I) EVENT_WEIGHTS (a refund: 0) halved every INTEREST_HALF_LIFE_DAYS
    price: sp.csr_matrix  # (U, I) PRICE_WEIGHTS
    bought: sp.csr_matrix  # (U, I) day (ms / DAY_MS) of the last kept purchase
    shown: sp.csr_matrix  # (U, I) impressions in the last SHOWN_DAYS of pairs not engaged in them
    recent: np.ndarray  # (I,) undecayed EVENT_WEIGHTS of the last TREND_RECENT_DAYS
    base: np.ndarray  # (I,) the same over TREND_BASE_DAYS
    pays: np.ndarray  # (I,) pay events
    refunds: np.ndarray  # (I,) refund events
    repurchase_days: np.ndarray  # (C,) median days between repeat kept purchases; inf = durable


def pair_matrix(u: np.ndarray, i: np.ndarray, v: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """A users × items matrix of ``v`` summed per (u, i), zeros dropped."""
    m = sp.csr_matrix((v, (u, i)), shape=shape)
    m.sum_duplicates()
    m.eliminate_zeros()
    return m


def _event_arrays(market: MarketTables, users: Vocabulary, items: Vocabulary) -> dict[str, np.ndarray]:
    e = market.events
    return {
        "type": _type_codes(e),
        "u": users.lookup_arrow(e["user_id"]),
        "i": items.lookup_arrow(e["product_id"]),
        "ts": _ms(e, "ts"),
        "kept": kept_pays(e),
    }


#: Event types by code: a log's types are held as one byte each (``_type_codes``), not as strings.
TYPE_NAMES = tuple(t.value for t in EventType)


def _code(*names: str) -> list[int]:
    return [TYPE_NAMES.index(n) for n in names]


def _type_codes(events: pa.Table) -> np.ndarray:
    """Each event's type as its index in ``TYPE_NAMES`` (int8; −1 for a type not known)."""
    found = pc.index_in(events["event_type"], value_set=pa.array(TYPE_NAMES, pa.string()))
    return np.asarray(pc.fill_null(found, -1).to_numpy(), dtype=np.int8)


def _kept_pays(ev: dict[str, np.ndarray]) -> np.ndarray:
    """Mask of pay events of known users and products whose order was not refunded."""
    return ev["kept"] & (ev["u"] >= 0) & (ev["i"] >= 0)


def event_sums(market: MarketTables, users: Vocabulary, cat: Catalogue) -> EventSums:
    """The market's event log summed for ``build_profiles``, on this machine."""
    ev = _event_arrays(market, users, cat.items)
    now = market.last_event_ms()
    shape = (len(users), len(cat.items))
    ok = (ev["u"] >= 0) & (ev["i"] >= 0)
    u, i, t, kind = ev["u"][ok], ev["i"][ok], ev["ts"][ok], ev["type"][ok]
    age_days = (now - t) / DAY_MS
    raw = np.zeros(len(u), np.float64)
    for k, v in EVENT_WEIGHTS.items():
        raw[np.isin(kind, _code(k))] = max(v, 0.0)
    w = raw * np.power(0.5, age_days / INTEREST_HALF_LIFE_DAYS)
    pw = np.zeros(len(u))
    for k, v in PRICE_WEIGHTS.items():
        pw[np.isin(kind, _code(k))] = v
    pays = _kept_pays(ev)
    bought = _max_duplicates(  # a COO keeps the duplicates that a CSR would add up
        sp.coo_matrix((ev["ts"][pays] / DAY_MS, (ev["u"][pays], ev["i"][pays])), shape=shape)
    )
    recent, base = age_days < TREND_RECENT_DAYS, age_days < TREND_BASE_DAYS
    all_i, n = ev["i"], len(cat.items)
    return EventSums(
        now,
        pair_matrix(u, i, w, shape),
        pair_matrix(u, i, pw, shape),
        bought,
        _ignored_impressions(ev, shape[0], shape[1], now),
        np.bincount(i[recent], weights=raw[recent], minlength=n),
        np.bincount(i[base], weights=raw[base], minlength=n),
        np.bincount(all_i[np.isin(ev["type"], _code("pay")) & (all_i >= 0)], minlength=n).astype(float),
        np.bincount(all_i[np.isin(ev["type"], _code("refund")) & (all_i >= 0)], minlength=n).astype(float),
        _repurchase_days(ev, cat),
    )


def build_profiles(
    market: MarketTables, users: Vocabulary, cat: Catalogue, sums: EventSums | None = None
) -> tuple[UserProfiles, ItemStats]:
    """Profiles of ``users`` and statistics of ``cat.items`` from the market's event log, summed here
    unless ``sums`` (the same sums, from elsewhere) is given."""
    s = event_sums(market, users, cat) if sums is None else sums
    n_users, n_items, n_cats = len(users), len(cat.items), len(cat.categories)
    known = np.flatnonzero(cat.level1 >= 0)
    onehot = sp.csr_matrix((np.ones(len(known)), (known, cat.level1[known])), shape=(n_items, max(n_cats, 1)))
    counts = (s.interest @ onehot).toarray()[:, :n_cats]
    prior = counts.sum(axis=0) + 1.0
    prior = prior / prior.sum()
    interest = (counts + INTEREST_PRIOR * prior) / (counts.sum(axis=1, keepdims=True) + INTEREST_PRIOR)

    # price band: deviation of engaged prices from the category's median, pooled per user then per category
    p = s.price.tocoo()
    m = (cat.level1[p.col] >= 0) & np.isfinite(cat.price[p.col])
    pu, pi, pwm = p.row[m].astype(np.int64), p.col[m], p.data[m]
    pc_ = cat.level1[pi]
    dev = cat.log_price[pi] - cat.cat_median[pc_]
    tot = np.bincount(pu, weights=pwm, minlength=n_users)
    level = (
        np.array([str(x or "") for x in _col(market.users, "consumption_level")], dtype=object)
        if market.users.num_rows
        else np.zeros(0, dtype=object)
    )
    user_level = np.full(n_users, "", dtype=object)
    if market.users.num_rows:
        li = users.lookup(_col(market.users, "user_id"))
        user_level[li[li >= 0]] = level[li >= 0]
    raw_offset = np.bincount(pu, weights=pwm * dev, minlength=n_users) / np.maximum(tot, 1e-9)
    seg_offset: dict[str, float] = {}
    for lv in np.unique(user_level):
        sel = (user_level == lv) & (tot > 0)
        seg_offset[str(lv)] = float(np.average(raw_offset[sel], weights=tot[sel])) if sel.any() else 0.0
    base = np.array([seg_offset.get(str(lv), 0.0) for lv in user_level])
    offset = (raw_offset * tot + USER_PRIOR * base) / (tot + USER_PRIOR)
    cat_tot = np.zeros((n_users, n_cats))
    cat_dev = np.zeros((n_users, n_cats))
    np.add.at(cat_tot, (pu, pc_), pwm)
    np.add.at(cat_dev, (pu, pc_), pwm * dev)
    mu_dev = (cat_dev + CATEGORY_PRIOR * offset[:, None]) / (cat_tot + CATEGORY_PRIOR)
    price_mu = (cat.cat_median[None, :] + mu_dev).astype(np.float32)
    resid = dev - mu_dev[pu, pc_]
    global_sd = float(np.sqrt(np.average(resid**2, weights=pwm))) if len(resid) else 0.5
    user_var = np.bincount(pu, weights=pwm * resid**2, minlength=n_users)
    price_sd = np.sqrt((user_var + USER_PRIOR * 2 * global_sd**2) / (tot + USER_PRIOR * 2))
    price_sd = np.maximum(price_sd, MIN_PRICE_SD).astype(np.float32)

    w = s.interest.tocoo()
    keep = cat.brand[w.col] >= 0
    brand = pair_matrix(w.row[keep], cat.brand[w.col[keep]], w.data[keep], (n_users, max(len(cat.brands), 1)))
    brand = _row_normalise(brand).astype(np.float32)
    style = _row_normalise(sp.csr_matrix(s.interest @ cat.styles)).astype(np.float32)
    function = _row_normalise(sp.csr_matrix(s.interest @ cat.functions)).astype(np.float32)

    follows, members = _relations(market, users, cat)
    profiles = UserProfiles(
        users,
        interest.astype(np.float32),
        price_mu,
        price_sd,
        tot.astype(np.float32),
        brand,
        style,
        function,
        follows,
        members,
        s.bought,
        s.shown,
        seg_offset,
        user_level,
        cat.cat_median.astype(np.float32),
    )
    return profiles, _item_stats(s, market, cat)


def _ignored_impressions(ev: dict[str, np.ndarray], n_users: int, n_items: int, now: int) -> sp.csr_matrix:
    """How often each (user, product) was shown in the last ``SHOWN_DAYS`` without ever a click."""
    ok = (ev["u"] >= 0) & (ev["i"] >= 0) & (ev["ts"] >= now - SHOWN_DAYS * DAY_MS)
    keys = ev["u"][ok].astype(np.int64) * n_items + ev["i"][ok]
    kind = ev["type"][ok]
    shown = keys[np.isin(kind, _code("impression"))]
    engaged = keys[np.isin(kind, _code(*ENGAGED_EVENTS))]
    shown = shown[~np.isin(shown, engaged)]
    m = sp.csr_matrix(
        (np.ones(len(shown), np.float32), (shown // n_items, shown % n_items)), shape=(n_users, n_items)
    )
    m.sum_duplicates()
    return m


def _max_duplicates(m: sp.coo_matrix) -> sp.csr_matrix:
    """Collapse duplicate entries keeping the largest (``sum_duplicates`` would add them)."""
    coo = m.tocoo()
    if coo.nnz == 0:
        return sp.csr_matrix(m.shape, dtype=np.float64)
    order = np.lexsort((-coo.data, coo.col, coo.row))
    r, cidx, d = coo.row[order], coo.col[order], coo.data[order]
    first = np.r_[True, (r[1:] != r[:-1]) | (cidx[1:] != cidx[:-1])]
    return sp.csr_matrix((d[first], (r[first], cidx[first])), shape=m.shape)


def _relations(
    market: MarketTables, users: Vocabulary, cat: Catalogue
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Follows and fan groups (user → account) and memberships (user → shop), as ``relations`` reads
    them, turned to one row per user."""
    rel = relations(market, users, cat.creators, cat.shops)

    def by_user(m: sp.csr_matrix) -> sp.csr_matrix:
        out = m.T.tocsr().astype(np.float32)
        return out if out.shape[1] else sp.csr_matrix((len(users), 1), dtype=np.float32)

    follows, members = by_user(rel.follows), by_user(rel.members)
    return follows, members


def _item_stats(s: EventSums, market: MarketTables, cat: Catalogue) -> ItemStats:
    trend = np.log((s.recent / TREND_RECENT_DAYS + 1) / (s.base / TREND_BASE_DAYS + 1))
    c = cat.level1
    cat_rate = np.zeros(len(cat.categories))
    for k in range(len(cat.categories)):
        sel = c == k
        cat_rate[k] = s.refunds[sel].sum() / max(s.pays[sel].sum(), 1.0)
    prior = np.where(c >= 0, cat_rate[np.maximum(c, 0)], s.refunds.sum() / max(s.pays.sum(), 1.0))
    refund_rate = (s.refunds + REFUND_PRIOR * prior) / (s.pays + REFUND_PRIOR)
    return ItemStats(
        trend.astype(np.float32),
        np.log1p(s.recent).astype(np.float32),
        refund_rate.astype(np.float32),
        _carriers(market, cat, s.now_ms),
        s.repurchase_days,
        s.now_ms,
    )


def _carriers(market: MarketTables, cat: Catalogue, now: int) -> sp.csr_matrix:
    content = market.content
    n = len(cat.items)
    if content.num_rows == 0:
        return sp.csr_matrix((n, max(len(cat.creators), 1)), dtype=np.float32)
    recent = pc.greater_equal(pc.cast(content["published_at"], pa.int64()), now - CARRIER_DAYS * DAY_MS)
    cols, rows = carried_pairs(content.filter(recent), cat.creators, cat.items)
    m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, max(len(cat.creators), 1)))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def _repurchase_days(ev: dict[str, np.ndarray], cat: Catalogue) -> np.ndarray:
    """Median days between two kept purchases of the same product by the same user, per level-1
    category; a category where nobody bought the same thing twice (a day or more apart) is durable."""
    pays = _kept_pays(ev)
    u, i, t = ev["u"][pays], ev["i"][pays], ev["ts"][pays]
    order = np.lexsort((t, i, u))
    u, i, t = u[order], i[order], t[order]
    same = (u[1:] == u[:-1]) & (i[1:] == i[:-1])
    gap = (t[1:] - t[:-1]) / DAY_MS
    rep = same & (gap >= 1.0)
    cats = cat.level1[i[1:][rep]]
    out = np.full(len(cat.categories), np.inf)
    for k in range(len(cat.categories)):
        g = gap[rep][cats == k]
        if len(g):
            out[k] = float(np.median(g))
    return out
