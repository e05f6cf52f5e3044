"""The ranked feed (商品分发, goods find people): candidates from several retrievers with quotas →
the learned ranker (or the retrievers' blend without impression logs) → rules → explanations.

Rules, in order: only servable products (listed, in stock, shop in good standing: asked of the
store at every call, so a takedown acts at once); nothing bought that is durable, nor a consumable
before its repurchase interval; nothing the user ignored ``max_views`` times this week; request
filters (price cap, categories, brands); the user's price band; caps per category and per shop in the
list; a share of slots kept for new products (保量). Events since training (``observe``, or the
store's log) move the next feed without retraining: recent clicks pull in similar products, a
purchase removes the product.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from xingqu.dataset.interactions import EVENT_WEIGHTS
from xingqu.features.profiles import DAY_MS, Catalogue, ItemStats, UserProfiles
from xingqu.features.ranking import (
    PHRASES,
    RETRIEVER_PHRASES,
    ProfileRows,
    build_features,
    feature_names,
)
from xingqu.models.base import Recommender, top_n
from xingqu.models.blend import standardise
from xingqu.models.ranker import Ranker

#: Sources that are not retrievers: what the user just did, relations, new arrivals, a segment's trends.
RECENT, FOLLOWED, NEW, SEGMENT = "recent", "followed", "new", "segment"
#: How much a profile weighs against events since training (in interaction weight units).
RECENT_MASS = 5.0
#: Feature groups probed to explain an item (the ranker's most important ones).
EXPLAINED_GROUPS = 10
#: New products considered for the guaranteed slots at most (the busiest).
NEW_POOL = 1_000
#: Users scored together: dense per-user rows over a large catalogue stay small at this size.
BATCH = 64


class FeedConfig(BaseModel):
    """How the feed is assembled; every rule can be switched off for comparisons."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quota: int = Field(60, ge=1, description="candidates taken from each retriever")
    rank_depth: int = Field(100, ge=1, description="depth of each retriever's list whose rank is a feature")
    recent_quota: int = Field(30, ge=0, description="candidates similar to the products just clicked")
    followed_quota: int = Field(20, ge=0, description="candidates from followed shops and creators")
    new_quota: int = Field(20, ge=0, description="new products considered for guaranteed slots")
    use_ranker: bool = Field(True, description="rank with the learned ranker when one was trained")
    price_band_z: float | None = Field(
        1.5, gt=0, description="keep products within this many band widths of the user's price centre"
    )
    max_category_share: float = Field(0.5, gt=0, le=1, description="cap per level-1 category in a list")
    max_per_shop: int | None = Field(3, ge=1, description="cap per shop in a list")
    new_share: float = Field(0.1, ge=0, le=0.5, description="slots kept for new products (保量)")
    new_days: float = Field(7.0, gt=0, description="a product is new for this many days after creation")
    max_views: int | None = Field(3, ge=1, description="skip products shown this often without a click")
    exclude_bought: bool = True
    ann_threshold: int = Field(20_000, ge=1, description="catalogues larger than this use an ANN index")
    live_boost: float = Field(1.0, ge=0, description="content feed: boost of rooms live now")
    follow_boost: float = Field(0.5, ge=0, description="content feed: boost of followed creators")


@dataclass
class FeedItem:
    product_id: str
    score: float
    found_by: list[str]
    reasons: list[str]
    new: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "product": self.product_id,
            "score": round(self.score, 4),
            "found_by": self.found_by,
            "reasons": self.reasons,
            "new": self.new,
        }


@dataclass
class ContentItem:
    content_id: str
    kind: str
    creator_id: str
    score: float
    live_now: bool
    products: list[str]
    reasons: list[str]

    def to_dict(self) -> dict[str, object]:
        return {
            "content": self.content_id,
            "kind": self.kind,
            "creator": self.creator_id,
            "score": round(self.score, 4),
            "live_now": self.live_now,
            "products": self.products,
            "reasons": self.reasons,
        }


@dataclass
class FeedModel:
    """Everything the feed serves from, fitted together on one market."""

    retrievers: dict[str, Recommender]
    weights: dict[str, float]  # blend weights (ranking without a ranker)
    history: sp.csr_matrix  # (users × items) scoring history at training time
    cat: Catalogue
    profiles: UserProfiles
    stats: ItemStats
    ranker: Ranker | None
    trained_until_ms: int
    content: pa.Table | None = None
    user_segments: dict[str, tuple[str, str]] = field(default_factory=dict)  # user → (crowd, level)

    @property
    def kinds(self) -> list[str]:
        return list(self.retrievers)


@dataclass
class _Recent:
    """A user's events since training, as item indices."""

    engaged: dict[int, float] = field(default_factory=dict)  # item → interest weight
    clicks: list[int] = field(default_factory=list)  # most recent last
    bought: dict[int, float] = field(default_factory=dict)  # item → day
    shown: dict[int, int] = field(default_factory=dict)
    clicked: set[int] = field(default_factory=set)


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


class Feed:
    """Serves feeds from a ``FeedModel``; ``servable`` answers which product ids may be shown now."""

    def __init__(
        self,
        model: FeedModel,
        servable: Callable[[list[str]], set[str]],
        config: FeedConfig | None = None,
        recent_source: Callable[[list[str]], pa.Table] | None = None,
    ) -> None:
        self.m = model
        self.config = config or FeedConfig()
        self.servable = servable
        self.recent_source = recent_source
        self.recent: dict[str, _Recent] = {}
        self._fetched: set[str] = set()
        self._last_features: np.ndarray | None = None
        cat = model.cat
        self.item_ids = cat.items.ids
        self.names = feature_names(model.kinds)
        self.is_consumable = np.isfinite(model.stats.repurchase_days)
        self._ann = self._build_ann() if len(self.item_ids) > self.config.ann_threshold else {}
        self._global_top = {
            k: top_n(
                r.candidate_scores(
                    np.array([-1]),
                    sp.csr_matrix((1, len(self.item_ids))),
                    np.arange(len(self.item_ids))[None, :],
                ),
                self.config.rank_depth,
            )[0]
            for k, r in model.retrievers.items()
            if k in ("popular", "trending")
        }
        shop_products: dict[int, list[int]] = {}
        order = np.argsort(-model.stats.recent, kind="stable")
        for j in order.tolist():
            s = int(cat.shop[j])
            if s >= 0:
                shop_products.setdefault(s, []).append(j)
        self.shop_products = shop_products
        self.carried_by: dict[int, list[int]] = {}
        car = model.stats.carriers.tocsc()
        for a in range(car.shape[1]):
            items = car.indices[car.indptr[a] : car.indptr[a + 1]]
            if len(items):
                self.carried_by[a] = items[np.argsort(-model.stats.recent[items], kind="stable")].tolist()
        # a model's long-lived object graphs (vocabulary dicts of a million ids…) are moved out of the
        # garbage collector's reach, so that collections during requests do not walk them
        model.profiles.users.index  # noqa: B018 - built now, then frozen
        model.cat.items.index  # noqa: B018
        gc.freeze()

    # -- real time ----------------------------------------------------------------------------

    def observe(self, events: pa.Table) -> None:
        """Take in events recorded since training (canonical event rows)."""
        if events.num_rows == 0:
            return
        items = self.m.cat.items.lookup(
            np.array([x or "" for x in events["product_id"].to_pylist()], dtype=object)
        )
        ts = pc.cast(events["ts"], pa.int64()).to_numpy()
        refunded_orders = set(events.filter(pc.equal(events["event_type"], "refund"))["order_id"].to_pylist())
        for user, kind, j, t, order in zip(
            events["user_id"].to_pylist(),
            events["event_type"].to_pylist(),
            items.tolist(),
            ts.tolist(),
            events["order_id"].to_pylist(),
            strict=True,
        ):
            if j < 0:
                continue
            r = self.recent.setdefault(user, _Recent())
            w = EVENT_WEIGHTS.get(kind, 0.0)
            if w > 0:
                r.engaged[j] = r.engaged.get(j, 0.0) + w
            if kind == "impression":
                r.shown[j] = r.shown.get(j, 0) + 1
            elif kind == "click":
                r.clicks.append(j)
                r.clicked.add(j)
            elif kind == "pay" and order not in refunded_orders:
                r.bought[j] = t / DAY_MS
            if kind in ("add_to_cart", "order", "pay"):
                r.clicked.add(j)

    def _recent_for(self, users: Sequence[str]) -> list[_Recent]:
        if self.recent_source is not None:
            missing = [u for u in users if u not in self._fetched]
            if missing:
                self.observe(self.recent_source(missing))
                self._fetched.update(missing)
        return [self.recent.get(u, _Recent()) for u in users]

    def refresh(self) -> None:
        """Forget fetched recent events (next calls read them again from the source)."""
        if self.recent_source is not None:
            self.recent.clear()
            self._fetched = set()

    # -- serving ------------------------------------------------------------------------------

    def recommend(
        self,
        user_id: str,
        n: int = 20,
        *,
        max_price: int | None = None,
        categories: Iterable[str] | None = None,
        brands: Iterable[str] | None = None,
        now_ms: int | None = None,
        explain: bool = True,
    ) -> list[FeedItem]:
        """The ranked feed of one user (``max_price`` in fen; categories by level-1 name or full path)."""
        return self.recommend_many(
            [user_id],
            n,
            max_price=max_price,
            categories=categories,
            brands=brands,
            now_ms=now_ms,
            explain=explain,
        )[0]

    def recommend_many(
        self,
        user_ids: Sequence[str],
        n: int = 20,
        *,
        max_price: int | None = None,
        categories: Iterable[str] | None = None,
        brands: Iterable[str] | None = None,
        now_ms: int | None = None,
        explain: bool = False,
    ) -> list[list[FeedItem]]:
        """Feeds of many users at once (vectorised scoring, in chunks of ``BATCH`` users)."""
        if len(user_ids) > BATCH:
            out: list[list[FeedItem]] = []
            for lo in range(0, len(user_ids), BATCH):
                out += self.recommend_many(
                    user_ids[lo : lo + BATCH],
                    n,
                    max_price=max_price,
                    categories=categories,
                    brands=brands,
                    now_ms=now_ms,
                    explain=explain,
                )
            return out
        if self.recent_source is not None:
            self.refresh()
        m, cfg = self.m, self.config
        now = now_ms if now_ms is not None else m.trained_until_ms
        users = np.asarray(m.profiles.users.lookup(np.array(list(user_ids), dtype=object)), dtype=np.int64)
        recent = self._recent_for(list(user_ids))
        history = self._history(users, recent)
        cands, sources, ranks = self._candidates(users, user_ids, history, recent, now)
        allowed = self._request_filter(max_price, categories, brands)
        rows = ProfileRows.of(m.profiles, users, self._levels(user_ids, users))
        self._apply_recent(rows, recent)
        keep_lists = []
        for b, c in enumerate(cands):
            kept = np.array(self._pre_rules(users[b], recent[b], c, allowed, now), dtype=np.int64)
            if cfg.price_band_z is not None and len(kept):  # the price band, where enough candidates remain
                lv = m.cat.level1[kept]
                z = np.abs(m.cat.log_price[kept] - rows.price_mu[b, np.maximum(lv, 0)]) / max(
                    float(rows.price_sd[b]), 0.05
                )
                inside = (z <= cfg.price_band_z) | (lv < 0)
                if inside.sum() < n:  # too few inside the band: the nearest outside it fill up
                    nearest = np.flatnonzero(~inside)[np.argsort(z[~inside], kind="stable")]
                    inside[nearest[: n - inside.sum()]] = True
                kept = kept[inside]
            keep_lists.append(kept)
        width = max((len(k) for k in keep_lists), default=0)
        if width == 0:
            return [[] for _ in user_ids]
        items = np.zeros((len(users), width), np.int64)
        mask = np.zeros((len(users), width), bool)
        for b, k in enumerate(keep_lists):
            items[b, : len(k)] = k
            mask[b, : len(k)] = True
        scores = self._score(users, history, items, ranks, rows, now)
        scores = np.where(mask, scores, -np.inf)
        is_new = (m.cat.created_ms[items] > 0) & (m.cat.created_ms[items] >= now - cfg.new_days * DAY_MS)
        asked = self._governance(items, scores, 3 * n, is_new)
        x_cache = self._last_features
        out = []
        for b in range(len(users)):
            out.append(self._assemble(b, items[b], scores[b], asked[b], sources[b], n, now, explain, x_cache))
        return out

    def _governance(self, items: np.ndarray, scores: np.ndarray, need: int, new: np.ndarray) -> np.ndarray:
        """Ask which of the best-ranked candidates (and the best new ones, which the guaranteed slots
        reach for) may be shown now, deeper until every user has ``need`` that may or none is left.
        Those that may not get −inf in place; returns which were asked (the assembly asks about deeper
        ones only if the caps make it reach them)."""
        rows = np.arange(len(items))[:, None]
        new_scores = np.where(new & np.isfinite(scores), scores, -np.inf)
        first = np.argsort(-new_scores, axis=1, kind="stable")[:, :8]
        first = np.where(np.isfinite(np.take_along_axis(new_scores, first, axis=1)), first, -1)
        order = np.argsort(-scores, axis=1, kind="stable")
        asked = np.zeros(items.shape, bool)
        checked, depth = 0, max(need + 10, 40)
        while checked < items.shape[1]:
            part = np.hstack([order[:, checked : checked + depth], first])
            first = first[:, :0]
            r = np.broadcast_to(rows, part.shape)
            live = (part >= 0) & np.isfinite(scores[r, np.maximum(part, 0)]) & ~asked[r, np.maximum(part, 0)]
            ids = self.item_ids[items[r[live], part[live]]]
            ok = self.servable(sorted(set(ids.tolist())))
            bad = np.zeros(part.shape, bool)
            bad[live] = ~np.isin(ids, list(ok))
            scores[r[bad], part[bad]] = -np.inf
            asked[r[live], part[live]] = True
            checked = min(checked + depth, items.shape[1])
            good = np.isfinite(np.take_along_axis(scores, order[:, :checked], axis=1)).sum(axis=1)
            left = np.isfinite(np.take_along_axis(scores, order[:, checked:], axis=1)).any(axis=1)
            if ((good >= need) | ~left).all():
                break
            depth *= 2
        return asked

    def _levels(self, user_ids: Sequence[str], users: np.ndarray) -> list[str]:
        return [
            self.m.user_segments.get(u, ("", ""))[1] if users[k] < 0 else "" for k, u in enumerate(user_ids)
        ]

    def _history(self, users: np.ndarray, recent: list[_Recent]) -> sp.csr_matrix:
        n = len(self.item_ids)
        known = users >= 0
        h = self.m.history[np.where(known, users, 0)]
        if not known.all():
            h = sp.csr_matrix(sp.diags(known.astype(np.float32)) @ h)
        rows, cols, vals = [], [], []
        for b, r in enumerate(recent):
            for j, w in r.engaged.items():
                rows.append(b)
                cols.append(j)
                vals.append(w)
        if rows:
            h = sp.csr_matrix(
                h + sp.csr_matrix((vals, (rows, cols)), shape=(len(users), n), dtype=np.float32)
            )
        return h.astype(np.float32)

    def _apply_recent(self, rows: ProfileRows, recent: list[_Recent]) -> None:
        """Interest, and the price band of each category, move towards what was engaged with since
        training (as if that evidence had been in the profile, with the profile weighing ``RECENT_MASS``)."""
        c, log_price = self.m.cat.level1, self.m.cat.log_price
        for b, r in enumerate(recent):
            if not r.engaged:
                continue
            delta = np.zeros(rows.interest.shape[1], np.float32)
            price = np.zeros(rows.interest.shape[1], np.float32)
            for j, w in r.engaged.items():
                if c[j] >= 0:
                    delta[c[j]] += w
                    price[c[j]] += w * log_price[j]
            rows.interest[b] = (rows.interest[b] * RECENT_MASS + delta) / (RECENT_MASS + delta.sum())
            seen = delta > 0
            rows.price_mu[b, seen] = (rows.price_mu[b, seen] * RECENT_MASS + price[seen]) / (
                RECENT_MASS + delta[seen]
            )

    def _retrieve(self, kind: str, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        """Each user's top ``rank_depth`` items by one retriever."""
        depth = min(self.config.rank_depth, len(self.item_ids))
        r = self.m.retrievers[kind]
        if kind in self._global_top and (kind == "popular" or not hasattr(r, "user_segment")):
            return np.tile(self._global_top[kind][:depth], (len(users), 1))
        if kind in self._ann:
            return self._ann_search(kind, users, depth)
        scores = r.scores(users, history)
        top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth] if depth < scores.shape[1] else None
        if top is None:
            return np.argsort(-scores, axis=1, kind="stable")
        return np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1), axis=1)

    def _candidates(
        self,
        users: np.ndarray,
        user_ids: Sequence[str],
        history: sp.csr_matrix,
        recent: list[_Recent],
        now: int,
    ) -> tuple[list[list[int]], list[dict[int, list[str]]], dict[str, np.ndarray]]:
        cfg, m = self.config, self.m
        lists = {k: self._retrieve(k, users, history) for k in m.kinds}
        trending = m.retrievers.get("trending")
        cands: list[list[int]] = []
        sources: list[dict[int, list[str]]] = []
        new_pool = np.flatnonzero((m.cat.created_ms > 0) & (m.cat.created_ms >= now - cfg.new_days * DAY_MS))
        if len(new_pool) > NEW_POOL:
            new_pool = new_pool[np.argsort(-m.stats.recent[new_pool], kind="stable")[:NEW_POOL]]
        best_new = self._best_new(new_pool, users, history, cfg.new_quota) if cfg.new_quota else None
        for b in range(len(users)):
            src: dict[int, list[str]] = {}

            def add(items: Iterable[int], name: str, src: dict[int, list[str]] = src) -> None:
                for j in items:
                    found = src.setdefault(int(j), [])
                    if name not in found:
                        found.append(name)

            for k, top in lists.items():
                add(top[b, : cfg.quota], k)
            if users[b] < 0 and trending is not None:  # a user known only by profile: their segment's trends
                crowd = m.user_segments.get(user_ids[b], ("", ""))[0]
                seg = trending.segment_scores(crowd)  # type: ignore[attr-defined]
                add(np.argsort(-seg, kind="stable")[: cfg.quota], SEGMENT)
            r = recent[b]
            if r.clicks and cfg.recent_quota:
                add(self._like_recent(r.clicks, cfg.recent_quota), RECENT)
            if cfg.followed_quota and users[b] >= 0:
                add(self._followed(users[b])[: cfg.followed_quota], FOLLOWED)
            if best_new is not None:
                add(best_new[b], NEW)
            cands.append(list(src))
            sources.append(src)
        return cands, sources, lists

    def _like_recent(self, clicks: list[int], k: int) -> list[int]:
        """Products like the last few clicked: half by co-behaviour (item-kNN), half by content."""
        last = list(dict.fromkeys(reversed(clicks)))[:5]
        out: list[int] = []
        knn = self.m.retrievers.get("itemknn")
        content = self.m.retrievers.get("content")
        sources = [s for s in (knn, content) if s is not None]
        for src in sources:
            if src is knn:
                sim = np.asarray(knn.similarity[:, last].sum(axis=1)).ravel()  # type: ignore[attr-defined]
            else:
                f = content.features  # type: ignore[attr-defined]
                sim = np.asarray((f @ f[last].T).sum(axis=1)).ravel()
            sim[last] = 0
            top = np.argsort(-sim, kind="stable")[: k // len(sources)]
            out += [int(j) for j in top if sim[j] > 0]
        return out

    def _followed(self, u: int) -> list[int]:
        p = self.m.profiles
        out: list[int] = []
        accounts = p.follows.indices[p.follows.indptr[u] : p.follows.indptr[u + 1]]
        shops = set(p.members.indices[p.members.indptr[u] : p.members.indptr[u + 1]].tolist())
        official = self.m.cat.shop_official
        shops |= set(np.flatnonzero(np.isin(official, accounts)).tolist()) if len(accounts) else set()
        for s in shops:
            out += self.shop_products.get(int(s), [])[:5]
        for a in accounts.tolist():
            out += self.carried_by.get(a, [])[:5]
        return out

    def _best_new(self, pool: np.ndarray, users: np.ndarray, history: sp.csr_matrix, k: int) -> np.ndarray:
        """Per user, the new products most like what they engaged with (by content), or the busiest."""
        if not len(pool):
            return np.zeros((len(users), 0), np.int64)
        cached = self.__dict__.get("_new_pool")
        if cached is None or not np.array_equal(cached[0], pool):  # the pool moves with the clock only
            busiest = np.argsort(-self.m.stats.recent[pool], kind="stable")
            tie = (1e-6 * (len(pool) - np.argsort(busiest))).astype(np.float32)
            content = self.m.retrievers.get("content")
            rows = content.features[pool] if content is not None else None  # type: ignore[attr-defined]
            cached = (pool, busiest, tie, rows)
            self.__dict__["_new_pool"] = cached
        _, busiest, tie, rows = cached
        content = self.m.retrievers.get("content")
        if content is None or rows is None:
            return np.tile(pool[busiest[:k]], (len(users), 1))
        profile = history @ content.features  # type: ignore[attr-defined]
        norms = np.sqrt(np.asarray(profile.multiply(profile).sum(axis=1)).ravel())
        profile = sp.csr_matrix(sp.diags(1 / np.where(norms > 0, norms, 1)) @ profile)
        s = np.asarray((rows @ profile.T).T.todense(), dtype=np.float32) + tie[None, :]
        return pool[top_n(s, k)]

    def _request_filter(
        self, max_price: int | None, categories: Iterable[str] | None, brands: Iterable[str] | None
    ) -> np.ndarray | None:
        cat = self.m.cat
        if max_price is None and not categories and not brands:
            return None
        ok = np.ones(len(self.item_ids), bool)
        if max_price is not None:
            ok &= np.nan_to_num(cat.price, nan=np.inf) <= max_price
        if categories:
            wanted = set(categories)
            level = np.array([cat.categories[c] if c >= 0 else "" for c in cat.level1], dtype=object)
            ok &= np.isin(level, list(wanted)) | np.isin(cat.category, list(wanted))
        if brands:
            names = np.array([cat.brands.ids[b] if b >= 0 else "" for b in cat.brand], dtype=object)
            ok &= np.isin(names, list(set(brands)))
        return ok

    def _pre_rules(
        self,
        u: int,
        recent: _Recent,
        cands: list[int],
        allowed: np.ndarray | None,
        now: int,
    ) -> list[int]:
        cfg, p = self.config, self.m.profiles
        bought: dict[int, float] = {}
        shown: dict[int, float] = {}
        if u >= 0:
            lo, hi = p.bought.indptr[u], p.bought.indptr[u + 1]
            bought = dict(zip(p.bought.indices[lo:hi].tolist(), p.bought.data[lo:hi].tolist(), strict=True))
            lo, hi = p.shown.indptr[u], p.shown.indptr[u + 1]
            shown = dict(zip(p.shown.indices[lo:hi].tolist(), p.shown.data[lo:hi].tolist(), strict=True))
        bought.update(recent.bought)
        today = now / DAY_MS
        out = []
        for j in cands:
            if allowed is not None and not allowed[j]:
                continue
            if cfg.exclude_bought and j in bought:
                c = self.m.cat.level1[j]
                interval = self.m.stats.repurchase_days[c] if c >= 0 else np.inf
                if today - bought[j] < interval:
                    continue
            views = shown.get(j, 0) + recent.shown.get(j, 0)
            if cfg.max_views is not None and j not in recent.clicked and views >= cfg.max_views:
                continue
            out.append(j)
        return out

    def _score(
        self,
        users: np.ndarray,
        history: sp.csr_matrix,
        items: np.ndarray,
        lists: dict[str, np.ndarray],
        rows: ProfileRows,
        now: int,
    ) -> np.ndarray:
        m = self.m
        kinds = m.kinds
        scores = np.stack([m.retrievers[k].candidate_scores(users, history, items) for k in kinds])
        ranks = np.stack(
            [list_ranks(lists[k], items, self.config.rank_depth, len(self.item_ids)) for k in kinds]
        )
        if self.config.use_ranker and m.ranker is not None:
            x = build_features(m.cat, m.stats, rows, items, scores, ranks, now)
            self._last_features = x.reshape(len(users), items.shape[1], -1)
            return m.ranker.predict(x).reshape(items.shape)
        self._last_features = None
        total = np.zeros(items.shape, np.float32)
        for r, k in enumerate(kinds):
            w = m.weights.get(k, 0.0)
            if w:
                total += w * standardise(scores[r])
        return total

    def _assemble(
        self,
        b: int,
        items: np.ndarray,
        scores: np.ndarray,
        asked: np.ndarray,
        sources: dict[int, list[str]],
        n: int,
        now: int,
        explain: bool,
        features: np.ndarray | None,
    ) -> list[FeedItem]:
        """Diversity caps and guaranteed new-product slots over the ranked candidates."""
        cfg, cat = self.config, self.m.cat
        order = [int(q) for q in np.argsort(-scores, kind="stable") if np.isfinite(scores[q])]
        verdict: dict[int, bool] = {}

        def allowed(q: int) -> bool:
            """Servable; candidates deeper than the governance check are asked about (once, all
            together) only if the caps make the assembly reach them."""
            if asked[q]:
                return True
            if q not in verdict:
                rest = [r for r in order if not asked[r] and r not in verdict]
                ok = self.servable(sorted({self.item_ids[items[r]] for r in rest}))
                verdict.update({r: self.item_ids[items[r]] in ok for r in rest})
            return verdict[q]

        is_new = (cat.created_ms[items] > 0) & (cat.created_ms[items] >= now - cfg.new_days * DAY_MS)
        cap_cat = max(1, int(np.ceil(cfg.max_category_share * n)))
        per_cat: dict[int, int] = {}
        per_shop: dict[int, int] = {}
        chosen: list[int] = []

        def fits(q: int) -> bool:
            c, s = int(cat.level1[items[q]]), int(cat.shop[items[q]])
            if c >= 0 and per_cat.get(c, 0) >= cap_cat:
                return False
            return not (cfg.max_per_shop is not None and s >= 0 and per_shop.get(s, 0) >= cfg.max_per_shop)

        def take(q: int) -> None:
            c, s = int(cat.level1[items[q]]), int(cat.shop[items[q]])
            per_cat[c] = per_cat.get(c, 0) + 1
            per_shop[s] = per_shop.get(s, 0) + 1
            chosen.append(q)

        n_new = round(cfg.new_share * n)
        new_slots = [min(n - 1, int((k + 0.5) * n / n_new)) for k in range(n_new)] if n_new else []
        new_order = [q for q in order if is_new[q]]
        regular = [q for q in order if not is_new[q] or not n_new]
        reserved: dict[int, int] = {}
        for slot, q in zip(new_slots, (q for q in new_order if fits(q) and allowed(q)), strict=False):
            reserved[slot] = q
        used = set(reserved.values())
        for q in reserved.values():
            take(q)
        final: list[int] = []
        pool = iter(regular + [q for q in new_order if q not in used])
        for pos in range(n):
            if pos in reserved:
                final.append(reserved[pos])
                continue
            for q in pool:
                if q in used or not fits(q) or not allowed(q):
                    continue
                take(q)
                used.add(q)
                final.append(q)
                break
        if len(final) < n:  # the caps left the list short: fill it from what they held back
            final += [q for q in order if q not in used and allowed(q)][: n - len(final)]
        reasons = self._reasons(b, final, features) if explain else [[] for _ in final]
        return [
            FeedItem(
                self.item_ids[items[q]],
                float(scores[q]),
                sources.get(int(items[q]), []),
                reasons[k] + (["new arrival"] if is_new[q] and "new arrival" not in reasons[k] else []),
                bool(is_new[q]),
            )
            for k, q in enumerate(final)
        ]

    def _reasons(self, b: int, final: list[int], features: np.ndarray | None) -> list[list[str]]:
        """The two features that lift each item most, in words: how much the ranker's score drops when
        a feature group (a retriever's score and rank; the price fit…) is set to its median over this
        user's candidates — one batched prediction, far cheaper than exact SHAP values."""
        ranker = self.m.ranker
        if features is None or ranker is None or not final:
            return [[] for _ in final]
        x = features[b, final]
        groups = self._explained_groups()
        reference = np.median(features[b], axis=0)
        probes = np.repeat(x[None, :, :], len(groups), axis=0)
        for g, (cols, _) in enumerate(groups):
            probes[g][:, cols] = reference[cols]
        base = ranker.predict(x)
        drop = base[None, :] - ranker.predict(probes.reshape(-1, x.shape[1])).reshape(len(groups), len(final))
        out = []
        for k in range(len(final)):
            words: list[str] = []
            for g in np.argsort(-drop[:, k], kind="stable"):
                if drop[g, k] <= 0 or len(words) == 2:
                    break
                phrase = groups[g][1]
                if phrase not in words:
                    words.append(phrase)
            out.append(words)
        return out

    def _explained_groups(self) -> list[tuple[list[int], str]]:
        """Feature groups with a meaning for users: (column indices, phrase)."""
        cached = self.__dict__.get("_groups")
        if cached is not None:
            return cached
        index = {name: k for k, name in enumerate(self.names)}
        groups: list[tuple[list[int], str]] = []
        for kind in self.m.kinds:
            phrase = RETRIEVER_PHRASES.get(kind)
            if phrase:
                groups.append(([index[f"score_{kind}"], index[f"rank_{kind}"]], phrase))
        merged: dict[str, list[int]] = {}
        for name, phrase in PHRASES.items():
            if name in index:
                merged.setdefault(phrase, []).append(index[name])
        groups += [(cols, phrase) for phrase, cols in merged.items()]
        if self.m.ranker is not None:  # the groups the ranker leans on most: one prediction each per item
            gain = self.m.ranker.importance()
            weight = [sum(gain.get(self.names[c], 0.0) for c in cols) for cols, _ in groups]
            keep = sorted(np.argsort(weight)[::-1][:EXPLAINED_GROUPS].tolist())
            groups = [groups[g] for g in keep]
        self.__dict__["_groups"] = groups
        return groups

    # -- ANN ----------------------------------------------------------------------------------

    def _build_ann(self) -> dict[str, object]:
        import faiss

        out: dict[str, object] = {}
        for k, r in self.m.retrievers.items():
            factors = getattr(r, "item_factors", None)
            if factors is None:
                continue
            index = faiss.IndexHNSWFlat(factors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 80
            index.add(np.ascontiguousarray(factors, dtype=np.float32))
            index.hnsw.efSearch = max(128, self.config.rank_depth)
            out[k] = index
        return out

    def _ann_search(self, kind: str, users: np.ndarray, depth: int) -> np.ndarray:
        r = self.m.retrievers[kind]
        q = np.zeros((len(users), r.user_factors.shape[1]), np.float32)  # type: ignore[attr-defined]
        known = users >= 0
        q[known] = r.user_factors[users[known]]  # type: ignore[attr-defined]
        _, idx = self._ann[kind].search(q, depth)  # type: ignore[attr-defined]
        return np.where(idx >= 0, idx, 0)

    # -- content feed -------------------------------------------------------------------------

    def content(self, user_id: str, n: int = 10, now_ms: int | None = None) -> list[ContentItem]:
        """Short videos and live rooms for a user: each scored by the best product it carries for this
        user, with rooms live now and followed creators boosted; content whose goods are all unservable
        is dropped."""
        m, cfg = self.m, self.config
        now = now_ms if now_ms is not None else m.trained_until_ms
        t = m.content
        if t is None or t.num_rows == 0:
            return []
        pub = pc.cast(t["published_at"], pa.int64()).to_numpy()
        end = pc.fill_null(pc.cast(t["ended_at"], pa.int64()), -1).to_numpy()
        kind = np.array(t["kind"].to_pylist(), dtype=object)
        live = kind == "live"
        live_now = live & (pub <= now) & ((end < 0) | (end > now))
        fresh = (pub <= now) & (pub >= now - 7 * DAY_MS) | live_now
        idx = np.flatnonzero(fresh)
        if not len(idx):
            return []
        carried = t["product_ids"].to_pylist()
        all_products = sorted({p for i in idx for p in (carried[i] or [])})
        ok = self.servable(all_products)
        products = [p for p in all_products if p in ok]
        if not products:
            return []
        j = m.cat.items.lookup(np.array(products, dtype=object))
        u = m.profiles.users.lookup(np.array([user_id], dtype=object))
        recent = self._recent_for([user_id])
        history = self._history(u, recent)
        rows = ProfileRows.of(m.profiles, u, self._levels([user_id], u))
        self._apply_recent(rows, recent)
        valid = j >= 0
        items = j[valid][None, :]
        lists = {k: self._retrieve(k, u, history) for k in m.kinds}
        s = self._score(u, history, items, lists, rows, now)[0]
        score_of = dict(zip(np.array(products, dtype=object)[valid].tolist(), s.tolist(), strict=True))
        creators = t["creator_id"].to_pylist()
        follows = set()
        if u[0] >= 0:
            f = m.profiles.follows
            follows = {m.cat.creators.ids[a] for a in f.indices[f.indptr[u[0]] : f.indptr[u[0] + 1]]}
        out = []
        for i in idx:
            goods = [p for p in (carried[i] or []) if p in score_of]
            if not goods:
                continue
            best = max(goods, key=lambda p: score_of[p])
            score = (
                score_of[best] + cfg.live_boost * live_now[i] + cfg.follow_boost * (creators[i] in follows)
            )
            reasons = (["live now"] if live_now[i] else []) + (
                ["from a creator you follow"] if creators[i] in follows else []
            )
            out.append(
                ContentItem(
                    t["content_id"][int(i)].as_py(),
                    str(kind[i]),
                    creators[i],
                    float(score),
                    bool(live_now[i]),
                    sorted(goods, key=lambda p: -score_of[p]),
                    [*reasons, f"carries {best}"],
                )
            )
        out.sort(key=lambda c: -c.score)
        per_creator: dict[str, int] = {}
        final = []
        for c in out:
            if per_creator.get(c.creator_id, 0) >= 2:
                continue
            per_creator[c.creator_id] = per_creator.get(c.creator_id, 0) + 1
            final.append(c)
            if len(final) == n:
                break
        return final
