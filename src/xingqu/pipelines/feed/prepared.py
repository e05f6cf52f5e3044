"""What a loaded feed model derives once, before serving: global lists, each shop's and account's
goods, the ANN indexes over factor models, the explained feature groups. Read-only afterwards, so
requests on many threads share it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from xingqu.features.ranking import PHRASES, feature_names, warm
from xingqu.feed_training import FeedModel
from xingqu.models.base import ContentFeatures, Factorised, top_n
from xingqu.pipelines.feed.model import FeedConfig

#: Feature groups probed to explain an item (the ranker's most important ones).
EXPLAINED_GROUPS = 10


@dataclass
class NewPool:
    """The new products of one moment, the busiest first, with their content rows."""

    first: int  # position of the oldest of them in ``Prepared.by_created``
    pool: np.ndarray
    busiest: np.ndarray
    tie: np.ndarray
    rows: sp.csr_matrix | None


@dataclass
class Prepared:
    """A feed model made ready to serve under one config."""

    model: FeedModel
    config: FeedConfig
    item_ids: np.ndarray = field(init=False)
    kinds: list[str] = field(init=False)  # the retrievers this config uses
    names: list[str] = field(init=False)
    global_top: dict[str, np.ndarray] = field(init=False)
    shop_products: dict[int, list[int]] = field(init=False)
    carried_by: dict[int, list[int]] = field(init=False)
    ann: dict[str, object] = field(init=False)
    groups: list[tuple[list[int], str]] = field(init=False)
    official_shops: dict[int, list[int]] = field(init=False)  # creator → shops it is the official account of
    by_created: np.ndarray = field(init=False)  # items with a creation time, oldest first
    created_sorted: np.ndarray = field(init=False)  # their creation times, ascending
    _new_pool: NewPool | None = field(init=False, default=None)
    _segment_tops: dict[tuple[str, int], np.ndarray] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def segment_top(self, kind: str, segment: int, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The top list of one segment of a segment-scoring retriever, computed on first use."""
        key = (kind, segment)
        top = self._segment_tops.get(key)
        if top is None:
            top = self._segment_tops[key] = compute()
        return top

    def __post_init__(self) -> None:
        m, cfg = self.model, self.config
        n_items = len(m.cat.items.ids)
        self.item_ids = m.cat.items.ids
        self.kinds = [k for k in m.kinds if cfg.sequence or not m.retrievers[k].sequential]
        self.names = feature_names(m.kinds)
        self.ann = build_ann(m, cfg) if n_items > cfg.ann_threshold else {}
        self.global_top = {
            k: top_n(
                r.candidate_scores(np.array([-1]), sp.csr_matrix((1, n_items)), np.arange(n_items)[None, :]),
                cfg.rank_depth,
            )[0]
            for k, r in m.retrievers.items()
            if not r.personal
        }
        shop_products: dict[int, list[int]] = {}
        for j in np.argsort(-m.stats.recent, kind="stable").tolist():
            s = int(m.cat.shop[j])
            if s >= 0:
                shop_products.setdefault(s, []).append(j)
        self.shop_products = shop_products
        self.carried_by = {}
        car = m.stats.carriers.tocsc()
        for a in range(car.shape[1]):
            items = car.indices[car.indptr[a] : car.indptr[a + 1]]
            if len(items):
                self.carried_by[a] = items[np.argsort(-m.stats.recent[items], kind="stable")].tolist()
        self.groups = explained_groups(m, self.names)
        self.official_shops = {}
        for shop, account in enumerate(m.cat.shop_official.tolist()):
            if account >= 0:
                self.official_shops.setdefault(account, []).append(shop)
        dated = np.flatnonzero(m.cat.created_ms > 0)
        self.by_created = dated[np.argsort(m.cat.created_ms[dated], kind="stable")]
        self.created_sorted = m.cat.created_ms[self.by_created]
        # lookups built now rather than by the first request
        warm(m.cat)
        m.profiles.users.index  # noqa: B018
        m.cat.items.index  # noqa: B018

    def new_pool(self, since_ms: int, size: int) -> NewPool:
        """The ``size`` busiest products created at or after ``since_ms``, with their ordering and
        content rows, kept while the pool stands still (it moves with the clock only)."""
        first = int(np.searchsorted(self.created_sorted, since_ms, side="left"))
        cached = self._new_pool
        if cached is not None and cached.first == first:
            return cached
        m = self.model
        pool = np.sort(self.by_created[first:])
        if len(pool) > size:
            pool = pool[np.argsort(-m.stats.recent[pool], kind="stable")[:size]]
        busiest = np.argsort(-m.stats.recent[pool], kind="stable")
        tie = (1e-6 * (len(pool) - np.argsort(busiest))).astype(np.float32)
        content = m.retrievers.get("content")
        rows = content.features[pool] if isinstance(content, ContentFeatures) else None
        made = NewPool(first, pool, busiest, tie, rows)
        with self._lock:
            self._new_pool = made
        return made


def build_ann(model: FeedModel, config: FeedConfig) -> dict[str, object]:
    """An HNSW inner-product index over each factor model's item factors."""
    import faiss

    out: dict[str, object] = {}
    for k, r in model.retrievers.items():
        if not isinstance(r, Factorised):
            continue
        index = faiss.IndexHNSWFlat(r.item_factors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.add(np.ascontiguousarray(r.item_factors, dtype=np.float32))
        index.hnsw.efSearch = max(128, config.rank_depth)
        out[k] = index
    return out


def explained_groups(model: FeedModel, names: list[str]) -> list[tuple[list[int], str]]:
    """Feature groups with a meaning for users, as (column indices, phrase): each retriever's score
    and rank, and the profile-fit features; with a ranker, only the ``EXPLAINED_GROUPS`` it leans on
    most (each costs one prediction per explained item)."""
    index = {name: k for k, name in enumerate(names)}
    groups: list[tuple[list[int], str]] = []
    for kind in model.kinds:
        phrase = model.retrievers[kind].phrase
        if phrase:
            groups.append(([index[f"score_{kind}"], index[f"rank_{kind}"]], phrase))
    merged: dict[str, list[int]] = {}
    for name, phrase in PHRASES.items():
        if name in index:
            merged.setdefault(phrase, []).append(index[name])
    groups += [(cols, phrase) for phrase, cols in merged.items()]
    if model.ranker is not None:
        gain = model.ranker.importance()
        weight = [sum(gain.get(names[c], 0.0) for c in cols) for cols, _ in groups]
        keep = sorted(np.argsort(weight)[::-1][:EXPLAINED_GROUPS].tolist())
        groups = [groups[g] for g in keep]
    return groups
