"""The feed's rules, each a small named object. Candidate rules run before scoring and drop items
(request filters, already bought, ignored, price band); the governance rule runs on the ranked list
(servable now, asked of the online state best-first); the reranker applies the diversity caps, the
share kept for the categories browsed now and the guaranteed new-product slots (保量) while
assembling the list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from xingqu.domain.units import DAY_MS
from xingqu.pipelines.feed.context import Filters, Request
from xingqu.pipelines.feed.prepared import Prepared

#: Which of some product ids may be shown now.
Servability = Callable[[list[str]], set[str]]


class CandidateRule(Protocol):
    """Keeps some of one user's candidates (item indices, order preserved)."""

    name: str

    def apply(self, req: Request, prep: Prepared, b: int, items: np.ndarray) -> np.ndarray: ...


class RequestFilter:
    """Only what the request asked for: a price cap (fen), level-1 categories or paths, brands."""

    name = "request_filter"

    def __init__(self, prep: Prepared, filters: Filters) -> None:
        cat = prep.model.cat
        ok = np.ones(len(prep.item_ids), bool)
        if filters.max_price is not None:
            ok &= np.nan_to_num(cat.price, nan=np.inf) <= filters.max_price
        if filters.categories:
            level = np.array([cat.categories[c] if c >= 0 else "" for c in cat.level1], dtype=object)
            wanted = list(set(filters.categories))
            ok &= np.isin(level, wanted) | np.isin(cat.category, wanted)
        if filters.brands:
            names = np.array([cat.brands.ids[b] if b >= 0 else "" for b in cat.brand], dtype=object)
            ok &= np.isin(names, list(set(filters.brands)))
        self.allowed = ok

    def apply(self, req: Request, prep: Prepared, b: int, items: np.ndarray) -> np.ndarray:
        return items[self.allowed[items]]


_NONE = np.zeros(0, np.int64)


def _values_at(idx: np.ndarray, values: np.ndarray, items: np.ndarray) -> np.ndarray:
    """The value of each of ``items`` in a sparse row (``idx`` / ``values``; 0 where absent; of a
    repeated index, its last value, as a dict built from the row would hold), as float64."""
    out = np.zeros(len(items), np.float64)
    if not len(idx) or not len(items):
        return out
    order = np.argsort(idx, kind="stable")
    pos = np.searchsorted(idx[order], items, side="right") - 1
    hit = pos >= 0
    hit[hit] = idx[order[pos[hit]]] == items[hit]
    out[hit] = values[order[pos[hit]]]
    return out


def _row(m: object, u: int) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = m.indptr[u], m.indptr[u + 1]  # type: ignore[attr-defined]
    return m.indices[lo:hi], m.data[lo:hi]  # type: ignore[attr-defined]


class AlreadyBought:
    """Nothing bought that is durable, nor a consumable before its category's repurchase interval
    (purchases since training count, refunded ones do not)."""

    name = "already_bought"

    def apply(self, req: Request, prep: Prepared, b: int, items: np.ndarray) -> np.ndarray:
        u, m = int(req.users[b]), prep.model
        bought: dict[int, float] = {}
        if u >= 0:
            idx, day = _row(m.profiles.bought, u)
            bought = dict(zip(idx.tolist(), day.tolist(), strict=True))
        bought.update(req.recent[b].bought)
        if not bought:
            return items
        today = req.now / DAY_MS
        keep = np.ones(len(items), bool)
        for k, j in enumerate(items.tolist()):
            if j in bought:
                c = m.cat.level1[j]
                interval = m.stats.repurchase_days[c] if c >= 0 else np.inf
                keep[k] = today - bought[j] >= interval
        return items[keep]


class IgnoredViews:
    """Nothing shown ``max_views`` times (this week's profile plus since training) without a click."""

    name = "ignored"

    def __init__(self, max_views: int) -> None:
        self.max_views = max_views

    def apply(self, req: Request, prep: Prepared, b: int, items: np.ndarray) -> np.ndarray:
        u, recent = int(req.users[b]), req.recent[b]
        idx, seen = _row(prep.model.profiles.shown, u) if u >= 0 else (_NONE, _NONE)
        if not len(idx) and not recent.shown:
            return items
        views = _values_at(idx, seen, items)
        if recent.shown:
            views += _values_at(
                np.fromiter(recent.shown.keys(), np.int64, len(recent.shown)),
                np.fromiter(recent.shown.values(), np.float64, len(recent.shown)),
                items,
            )
        keep = views < self.max_views
        if recent.clicked:
            keep |= np.isin(items, np.fromiter(recent.clicked, np.int64, len(recent.clicked)))
        return items[keep]


class PriceBand:
    """Products within ``z`` band widths of the user's price centre for their category; when fewer
    than the list's length are inside, the nearest outside fill up."""

    name = "price_band"

    def __init__(self, z: float) -> None:
        self.z = z

    def apply(self, req: Request, prep: Prepared, b: int, items: np.ndarray) -> np.ndarray:
        if not len(items):
            return items
        assert req.rows is not None
        cat = prep.model.cat
        lv = cat.level1[items]
        dist = np.abs(cat.log_price[items] - req.rows.price_mu[b, np.maximum(lv, 0)]) / max(
            float(req.rows.price_sd[b]), 0.05
        )
        inside = (dist <= self.z) | (lv < 0)
        if inside.sum() < req.n:
            nearest = np.flatnonzero(~inside)[np.argsort(dist[~inside], kind="stable")]
            inside[nearest[: req.n - inside.sum()]] = True
        return items[inside]


def candidate_rules(prep: Prepared, filters: Filters) -> list[CandidateRule]:
    """The candidate rules the config and the request switch on, in order."""
    cfg = prep.config
    rules: list[CandidateRule] = []
    if filters:
        rules.append(RequestFilter(prep, filters))
    if cfg.exclude_bought:
        rules.append(AlreadyBought())
    if cfg.max_views is not None:
        rules.append(IgnoredViews(cfg.max_views))
    if cfg.price_band_z is not None:
        rules.append(PriceBand(cfg.price_band_z))
    return rules


class Servable:
    """Governance wins: only products that may be shown now (listed, in stock, shop in good standing)
    reach a list. Asked of the servability source at every request, best-ranked first."""

    name = "servable"

    def __init__(self, servable: Servability, item_ids: np.ndarray) -> None:
        self.servable = servable
        self.item_ids = item_ids

    def check(self, items: np.ndarray, scores: np.ndarray, need: int, new: np.ndarray) -> np.ndarray:
        """Ask about the best-ranked candidates of every row (and the best new ones, which the
        guaranteed slots reach for), deeper until each row has ``need`` that may be shown or none is
        left; those that may not get −inf in ``scores``. Returns which were asked."""
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
            bad[live] = np.fromiter((i not in ok for i in ids.tolist()), bool, len(ids))
            scores[r[bad], part[bad]] = -np.inf
            asked[r[live], part[live]] = True
            checked = min(checked + depth, items.shape[1])
            good = np.isfinite(np.take_along_axis(scores, order[:, :checked], axis=1)).sum(axis=1)
            left = np.isfinite(np.take_along_axis(scores, order[:, checked:], axis=1)).any(axis=1)
            if ((good >= need) | ~left).all():
                break
            depth *= 2
        return asked


class Reranker:
    """Assembles one user's list from the ranked candidates: caps per level-1 category (except the
    categories the user is browsing now: a shopper after rice cookers wants rice cookers, not variety)
    and per shop, a share of the list kept for the categories browsed now (their best candidates take the
    places of the list's last items from elsewhere), and a share of slots kept for new products at
    evenly spread positions; candidates the governance check did not reach are asked about only if the
    caps make the list reach them (the next best ``2n`` not yet asked, together)."""

    name = "caps_and_slots"

    def __init__(self, prep: Prepared, servable: Servable) -> None:
        self.prep, self.servable = prep, servable

    def assemble(
        self,
        items: np.ndarray,
        scores: np.ndarray,
        asked: np.ndarray,
        is_new: np.ndarray,
        n: int,
        browsing: frozenset[int] = frozenset(),
    ) -> list[int]:
        """Positions into ``items`` of the final list, in order (``browsing``: level-1 categories
        exempt from the category cap)."""
        cfg, cat, ids = self.prep.config, self.prep.model.cat, self.prep.item_ids
        ranked = np.argsort(-scores, kind="stable")
        order = ranked[np.isfinite(scores[ranked])].tolist()
        verdict: dict[int, bool] = {}

        def allowed(q: int) -> bool:
            if asked[q]:
                return True
            if q not in verdict:  # ask about q and the next best not yet asked, together
                rest = [q, *(r for r in order if r != q and not asked[r] and r not in verdict)][: 2 * n]
                ok = self.servable.servable(sorted({ids[items[r]] for r in rest}))
                verdict.update({r: ids[items[r]] in ok for r in rest})
            return verdict[q]

        cap_cat = max(1, int(np.ceil(cfg.max_category_share * n)))
        per_cat: dict[int, int] = {}
        per_shop: dict[int, int] = {}

        def fits(q: int) -> bool:
            c, s = int(cat.level1[items[q]]), int(cat.shop[items[q]])
            if c >= 0 and c not in browsing and per_cat.get(c, 0) >= cap_cat:
                return False
            return not (cfg.max_per_shop is not None and s >= 0 and per_shop.get(s, 0) >= cfg.max_per_shop)

        def take(q: int) -> None:
            c, s = int(cat.level1[items[q]]), int(cat.shop[items[q]])
            per_cat[c] = per_cat.get(c, 0) + 1
            per_shop[s] = per_shop.get(s, 0) + 1

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
        return self._browsed(final, order, items, browsing, set(reserved.values()), n, fits, allowed, take)

    def _browsed(
        self,
        final: list[int],
        order: list[int],
        items: np.ndarray,
        browsing: frozenset[int],
        reserved: set[int],
        n: int,
        fits: Callable[[int], bool],
        allowed: Callable[[int], bool],
        take: Callable[[int], None],
    ) -> list[int]:
        """``final`` with at least ``browse_share`` of ``n`` from the categories browsed now: their best
        candidates not yet listed replace the lowest-placed items from elsewhere (never a new
        product's kept slot), each taking that item's place."""
        want = round(self.prep.config.browse_share * n)
        if not browsing or not want:
            return final
        level = self.prep.model.cat.level1

        def browsed(q: int) -> bool:
            return int(level[items[q]]) in browsing

        short = want - sum(browsed(q) for q in final)
        if short <= 0:
            return final
        listed = set(final)
        extra: list[int] = []
        for q in order:
            if len(extra) == short:
                break
            if q not in listed and browsed(q) and fits(q) and allowed(q):
                take(q)
                extra.append(q)
        places = [k for k in range(len(final)) if not browsed(final[k]) and final[k] not in reserved]
        out = list(final)  # a list shorter than n already holds every allowed candidate: no extra is left
        for q, k in zip(extra, places[max(0, len(places) - len(extra)) :], strict=False):
            out[k] = q
        return out
