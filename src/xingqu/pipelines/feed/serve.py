"""The feed as composed stages over one loaded model: recent events → candidates (sources) → candidate
rules → score (ranker or blend) → governance (servable now) → rerank (caps, new slots) → reasons.

A ``Feed`` keeps no per-request state: everything a request computes lives in its ``Request``, the
model and what was prepared from it are read-only, and events since training live in the online
state (``RecentEvents``). One ``Feed`` serves requests from many threads at once."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from xingqu.domain.units import DAY_MS
from xingqu.features.ranking import ProfileRows
from xingqu.feed_training import FeedModel
from xingqu.models import rowops
from xingqu.online.recent import MemoryRecentEvents, RecentEvents
from xingqu.pipelines.feed.context import FeedTrace, Filters, Recent, Request
from xingqu.pipelines.feed.model import ContentItem, FeedConfig, FeedItem
from xingqu.pipelines.feed.prepared import Prepared
from xingqu.pipelines.feed.rules import Reranker, Servability, Servable, candidate_rules
from xingqu.pipelines.feed.scoring import apply_recent, reasons, score
from xingqu.pipelines.feed.sources import gather, retrieve, sources_for

#: Users scored together: dense per-user rows over a large catalogue stay small at this size.
BATCH = 64


class Feed:
    """Serves feeds from a ``FeedModel``; ``servable`` answers which product ids may be shown now and
    ``recent`` where each user's events since training are found (kept in process by default)."""

    def __init__(
        self,
        model: FeedModel,
        servable: Servability,
        config: FeedConfig | None = None,
        recent: RecentEvents | None = None,
    ) -> None:
        self.model = model
        self.servable = servable
        self.recent = recent if recent is not None else MemoryRecentEvents()
        self.prepared = Prepared(model, config or FeedConfig())
        self._sources = sources_for(self.prepared)
        self._governance = Servable(servable, self.prepared.item_ids)
        self._reranker = Reranker(self.prepared, self._governance)

    @property
    def config(self) -> FeedConfig:
        return self.prepared.config

    @property
    def feature_names(self) -> list[str]:
        """Columns of the ranker's feature rows (``FeedTrace.features``)."""
        return self.prepared.names

    def with_config(self, config: FeedConfig) -> Feed:
        """The same model, servability and recent events, assembled under another config."""
        return Feed(self.model, self.servable, config, self.recent)

    def observe(self, events: pa.Table) -> None:
        """Take in events recorded since training (canonical event rows)."""
        self.recent.record(events)

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
        segments: Mapping[str, tuple[str, str]] | None = None,
        trace: FeedTrace | None = None,
    ) -> list[FeedItem]:
        """The ranked feed of one user (``max_price`` in fen; categories by level-1 name or full path;
        ``segments`` describes users registered after training: user → (crowd, consumption level))."""
        return self.recommend_many(
            [user_id],
            n,
            max_price=max_price,
            categories=categories,
            brands=brands,
            now_ms=now_ms,
            explain=explain,
            segments=segments,
            trace=trace,
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
        segments: Mapping[str, tuple[str, str]] | None = None,
        trace: FeedTrace | None = None,
    ) -> list[list[FeedItem]]:
        """Feeds of many users at once (vectorised scoring, in chunks of ``BATCH`` users)."""
        filters = Filters.of(max_price, categories, brands)
        out: list[list[FeedItem]] = []
        for lo in range(0, len(user_ids), BATCH):
            out += self._serve(list(user_ids[lo : lo + BATCH]), n, filters, now_ms, explain, segments, trace)
        return out

    def request(
        self,
        user_ids: list[str],
        n: int = 20,
        filters: Filters | None = None,
        now_ms: int | None = None,
        segments: Mapping[str, tuple[str, str]] | None = None,
    ) -> Request:
        """A request's inputs, as the stages see them: profile indices, segments of unknown users,
        events since training, and the history and profile rows those events move."""
        filters = filters or Filters()
        m = self.model
        users = np.asarray(m.profiles.users.lookup(np.array(user_ids, dtype=object)), dtype=np.int64)
        segs = {
            u: (segments or {}).get(u) or m.user_segments.get(u, ("", ""))
            for k, u in enumerate(user_ids)
            if users[k] < 0
        }
        events = self.recent.for_users(user_ids, m.trained_until_ms)
        now = now_ms if now_ms is not None else m.trained_until_ms
        half_life = self.config.recent_half_life_hours
        tails = m.sessions
        recent = [
            Recent.of(m.cat, evs, now, half_life, tails.user(int(u)) if tails is not None else None)
            for u, evs in zip(users, events, strict=True)
        ]
        req = Request(user_ids, users, n, now, filters, segs, recent)
        req.history = self._history(users, recent)
        levels = [req.segment(b)[1] if users[b] < 0 else "" for b in range(len(users))]
        req.rows = ProfileRows.of(m.profiles, users, levels)
        apply_recent(req.rows, recent, self.prepared)
        return req

    def _serve(
        self,
        user_ids: list[str],
        n: int,
        filters: Filters,
        now_ms: int | None,
        explain: bool,
        segments: Mapping[str, tuple[str, str]] | None,
        trace: FeedTrace | None,
    ) -> list[list[FeedItem]]:
        prep, cat = self.prepared, self.model.cat
        trace = trace if trace is not None else FeedTrace()
        t = time.perf_counter()
        req = self.request(user_ids, n, filters, now_ms, segments)
        t = trace.add("recent", t)
        cands = gather(req, prep, self._sources)
        t = trace.add("candidates", t)
        rules = candidate_rules(prep, filters)
        kept = []
        for b, c in enumerate(cands):
            items = np.asarray(c, dtype=np.int64)
            for rule in rules:
                items = rule.apply(req, prep, b, items)
            kept.append(items)
        width = max((len(k) for k in kept), default=0)
        t = trace.add("rules", t)
        if width == 0:
            return [[] for _ in user_ids]
        items = np.zeros((len(user_ids), width), np.int64)
        mask = np.zeros((len(user_ids), width), bool)
        for b, k in enumerate(kept):
            items[b, : len(k)] = k
            mask[b, : len(k)] = True
        scores = np.where(mask, score(req, prep, items, mask), -np.inf)
        t = trace.add("ranker", t)
        trace.features, trace.names = req.features, prep.names
        born = cat.created_ms[items]
        is_new = (born > 0) & (born >= req.now - prep.config.new_days * DAY_MS)
        asked = self._governance.check(items, scores, 3 * n, is_new)
        t = trace.add("servable", t)
        out: list[list[FeedItem]] = []
        explained = 0.0
        open_cats = cat.content_categories
        for b in range(len(user_ids)):
            browsing = (
                req.recent[b].session.browsing(req.now, open_cats) if prep.config.sequence else frozenset()
            )
            final = self._reranker.assemble(items[b], scores[b], asked[b], is_new[b], n, browsing)
            e = time.perf_counter()
            width_b = len(kept[b])  # this user's candidates; the rest of the row pads the batch
            block = req.features[b, :width_b] if req.features is not None else None
            own = req.ranked[b, :width_b] if req.ranked is not None else scores[b, :width_b]
            words = reasons(prep, block, final, own) if explain else [[] for _ in final]
            explained += time.perf_counter() - e
            row = []
            for k, q in enumerate(final):
                new = bool(is_new[b, q])
                why = words[k] + (["new arrival"] if new and "new arrival" not in words[k] else [])
                j = int(items[b, q])
                found = req.sources[b].get(j, [])
                row.append(FeedItem(prep.item_ids[j], float(scores[b, q]), found, why, new))
            out.append(row)
        t = trace.add("rerank", t)
        trace.seconds["rerank"] -= explained
        trace.seconds["explanations"] = trace.seconds.get("explanations", 0.0) + explained
        return out

    def _history(self, users: np.ndarray, recent: list[Recent]) -> sp.csr_matrix:
        """Each user's scoring history at training time plus what they engaged with since."""
        n = len(self.prepared.item_ids)
        known = users >= 0
        safe = np.where(known, users, 0)
        h = (
            rowops.take_rows(self.model.history, safe)
            if len(users) <= rowops.MAX_LOOP_ROWS
            else self.model.history[safe]
        )
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
        return h.astype(np.float32, copy=False)

    # -- content feed -------------------------------------------------------------------------

    def content(
        self,
        user_id: str,
        n: int = 10,
        now_ms: int | None = None,
        segments: Mapping[str, tuple[str, str]] | None = None,
    ) -> list[ContentItem]:
        """Short videos and live rooms for a user: each scored by the best product it carries for this
        user, with rooms live now and followed creators boosted; content whose goods are all unservable
        is dropped."""
        m, cfg, prep = self.model, self.config, self.prepared
        req = self.request([user_id], 1, Filters(), now_ms, segments)
        now = req.now
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
        valid = j >= 0
        items = j[valid][None, :]
        req.lists = {k: retrieve(k, req, prep) for k in prep.kinds}
        s = score(req, prep, items)[0]
        score_of = dict(zip(np.array(products, dtype=object)[valid].tolist(), s.tolist(), strict=True))
        creators = t["creator_id"].to_pylist()
        follows = set()
        u = int(req.users[0])
        if u >= 0:
            f = m.profiles.follows
            follows = {m.cat.creators.ids[a] for a in f.indices[f.indptr[u] : f.indptr[u + 1]]}
        out = []
        for i in idx:
            goods = [p for p in (carried[i] or []) if p in score_of]
            if not goods:
                continue
            best = max(goods, key=lambda p: score_of[p])
            value = (
                score_of[best] + cfg.live_boost * live_now[i] + cfg.follow_boost * (creators[i] in follows)
            )
            why = (["live now"] if live_now[i] else []) + (
                ["from a creator you follow"] if creators[i] in follows else []
            )
            out.append(
                ContentItem(
                    t["content_id"][int(i)].as_py(),
                    str(kind[i]),
                    creators[i],
                    float(value),
                    bool(live_now[i]),
                    sorted(goods, key=lambda p: -score_of[p]),
                    [*why, f"carries {best}"],
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
