"""The learned ranker's features for (user, product) candidates, and their meaning in words.

One function builds them for training (logged impressions) and for serving (retrieved candidates), so
the two cannot drift apart. Per-user inputs come as ``ProfileRows`` (the profile rows of the users in
the batch, updated with what they did since training, or built from a segment for unknown users).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from xingqu.features.profiles import DAY_MS, Catalogue, ItemStats, UserProfiles
from xingqu.features.session import FADED, WATCH_HALF_LIFE_HOURS, SessionRows
from xingqu.models import rowops

#: Features every ranker reads, after the per-retriever score and rank columns.
BASE_FEATURES = (
    "interest",
    "price_z",
    "price_fit",
    "log_price",
    "brand",
    "style",
    "function",
    "trend",
    "recent",
    "follows_shop",
    "follows_carrier",
    "member",
    "shop_score",
    "refund_rate",
    "fresh_days",
    "visit_gap_hours",  # the session's: hours away before it began (nan: no earlier visit known)
    "session_category",  # share of this session's clicks in the candidate's level-1 category
    "watched_carries",  # carried by the content watched last (fading with WATCH_HALF_LIFE_HOURS)
    "watched_category",  # in a category of the content watched last (fading likewise)
    "watched_leaf",  # of the same kind (leaf category) as goods of the content watched last (fading)
    "clicked_leaf",  # of the same kind as the product clicked last (fading likewise)
    "position",  # training only: the logged position; 0 when serving (position bias)
)

#: What a feature's positive contribution means to the user.
PHRASES = {
    "interest": "in a category you like",
    "price_fit": "in your usual price range",
    "price_z": "in your usual price range",
    "brand": "a brand you like",
    "style": "your style",
    "function": "does what you look for",
    "trend": "trending now",
    "recent": "popular right now",
    "follows_shop": "from a shop you follow",
    "follows_carrier": "carried by a creator you follow",
    "member": "from a shop you are a member of",
    "shop_score": "from a well-rated shop",
    "refund_rate": "rarely returned",
    "fresh_days": "new arrival",
    "log_price": "in your usual price range",
    "session_category": "in what you are browsing now",
    "watched_carries": "in what you just watched",
    "watched_category": "like what you just watched",
    "watched_leaf": "like what you just watched",
    "clicked_leaf": "like what you just looked at",
}


@dataclass
class ProfileRows:
    """Profile rows of a batch of users (row k belongs to the batch's k-th user)."""

    interest: np.ndarray  # (B, C)
    price_mu: np.ndarray  # (B, C)
    price_sd: np.ndarray  # (B,)
    brand: sp.csr_matrix
    style: sp.csr_matrix
    function: sp.csr_matrix
    follows: sp.csr_matrix
    members: sp.csr_matrix

    @classmethod
    def of(cls, profiles: UserProfiles, users: np.ndarray, levels: list[str] | None = None) -> ProfileRows:
        """Rows for user indices (-1: a user the profiles do not know, described by consumption level)."""
        users = np.asarray(users, dtype=np.int64)
        known = users >= 0
        safe = np.where(known, users, 0)
        interest = profiles.interest[safe].copy()
        price_mu = profiles.price_mu[safe].copy()
        price_sd = profiles.price_sd[safe].copy()
        unknown = np.flatnonzero(~known)
        if len(unknown):
            prior = profiles.interest.mean(axis=0)
            median = np.median(profiles.price_sd) if len(profiles.price_sd) else 0.5
            for k in unknown:
                level = (levels[k] if levels else "") or ""
                interest[k] = prior
                price_mu[k] = profiles.cat_median + profiles.segment_offset.get(level, 0.0)
                price_sd[k] = median

        def rows(m: sp.csr_matrix) -> sp.csr_matrix:
            out = rowops.take_rows(m, safe) if len(safe) <= rowops.MAX_LOOP_ROWS else m[safe]
            if len(unknown):
                out = sp.csr_matrix(sp.diags(known.astype(np.float32)) @ out)
            return out

        return cls(
            interest,
            price_mu,
            price_sd,
            rows(profiles.brand),
            rows(profiles.style),
            rows(profiles.function),
            rows(profiles.follows),
            rows(profiles.members),
        )


def _rowdot(a: sp.csr_matrix, b: sp.csr_matrix, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
    """For each pair k: a[rows[k]] · b[items[k]] (sparse rows)."""
    if a.nnz == 0 or b.nnz == 0:
        return np.zeros(len(rows), np.float32)
    if a.shape[0] <= rowops.MAX_LOOP_ROWS:
        return rowops.pair_dot(a, b, rows, items)
    return np.asarray(a[rows].multiply(b[items]).sum(axis=1), dtype=np.float32).ravel()


def _gather(m: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """m[rows[k], cols[k]] for sparse m."""
    if m.nnz == 0:
        return np.zeros(len(rows), np.float32)
    if m.shape[0] <= rowops.MAX_LOOP_ROWS:
        return rowops.pair_get(m, rows, cols)
    return np.asarray(m[rows, cols], dtype=np.float32).ravel()


def feature_names(retrievers: list[str]) -> list[str]:
    return [f"score_{k}" for k in retrievers] + [f"rank_{k}" for k in retrievers] + list(BASE_FEATURES)


def build_features(
    cat: Catalogue,
    stats: ItemStats,
    rows: ProfileRows,
    items: np.ndarray,
    retriever_scores: np.ndarray,
    retriever_ranks: np.ndarray,
    now_ms: int,
    positions: np.ndarray | None = None,
    session: SessionRows | None = None,
) -> np.ndarray:
    """Feature matrix, one row per (batch user b, candidate items[b, k]) in row-major order.

    ``retriever_scores`` and ``retriever_ranks`` are (R, B, K): each retriever's score of the pair and
    the pair's rank in that retriever's own list for the user (capped); ``session`` the pairs'
    session quantities (none known when absent)."""
    b, k = items.shape
    flat = items.ravel()
    r = np.repeat(np.arange(b), k)
    c = cat.level1[flat]
    has_c = c >= 0
    cc = np.maximum(c, 0)
    interest = np.where(has_c, rows.interest[r, cc], 0.0)
    log_price = cat.log_price[flat]
    z = np.where(has_c, (log_price - rows.price_mu[r, cc]) / np.maximum(rows.price_sd[r], 0.05), 0.0)
    brand = np.zeros(len(flat), np.float32)
    hb = cat.brand[flat] >= 0
    if hb.any() and rows.brand.nnz:
        brand[hb] = _gather(rows.brand, r[hb], cat.brand[flat][hb])
    n_styles = np.maximum(np.diff(cat.styles.indptr)[flat], 1)
    n_funcs = np.maximum(np.diff(cat.functions.indptr)[flat], 1)
    style = _rowdot(rows.style, cat.styles, r, flat) / n_styles
    function = _rowdot(rows.function, cat.functions, r, flat) / n_funcs
    shop = cat.shop[flat]
    official = np.where(shop >= 0, cat.shop_official[np.maximum(shop, 0)], -1)
    follows_shop = np.zeros(len(flat), np.float32)
    ho = official >= 0
    if ho.any() and rows.follows.nnz:
        follows_shop[ho] = _gather(rows.follows, r[ho], official[ho])
    member = np.zeros(len(flat), np.float32)
    hs = shop >= 0
    if hs.any() and rows.members.nnz:
        member[hs] = _gather(rows.members, r[hs], shop[hs])
    carrier = (_rowdot(rows.follows, stats.carriers, r, flat) > 0).astype(np.float32)
    shop_score = np.where(hs, cat.shop_score[np.maximum(shop, 0)], np.nan)
    fresh = np.where(cat.created_ms[flat] > 0, (now_ms - cat.created_ms[flat]) / DAY_MS, np.nan)
    session = session if session is not None else SessionRows.blank(len(flat))
    watched_carries, watched_category, watched_leaf = _watched(cat, session, flat, c)
    clicked_leaf = _clicked_leaf(cat, session, flat)
    cols = [
        *retriever_scores.reshape(len(retriever_scores), -1),
        *retriever_ranks.reshape(len(retriever_ranks), -1),
        interest,
        z,
        np.exp(-0.5 * z**2),
        log_price,
        brand,
        style,
        function,
        stats.trend[flat],
        stats.recent[flat],
        follows_shop,
        carrier,
        member,
        shop_score,
        stats.refund_rate[flat],
        fresh,
        session.gap_hours,
        session.cat_clicks / np.maximum(session.clicks, 1),
        watched_carries,
        watched_category,
        watched_leaf,
        clicked_leaf,
        positions.ravel() if positions is not None else np.zeros(len(flat)),
    ]
    return np.column_stack(cols).astype(np.float32)


def _fade(hours: np.ndarray) -> np.ndarray:
    """What is left of a pull ``hours`` on: halving every ``WATCH_HALF_LIFE_HOURS``, zero once faded."""
    pull = np.power(0.5, hours / WATCH_HALF_LIFE_HOURS)
    return np.where(pull >= FADED, pull, 0.0).astype(np.float32)


def _watched(
    cat: Catalogue, session: SessionRows, flat: np.ndarray, level1: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whether each candidate is carried by, shares a category with, and is of the same kind (leaf) as
    goods of, the content its user watched last, each fading by half every ``WATCH_HALF_LIFE_HOURS``."""
    carries = np.zeros(len(flat), np.float32)
    same = np.zeros(len(flat), np.float32)
    kind = np.zeros(len(flat), np.float32)
    w = session.watched
    hw = (w >= 0) & (w < cat.content_goods.shape[0])
    if not hw.any():
        return carries, same, kind
    carries[hw] = _has(cat, "content_goods", w[hw], flat[hw]) * _fade(session.watched_hours[hw])
    hc = hw & (level1 >= 0)
    if hc.any():
        same[hc] = _has(cat, "content_categories", w[hc], level1[hc]) * _fade(session.watched_hours[hc])
    leaf = cat.leaf[flat]
    hl = hw & (leaf >= 0)
    if hl.any():
        kind[hl] = _has(cat, "content_leaves", w[hl], leaf[hl]) * _fade(session.watched_hours[hl])
    return carries, same, kind


def _clicked_leaf(cat: Catalogue, session: SessionRows, flat: np.ndarray) -> np.ndarray:
    """Whether each candidate is of the same kind (leaf category) as the product its user clicked
    last, fading by half every ``WATCH_HALF_LIFE_HOURS``."""
    out = np.zeros(len(flat), np.float32)
    k = session.clicked
    hk = (k >= 0) & (k < len(cat.leaf))
    if not hk.any():
        return out
    leaf = cat.leaf
    same = (leaf[k[hk]] == leaf[flat[hk]]) & (leaf[flat[hk]] >= 0)
    out[hk] = same * _fade(session.clicked_hours[hk])
    return out


def warm(cat: Catalogue) -> None:
    """Build the catalogue's lookups that ``build_features`` would otherwise build on first use."""
    none = np.zeros(0, np.int64)
    for name in ("content_goods", "content_categories", "content_leaves"):
        _has(cat, name, none, none)
    cat.log_price  # noqa: B018


def _has(cat: Catalogue, name: str, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """1 where a 0/1 matrix of the catalogue holds (rows[k], cols[k]): a binary search in its sorted
    keys (row × width + column, built once per matrix), so no row is ever made dense."""
    cache = cat.__dict__.setdefault("_pair_keys", {})
    keys = cache.get(name)
    m = getattr(cat, name)
    if keys is None:
        m.sort_indices()
        keys = cache[name] = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr)) * m.shape[
            1
        ] + m.indices.astype(np.int64)
    if not len(keys):
        return np.zeros(len(rows), np.float32)
    want = rows.astype(np.int64) * m.shape[1] + cols
    at = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
    return (keys[at] == want).astype(np.float32)


def list_ranks(top: np.ndarray, items: np.ndarray, depth: int, n_items: int) -> np.ndarray:
    """Rank of each ``items[b, k]`` in row b of ``top`` (a retriever's lists), ``depth`` when absent."""
    out = np.empty(items.shape, np.float32)
    for lo in range(0, len(items), 256):
        hi = min(lo + 256, len(items))
        pos = np.full((hi - lo, n_items), depth, np.float32)
        rows = np.repeat(np.arange(hi - lo), top.shape[1])
        pos[rows, top[lo:hi].ravel()] = np.tile(np.arange(top.shape[1], dtype=np.float32), hi - lo)
        out[lo:hi] = np.take_along_axis(pos, items[lo:hi], axis=1)
    return out
