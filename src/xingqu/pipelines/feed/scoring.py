"""Scoring the feed's candidates (the learned ranker, or the retrievers' blend without one) and
explaining the ranker's choices in words."""

from __future__ import annotations

import numpy as np

from xingqu.features.ranking import ProfileRows, build_features, list_ranks
from xingqu.features.session import SessionRows, serving_rows
from xingqu.models.blend import standardise
from xingqu.pipelines.feed.context import Recent, Request
from xingqu.pipelines.feed.prepared import Prepared
from xingqu.pipelines.feed.sources import sparse_at

#: How much a profile weighs against events since training (in interaction weight units).
RECENT_MASS = 5.0


def apply_recent(rows: ProfileRows, recent: list[Recent], prep: Prepared) -> None:
    """Interest, and the price band of each category, move towards what was engaged with since
    training (as if that evidence had been in the profile, with the profile weighing ``RECENT_MASS``)."""
    c, log_price = prep.model.cat.level1, prep.model.cat.log_price
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


def score(req: Request, prep: Prepared, items: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Scores of each user's candidates (``items``: users × candidates, ``mask`` false on padding);
    with the ranker, its feature rows are kept on the request for the explanations. A user's scores do
    not depend on who else is in the batch."""
    m, cfg = prep.model, prep.config
    assert req.rows is not None
    kinds = m.kinds
    scores = np.zeros((len(kinds), *items.shape), np.float32)  # a retriever left out finds nothing
    ranks = np.full((len(kinds), *items.shape), cfg.rank_depth, np.float32)
    for r, k in enumerate(kinds):
        if k in prep.kinds:
            found = req.sparse.get(k)  # computed whole for the top list: read, not computed again
            scores[r] = (
                sparse_at(found, items)
                if found is not None
                else m.retrievers[k].candidate_scores(req.users, req.history, items)
            )
            ranks[r] = list_ranks(req.lists[k], items, cfg.rank_depth, len(prep.item_ids))
    if cfg.use_ranker and m.ranker is not None:
        if cfg.sequence:
            session = serving_rows([r.session for r in req.recent], req.now, items, m.cat.level1)
        else:
            session = SessionRows.blank(items.size)
        x = build_features(m.cat, m.stats, req.rows, items, scores, ranks, req.now, session=session)
        req.features = x.reshape(len(req.users), items.shape[1], -1)
        req.ranked = m.ranker.predict(x).reshape(items.shape)
        # towards expected value: a purchase of a dearer good is worth more (price^value_weight)
        return req.ranked + np.float32(cfg.value_weight) * m.cat.log_price[items].astype(np.float32)
    req.features = None
    total = np.zeros(items.shape, np.float32)
    for r, k in enumerate(kinds):
        w = m.weights.get(k, 0.0) if k in prep.kinds else 0.0
        if w:
            total += w * standardise(scores[r], mask)
    return total


def reasons(
    prep: Prepared, features: np.ndarray | None, chosen: list[int], scores: np.ndarray
) -> list[list[str]]:
    """The two feature groups that lift each chosen item most, in words: how much the ranker's score
    drops when a group (a retriever's score and rank; the price fit…) is set to its median over this
    user's candidates — one batched prediction of the rows a group moves, far cheaper than exact SHAP
    values. ``features`` is this user's (candidates × features) block, ``scores`` the ranker's scores
    of those candidates."""
    ranker = prep.model.ranker
    if features is None or ranker is None or not chosen:
        return [[] for _ in chosen]
    x = features[chosen]
    groups = prep.groups
    reference = np.median(features, axis=0)
    probes = np.repeat(x[None, :, :], len(groups), axis=0)
    for g, (cols, _) in enumerate(groups):
        probes[g][:, cols] = reference[cols]
    base = scores[chosen].astype(np.float32)  # the ranker's own scores of these rows
    # a probe equal to its row (the group already at the median) scores as the row: no drop, not asked
    moved = np.stack([(probes[g][:, cols] != x[:, cols]).any(axis=1) for g, (cols, _) in enumerate(groups)])
    drop = np.zeros((len(groups), len(chosen)), np.float32)
    if moved.any():
        drop[moved] = base[np.nonzero(moved)[1]] - ranker.predict(probes[moved])
    out = []
    order = np.argsort(-drop, axis=0, kind="stable").T.tolist()  # each item's groups, biggest drop first
    for k, ranked in enumerate(order):
        words: list[str] = []
        for g in ranked:
            if drop[g, k] <= 0 or len(words) == 2:
                break
            phrase = groups[g][1]
            if phrase not in words:
                words.append(phrase)
        out.append(words)
    return out
