"""Candidate sources of the feed, each behind one protocol: a name, a quota, and per user a list of
items best first. The retrievers' lists, a segment's trends for users known only by a profile,
products like those just clicked, goods of followed shops and creators, and new arrivals."""

from __future__ import annotations

from itertools import chain
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from xingqu.domain.units import DAY_MS
from xingqu.models import rowops
from xingqu.models.base import (
    ContentFeatures,
    ItemSimilarity,
    SegmentedScores,
    SegmentScores,
    SparseScores,
    top_n,
    top_of,
    transposed_csr,
)
from xingqu.models.content import ContentModel
from xingqu.pipelines.feed.context import Request
from xingqu.pipelines.feed.model import FOLLOWED, NEW, RECENT, SEGMENT
from xingqu.pipelines.feed.prepared import Prepared

#: New products considered for the guaranteed slots at most (the busiest).
NEW_POOL = 1_000


class CandidateSource(Protocol):
    """Finds candidates for each user of a request (item indices, best first)."""

    name: str

    def candidates(self, req: Request, prep: Prepared) -> list[list[int]]: ...


def retrieve(kind: str, req: Request, prep: Prepared) -> np.ndarray:
    """Each user's top ``rank_depth`` items by one retriever (its rank is a ranking feature too)."""
    depth = min(prep.config.rank_depth, len(prep.item_ids))
    users = req.users
    if kind in prep.global_top:
        return np.tile(prep.global_top[kind][:depth], (len(users), 1))
    if kind in prep.ann:
        r = prep.model.retrievers[kind]
        q = np.zeros((len(users), r.user_factors.shape[1]), np.float32)  # type: ignore[attr-defined]
        known = users >= 0
        q[known] = r.user_factors[users[known]]  # type: ignore[attr-defined]
        _, idx = prep.ann[kind].search(q, depth)  # type: ignore[attr-defined]
        return np.where(idx >= 0, idx, 0)
    model = prep.model.retrievers[kind]
    if isinstance(model, SparseScores) and depth < len(prep.item_ids):
        found = model.sparse_scores(users, req.history)
        found.sort_indices()
        req.sparse[kind] = found  # the candidates' scores are read from it (``sparse_at``)
        return sparse_top(found, depth)
    if isinstance(model, SegmentedScores):
        return np.stack([segment_list(kind, model, req, prep, b, depth) for b in range(len(users))])
    return dense_top(model.scores(users, req.history), depth)


def segment_list(
    kind: str, model: SegmentedScores, req: Request, prep: Prepared, b: int, depth: int
) -> np.ndarray:
    """The b-th user's list from a segment-scoring retriever: its segment's, computed once."""
    segment = int(model.user_segments(req.users[b : b + 1])[0])

    def compute() -> np.ndarray:
        return dense_top(model.scores(req.users[b : b + 1], req.history[b]), depth)[0]  # type: ignore[attr-defined]

    return prep.segment_top(kind, segment, compute)


def dense_top(scores: np.ndarray, depth: int) -> np.ndarray:
    """Each row's top ``depth`` columns, best first."""
    if depth >= scores.shape[1]:
        return np.argsort(-scores, axis=1, kind="stable")
    top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
    return np.take_along_axis(top, np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1), axis=1)


def sparse_top(s: sp.csr_matrix, depth: int) -> np.ndarray:
    """Each row's top ``depth`` items read from a sparse-scoring model's nonzero scores ``s`` (the
    same list as from the dense row, ties by the lower index); a row with fewer than
    ``depth`` positive scores has its list filled with zero-scored items by index (which of the equal
    zeros a dense row would pick is arbitrary too; this costs no pass over the whole catalogue)."""
    out = np.empty((s.shape[0], depth), np.int64)
    for b in range(s.shape[0]):
        idx, val = s.indices[s.indptr[b] : s.indptr[b + 1]], s.data[s.indptr[b] : s.indptr[b + 1]]
        positive = val > 0
        if positive.sum() < depth:  # the positives, best first, then zero-scored items by index
            idx, val = idx[positive], val[positive]
            first = idx[np.lexsort((idx, -val))]
            rest = np.setdiff1d(np.arange(depth + len(first)), first, assume_unique=True)
            out[b] = np.concatenate([first, rest[: depth - len(first)]])
            continue
        out[b] = top_of(idx[positive], val[positive], depth)
    return out


def sparse_at(s: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
    """Row b of ``s`` (indices sorted) at the columns ``items[b]``: the scores of each user's
    candidates, read from the retriever's scores already computed for the user's top list."""
    out = np.zeros(items.shape, np.float32)
    for b in range(items.shape[0]):
        idx, val = s.indices[s.indptr[b] : s.indptr[b + 1]], s.data[s.indptr[b] : s.indptr[b + 1]]
        if len(idx):
            at = np.minimum(np.searchsorted(idx, items[b]), len(idx) - 1)
            out[b] = np.where(idx[at] == items[b], val[at], 0.0)
    return out


class RetrieverSource:
    """The first ``quota`` of a retriever's list (computed once per request into ``req.lists``)."""

    def __init__(self, kind: str, quota: int) -> None:
        self.name, self.quota = kind, quota

    def candidates(self, req: Request, prep: Prepared) -> list[list[int]]:
        if self.name not in req.lists:
            req.lists[self.name] = retrieve(self.name, req, prep)
        top = req.lists[self.name]
        return [top[b, : self.quota].tolist() for b in range(len(req.users))]


class SegmentSource:
    """For users the model never saw: the trends of their crowd (by a segment-scoring retriever)."""

    name = SEGMENT

    def __init__(self, model: SegmentScores, quota: int) -> None:
        self.model, self.quota = model, quota

    def candidates(self, req: Request, prep: Prepared) -> list[list[int]]:
        out: list[list[int]] = []
        for b in range(len(req.users)):
            if req.users[b] >= 0:
                out.append([])
                continue
            seg = self.model.segment_scores(req.segment(b)[0])
            out.append(np.argsort(-seg, kind="stable")[: self.quota].tolist())
        return out


class RecentSource:
    """Products like the last few clicked since training: half by co-behaviour, half by content."""

    name = RECENT

    def __init__(self, prep: Prepared, quota: int) -> None:
        retrievers = prep.model.retrievers.values()
        self.similar = [r for r in retrievers if isinstance(r, ItemSimilarity)][:1]
        self.content = [r for r in retrievers if isinstance(r, ContentFeatures)][:1]
        self.quota = quota

    def candidates(self, req: Request, prep: Prepared) -> list[list[int]]:
        return [self._like(r.clicks) if r.clicks else [] for r in req.recent]

    def _like(self, clicks: list[int]) -> list[int]:
        last = list(dict.fromkeys(reversed(clicks)))[:5]
        parts = [*((s, True) for s in self.similar), *((c, False) for c in self.content)]
        out: list[int] = []
        ones = np.ones(len(last))
        for src, by_similarity in parts:
            if by_similarity:  # Σ over the clicked items of their similarity columns
                sim = rowops.vector_times(np.array(last), ones, transposed_csr(src, "similarity"))
            else:  # Σ of the cosines to the clicked items: through the postings of their terms
                f = src.features  # type: ignore[attr-defined]
                v = rowops.vector_times(np.array(last), ones, f)
                terms = np.flatnonzero(v != 0)
                sim = rowops.vector_times(terms, v[terms], transposed_csr(src, "features"))
            sim[last] = 0
            quota = self.quota // len(parts)
            liked = np.flatnonzero(sim > 0)  # only the positives are taken: the top of them
            top = (
                top_of(liked, sim[liked], quota)
                if len(liked) > quota
                else liked[np.argsort(-sim[liked], kind="stable")]
            )
            out += top.tolist()
        return out


class FollowedSource:
    """Goods of the shops a user follows or is a member of, and goods carried by accounts they follow."""

    name = FOLLOWED

    def __init__(self, quota: int) -> None:
        self.quota = quota

    def candidates(self, req: Request, prep: Prepared) -> list[list[int]]:
        return [self._followed(int(u), prep)[: self.quota] if u >= 0 else [] for u in req.users]

    @staticmethod
    def _followed(u: int, prep: Prepared) -> list[int]:
        p = prep.model.profiles
        out: list[int] = []
        accounts = p.follows.indices[p.follows.indptr[u] : p.follows.indptr[u + 1]]
        shops = set(p.members.indices[p.members.indptr[u] : p.members.indptr[u + 1]].tolist())
        for a in accounts.tolist():
            shops.update(prep.official_shops.get(a, ()))
        for s in shops:
            out += prep.shop_products.get(int(s), [])[:5]
        for a in accounts.tolist():
            out += prep.carried_by.get(a, [])[:5]
        return out


class NewSource:
    """Per user, the new products most like what they engaged with (by content), or the busiest."""

    name = NEW

    def __init__(self, quota: int) -> None:
        self.quota = quota

    def candidates(self, req: Request, prep: Prepared) -> list[list[int]]:
        m = prep.model
        cached = prep.new_pool(req.now - prep.config.new_days * DAY_MS, NEW_POOL)
        pool = cached.pool
        if not len(pool):
            return [[] for _ in req.users]
        content = m.retrievers.get("content")
        if not isinstance(content, ContentFeatures) or cached.rows is None:
            best = pool[cached.busiest[: self.quota]].tolist()
            return [best for _ in req.users]
        if len(req.users) <= rowops.MAX_LOOP_ROWS and isinstance(content, ContentModel):
            s = np.stack([cached.rows @ content.profile_row(req.history, b) for b in range(len(req.users))])
            s = s.astype(np.float32) + cached.tie[None, :]
            return pool[top_n(s, self.quota)].tolist()
        profile = req.history @ content.features
        norms = np.sqrt(np.asarray(profile.multiply(profile).sum(axis=1)).ravel())
        profile = sp.csr_matrix(sp.diags(1 / np.where(norms > 0, norms, 1)) @ profile)
        s = np.asarray((cached.rows @ profile.T).T.todense(), dtype=np.float32) + cached.tie[None, :]
        return pool[top_n(s, self.quota)].tolist()


def sources_for(prep: Prepared) -> list[CandidateSource]:
    """The sources a config switches on, in the order their candidates are merged."""
    cfg, m = prep.config, prep.model
    out: list[CandidateSource] = [RetrieverSource(k, cfg.quota) for k in prep.kinds]
    trending = m.retrievers.get("trending")
    if isinstance(trending, SegmentScores):
        out.append(SegmentSource(trending, cfg.quota))
    if cfg.recent_quota:
        out.append(RecentSource(prep, cfg.recent_quota))
    if cfg.followed_quota:
        out.append(FollowedSource(cfg.followed_quota))
    if cfg.new_quota:
        out.append(NewSource(cfg.new_quota))
    return out


def gather(req: Request, prep: Prepared, sources: list[CandidateSource]) -> list[list[int]]:
    """Every source's candidates merged per user (first finder first), with which sources found each
    in ``req.sources``; the retrievers' full lists stay in ``req.lists`` for the rank features."""
    found = [src.candidates(req, prep) for src in sources]
    for kind in prep.kinds:  # every retriever's list, also those with no quota here
        if kind not in req.lists:
            req.lists[kind] = retrieve(kind, req, prep)
    names = [src.name for src in sources]
    req.sources = [FoundBy(names, [lists[b] for lists in found]) for b in range(len(req.users))]
    return [
        list(dict.fromkeys(chain.from_iterable(lists[b] for lists in found))) for b in range(len(req.users))
    ]


class FoundBy:
    """Which sources found each candidate of one user, in the sources' order: asked only of the few
    items served, so the sets are made on first use."""

    def __init__(self, names: list[str], lists: list[list[int]]) -> None:
        self.names, self.lists = names, lists
        self._sets: list[set[int]] | None = None

    def get(self, item: int, default: list[str]) -> list[str]:
        """The names of the sources that found ``item`` (``default`` when none did)."""
        if self._sets is None:
            self._sets = [set(lst) for lst in self.lists]
        found = list(dict.fromkeys(n for n, s in zip(self.names, self._sets, strict=True) if item in s))
        return found or default
