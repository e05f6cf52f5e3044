"""Fit what the feed serves from: retrievers, profiles, product statistics and the LambdaRank ranker.

The ranker learns from logged impressions with point-in-time features: retrievers and profiles are
fitted on the events before a cut, and the impressions after it (grouped per user and day) supply the
labels — 0 shown, 1 clicked (or bought and refunded), 2–4 bought and kept, by net value tercile. The
logged position is a feature in training only (served as 0), so position bias is not learned as
relevance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from xingqu.dataset import Dataset, Vocabulary
from xingqu.features.market import MarketTables, kept_pays, market_dataset, strings
from xingqu.features.profiles import (
    DAY_MS,
    SHOWN_DAYS,
    Catalogue,
    EventSums,
    ItemStats,
    UserProfiles,
    build_profiles,
)
from xingqu.features.ranking import ProfileRows, build_features, feature_names, list_ranks
from xingqu.features.session import SessionLog, SessionRows, SessionTails
from xingqu.models import REGISTRY, Recommender, artifacts
from xingqu.models.ranker import Ranker, RankerConfig
from xingqu.models.sparse import csr_arrays, csr_from
from xingqu.store import EventLog

LABEL_DAYS = 7.0
RANK_DEPTH = 100  # as FeedConfig.rank_depth: the rank features mean the same in training and serving
MIN_GROUPS = 20
#: Impression groups (user-days) the ranker learns from at most; a seeded sample beyond that.
MAX_GROUPS = 30_000
#: Each group's user is ranked by every retriever against every product for the rank features: on a
#: large catalogue the groups are drawn to fit this many scores per retriever (10,000 at 100,000
#: products), but never fewer than ``MIN_RANK_GROUPS``.
RANK_CELLS = 1_000_000_000
MIN_RANK_GROUPS = 5_000

#: Event sums of profiles summed elsewhere (a training engine): (users, catalogue, the events before
#: this time only, or all) → the market's ``event_sums``.
SumEvents = Callable[[Vocabulary, Catalogue, int | None], EventSums]
#: Impressions labelled elsewhere (a training engine): (users, items, since this time) → the market's
#: ``labelled_impressions``.
LabelImpressions = Callable[[Vocabulary, Vocabulary, int], "Impressions"]


@dataclass
class FeedModel:
    """Everything the feed serves from, fitted together on one market; never changed once loaded."""

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
    sessions: SessionTails | None = None  # each user's last session in training, for serving to continue

    @property
    def kinds(self) -> list[str]:
        return list(self.retrievers)


def fit_retrievers(data: Dataset, specs: dict[str, dict[str, Any]]) -> dict[str, Recommender]:
    return {k: REGISTRY[k](**cfg).fit(data) for k, cfg in specs.items()}


def without_sequence(specs: dict[str, Any]) -> dict[str, Any]:
    """The retrievers of ``specs`` (configs or fitted models) that do not read the order of events."""
    return {k: v for k, v in specs.items() if not REGISTRY[k].sequential}


def session_log(market: MarketTables, users: Vocabulary, cat: Catalogue) -> SessionLog:
    """The market's visit events cut into sessions, over the model's vocabularies."""
    return SessionLog.of(market.events, users, cat.items, cat.level1, cat.contents)


@dataclass
class Impressions:
    """Labelled impression groups: rows grouped consecutively by (user, day)."""

    users: np.ndarray  # per group, user index
    items: list[np.ndarray]  # per group, item indices
    labels: list[np.ndarray]
    positions: list[np.ndarray]
    times: list[np.ndarray]  # per group, when each impression was shown (ms)


def impressions_since(log: EventLog, label_days: float = LABEL_DAYS) -> int | None:
    """The earliest impression the feed's training reads (None: no impression logged): the ranker's
    labels take the last ``label_days`` of impressions, and the profiles as of its cut take the
    impressions shown and ignored in the ``SHOWN_DAYS`` before it. Older impressions, three quarters
    of a marketplace's log, change nothing the feed learns but the time away before a session
    that follows a visit of impressions alone, long past."""
    last = None
    for batch in log.scan(["ts"], event_types=["impression"]):
        if batch.num_rows:
            top = int(pc.max(pc.cast(batch.column("ts"), pa.int64())).as_py())
            last = top if last is None else max(last, top)
    return None if last is None else last - int((label_days + SHOWN_DAYS) * DAY_MS)


def labelled_impressions(
    market: MarketTables, users: Vocabulary, items: Vocabulary, since_ms: int
) -> Impressions:
    """Impressions at or after ``since_ms`` with what followed the same day for the same product."""
    e = market.events
    e = e.filter(pc.greater_equal(pc.cast(e["ts"], pa.int64()), since_ms))
    e = e.filter(pc.is_valid(e["product_id"]))
    kind = strings(e, "event_type")
    u = users.lookup_arrow(e["user_id"])
    i = items.lookup_arrow(e["product_id"])
    day = pc.cast(e["ts"], pa.int64()).to_numpy() // DAY_MS
    ok = (u >= 0) & (i >= 0)
    key = (u.astype(np.int64) * len(items) + i) * 100_000 + (day - day.min(initial=0))
    clicked = key[ok & np.isin(kind, ["click", "add_to_cart", "order"])]
    pay = ok & (kind == "pay")
    kept = pay & kept_pays(e)
    amounts = e["amount"].to_numpy(zero_copy_only=False).astype(float)
    imp = np.flatnonzero(ok & (kind == "impression"))
    shown_key = key[imp]
    acted = np.isin(shown_key, clicked) | np.isin(shown_key, key[pay])
    paid_of = np.full(len(imp), np.nan)
    paid = np.zeros(0)
    if kept.any():  # the value of each (user, product, day) bought: its last kept pay's amount
        paid_key, paid = key[kept], np.nan_to_num(amounts[kept])
        by_key = np.argsort(paid_key, kind="stable")
        paid_key, paid = paid_key[by_key], paid[by_key]
        last = np.r_[paid_key[1:] != paid_key[:-1], True]
        paid_key, paid = paid_key[last], paid[last]
        at = np.minimum(np.searchsorted(paid_key, shown_key), len(paid_key) - 1)
        bought = paid_key[at] == shown_key
        paid_of[bought] = paid[at[bought]]
    pos = np.nan_to_num(e["position"].to_numpy(zero_copy_only=False).astype(float)[imp])
    shown_at = pc.cast(e["ts"], pa.int64()).to_numpy()[imp]
    label = impression_labels(acted, paid_of, paid)
    return grouped_impressions(u[imp], i[imp], day[imp], label, pos, shown_at)


def impression_labels(acted: np.ndarray, paid_of: np.ndarray, paid: np.ndarray) -> np.ndarray:
    """Each impression's grade: 0 shown only, 1 clicked, carted, ordered or paid for the same day,
    2–4 bought and kept, by the third of all kept purchases' values (``paid``: one per user, product
    and day) its own (``paid_of``; NaN when not bought) falls in."""
    label = acted.astype(np.int32)
    bought = ~np.isnan(paid_of)
    if bought.any():
        cuts = np.quantile(paid, [1 / 3, 2 / 3])
        label[bought] = 2 + np.searchsorted(cuts, paid_of[bought], side="right")
    return label


def grouped_impressions(
    u: np.ndarray, i: np.ndarray, day: np.ndarray, label: np.ndarray, pos: np.ndarray, shown_at: np.ndarray
) -> Impressions:
    """Labelled impressions (in log order) grouped by user and day, groups in (user, day) order and rows
    in log order within each; only groups of two rows or more with a positive label, which teach an
    order, are kept."""
    if len(u) == 0:
        return Impressions(np.zeros(0, np.int64), [], [], [], [])
    gkey = u.astype(np.int64) * 100_000 + (day - day.min())
    order = np.argsort(gkey, kind="stable")
    bounds = np.flatnonzero(np.r_[True, gkey[order][1:] != gkey[order][:-1], True])
    starts, ends = bounds[:-1], bounds[1:]
    best = np.maximum.reduceat(label[order], starts)
    keep = (ends - starts >= 2) & (best > 0)
    rows = order[np.repeat(keep, ends - starts)]  # the kept groups' rows, group after group
    cuts_at = np.cumsum(ends[keep] - starts[keep])[:-1]

    def per_group(values: np.ndarray) -> list[np.ndarray]:
        return np.split(values[rows], cuts_at)

    g_users = u[order[starts[keep]]].astype(np.int64)
    return Impressions(g_users, per_group(i), per_group(label), per_group(pos), per_group(shown_at))


def retriever_features(
    retrievers: dict[str, Recommender],
    users: np.ndarray,
    history: sp.csr_matrix,
    items: np.ndarray,
    depth: int = RANK_DEPTH,
) -> tuple[np.ndarray, np.ndarray]:
    """(R, B, K) scores of each candidate by each retriever, and its rank in that retriever's list."""
    scores = np.stack([r.candidate_scores(users, history, items) for r in retrievers.values()])
    ranks = []
    for r in retrievers.values():
        n_items = len(r.items or ())
        if r.kind == "popular":  # the same list for everyone
            top = r.recommend(users[:1], history[:1], min(depth, n_items), exclude_seen=False)
            top = np.broadcast_to(top, (len(users), top.shape[1]))
        else:
            top = r.recommend(users, history, min(depth, n_items), exclude_seen=False)
        ranks.append(list_ranks(top, items, depth, n_items))
    return scores, np.stack(ranks)


@dataclass
class RankerRows:
    """The ranker's training rows: features, graded labels and group sizes (a group: a user's day)."""

    x: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    names: list[str]


def train_ranker(
    market: MarketTables,
    specs: dict[str, dict[str, Any]],
    label_days: float = LABEL_DAYS,
    config: RankerConfig | None = None,
    max_groups: int = MAX_GROUPS,
    sequence: bool = True,
    sums: SumEvents | None = None,
    labels: LabelImpressions | None = None,
) -> Ranker | None:
    """LambdaRank on ``ranker_rows``; None when the log holds too few impressions with a click."""
    rows = ranker_rows(market, specs, label_days, max_groups, sequence, sums, labels)
    if rows is None:
        return None
    return Ranker(config).fit(rows.x, rows.y, rows.groups, rows.names)


def ranker_rows(
    market: MarketTables,
    specs: dict[str, dict[str, Any]],
    label_days: float = LABEL_DAYS,
    max_groups: int = MAX_GROUPS,
    sequence: bool = True,
    sums: SumEvents | None = None,
    labels: LabelImpressions | None = None,
) -> RankerRows | None:
    """The ranker's rows: the last ``label_days`` of impressions (up to the last impression logged),
    labelled, with features as of the cut but the session's, which are as of each impression (from the
    events before it; none without ``sequence``); None when the log holds too few impressions with a
    click. ``sums`` sums the profiles' events before the cut elsewhere, ``labels`` labels the
    impressions elsewhere (a training engine)."""
    is_shown = pc.equal(market.events["event_type"], "impression")
    if not pc.any(is_shown).as_py():
        return None
    # the last impression: reviews and refunds come days after
    end = int(pc.max(pc.cast(market.events["ts"], pa.int64()).filter(is_shown)).as_py())
    del is_shown
    cut = end - int(label_days * DAY_MS)
    before = market.events_before(cut)
    if before.events.num_rows == 0:
        return None
    data = market_dataset(before)
    cat = Catalogue.build(before, data.items)
    profiles, stats = build_profiles(before, data.users, cat, sums(data.users, cat, cut) if sums else None)
    del before  # a copy of most of the log: freed before the retrievers are fitted again
    imps = (labels or partial(labelled_impressions, market))(data.users, data.items, cut)
    if len(imps.users) < MIN_GROUPS:
        return None
    max_groups = min(max_groups, max(MIN_RANK_GROUPS, RANK_CELLS // max(len(data.items), 1)))
    if len(imps.users) > max_groups:  # (copies: the drawn groups alone stay in memory)
        keep = np.sort(np.random.default_rng(0).choice(len(imps.users), max_groups, replace=False))
        imps = Impressions(
            imps.users[keep],
            [imps.items[k].copy() for k in keep],
            [imps.labels[k].copy() for k in keep],
            [imps.positions[k].copy() for k in keep],
            [imps.times[k].copy() for k in keep],
        )
    retrievers = fit_retrievers(data, specs)
    sizes = np.array([len(x) for x in imps.items])
    shown = np.concatenate(imps.items)
    if sequence:  # each impression's session, from the whole log's events before it
        at = session_log(market, data.users, cat).rows_at(
            np.repeat(imps.users, sizes), np.concatenate(imps.times), shown, cat.level1
        )
    else:
        at = SessionRows.blank(len(shown))
    starts = np.r_[0, np.cumsum(sizes)]
    xs, ys, gs = [], [], []
    for lo in range(0, len(imps.users), 512):
        hi = min(lo + 512, len(imps.users))
        users = imps.users[lo:hi]
        width = max(len(x) for x in imps.items[lo:hi])
        items = np.zeros((hi - lo, width), np.int64)
        pos = np.zeros((hi - lo, width))
        pairs = np.zeros((hi - lo, width), np.int64)  # each pair's impression (padding: the group's first)
        for b in range(hi - lo):
            k = len(imps.items[lo + b])
            items[b, :k] = imps.items[lo + b]
            pos[b, :k] = imps.positions[lo + b]
            pairs[b] = starts[lo + b]
            pairs[b, :k] += np.arange(k)
        history = data.matrix[users]
        scores, ranks = retriever_features(retrievers, users, history, items)
        rows = ProfileRows.of(profiles, users)
        flat = pairs.ravel()
        session = SessionRows(*(getattr(at, f)[flat] for f in SESSION_FIELDS))
        x = build_features(cat, stats, rows, items, scores, ranks, cut, pos, session)
        x = x.reshape(hi - lo, width, -1)
        for b in range(hi - lo):
            k = len(imps.items[lo + b])
            xs.append(x[b, :k])
            ys.append(imps.labels[lo + b])
            gs.append(k)
    return RankerRows(np.concatenate(xs), np.concatenate(ys), np.array(gs), feature_names(list(specs)))


SESSION_FIELDS = tuple(f.name for f in fields(SessionRows))


def fit_feed(
    market: MarketTables,
    specs: dict[str, dict[str, Any]],
    weights: dict[str, float] | None = None,
    *,
    retrievers: dict[str, Recommender] | None = None,
    data: Dataset | None = None,
    rank: bool = True,
    ranker_config: RankerConfig | None = None,
    history: sp.csr_matrix | None = None,
    label_days: float = LABEL_DAYS,
    max_groups: int = MAX_GROUPS,
    sequence: bool = True,
    sums: SumEvents | None = None,
    labels: LabelImpressions | None = None,
) -> FeedModel:
    """A servable feed model from a market: retrievers fitted on everything (or the given fitted
    ones, sharing ``data``'s vocabularies), profiles, statistics, each user's last session and a ranker
    if impressions allow; without ``sequence``, no sequence-aware retriever and no session features
    (the ablation of what they add). ``sums`` sums the profiles' events and ``labels`` labels the
    ranker's impressions elsewhere (a training engine)."""
    if not sequence:
        specs = without_sequence(specs)
        retrievers = without_sequence(retrievers) if retrievers is not None else None
        weights = without_sequence(weights) if weights is not None else None
    if data is None:
        data = market_dataset(market)
    if retrievers is None:
        retrievers = fit_retrievers(data, specs)
    cat = Catalogue.build(market, data.items)
    profiles, stats = build_profiles(market, data.users, cat, sums(data.users, cat, None) if sums else None)
    ranker = (
        train_ranker(market, specs, label_days, ranker_config, max_groups, sequence, sums, labels)
        if rank
        else None
    )
    sessions = session_log(market, data.users, cat).tails(len(data.users)) if sequence else None
    segs = {}
    if market.users.num_rows:
        for uid, crowd, level in zip(
            market.users["user_id"].to_pylist(),
            market.users["crowd"].to_pylist(),
            market.users["consumption_level"].to_pylist(),
            strict=True,
        ):
            segs[uid] = (crowd or "", level or "")
    return FeedModel(
        retrievers,
        weights or dict.fromkeys(retrievers, 1.0),
        (history if history is not None else data.matrix).astype(np.float32).tocsr(),
        cat,
        profiles,
        stats,
        ranker,
        market.last_event_ms(),
        market.content,
        segs,
        sessions,
    )


# -- artifacts ---------------------------------------------------------------------------------


def _pack(obj: object, prefix: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    for f in fields(obj):  # type: ignore[arg-type]
        v = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if isinstance(v, sp.spmatrix | sp.sparray):
            arrays.update(csr_arrays(sp.csr_matrix(v), key + "."))
        elif isinstance(v, Vocabulary):
            arrays[key + ".vocab"] = v.ids.astype(str)
        elif isinstance(v, np.ndarray):
            arrays[key] = v.astype(str) if v.dtype == object else v
        else:
            meta[key] = v


def _unpack(cls: type, prefix: str, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Any:
    values = {}
    for f in fields(cls):
        key = f"{prefix}{f.name}"
        if key + ".vocab" in arrays:
            values[f.name] = Vocabulary(arrays[key + ".vocab"].astype(object))
        elif key + ".data" in arrays:
            values[f.name] = csr_from(
                {k[len(key) + 1 :]: v for k, v in arrays.items() if k.startswith(key + ".")}
            )
        elif key in arrays:
            a = arrays[key]
            values[f.name] = a.astype(object) if a.dtype.kind == "U" else a
        elif key in meta or (f.default is MISSING and f.default_factory is MISSING):
            values[f.name] = meta[key]  # a field added since the artifact was saved keeps its default
    return cls(**values)


def save_feed_parts(model: FeedModel, folder: Path) -> None:
    """Profiles, statistics, catalogue arrays, the ranker and serving metadata (retrievers are saved
    with the blend)."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    _pack(model.cat, "cat.", arrays, meta)
    _pack(model.profiles, "profiles.", arrays, meta)
    _pack(model.stats, "stats.", arrays, meta)
    if model.sessions is not None:
        _pack(model.sessions, "sessions.", arrays, meta)
    arrays["segments.users"] = np.array(list(model.user_segments), dtype=str)
    arrays["segments.values"] = np.array(list(model.user_segments.values()), dtype=str).reshape(-1, 2)
    meta["trained_until_ms"] = model.trained_until_ms
    meta["weights"] = model.weights
    artifacts.save_npz(folder / "feed.npz", arrays)
    artifacts.save_json(folder / "feed.json", meta, default=float)
    if model.content is not None:
        artifacts.save_parquet(folder / "content.parquet", model.content)
    if model.ranker is not None:
        model.ranker.save(folder / "ranker")


def load_feed_parts(folder: Path, retrievers: dict[str, Recommender], history: sp.csr_matrix) -> FeedModel:
    meta = artifacts.read_json(folder / "feed.json")
    arrays = artifacts.read_npz(folder / "feed.npz")
    with artifacts.reading(folder / "feed.npz"):
        cat = _unpack(Catalogue, "cat.", arrays, meta)
        profiles = _unpack(UserProfiles, "profiles.", arrays, meta)
        stats = _unpack(ItemStats, "stats.", arrays, meta)
        sessions = _unpack(SessionTails, "sessions.", arrays, meta) if "sessions.last_ms" in arrays else None
        segs = {
            u: (a, b)
            for u, (a, b) in zip(
                arrays["segments.users"].tolist(), arrays["segments.values"].tolist(), strict=True
            )
        }
        weights, trained_until = dict(meta["weights"]), meta["trained_until_ms"]
    content = None
    if (folder / "content.parquet").exists():
        content = artifacts.read_parquet(folder / "content.parquet")
    ranker = Ranker.load(folder / "ranker") if (folder / "ranker" / "ranker.json").exists() else None
    if ranker is not None and ranker.features != feature_names(list(retrievers)):
        raise artifacts.ArtifactError(
            f"{folder / 'ranker'}: its features are not those this xingqu builds (saved by another "
            "version); train again"
        )
    with artifacts.reading(folder / "feed.json"):
        return FeedModel(
            retrievers, weights, history, cat, profiles, stats, ranker, trained_until, content, segs, sessions
        )
