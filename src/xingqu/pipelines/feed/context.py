"""Per-request state of the feed: the request itself, each user's events since training, and what the
stages computed for this request. Nothing here outlives the request, so one loaded model can serve
many requests at once."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from xingqu.dataset.interactions import EVENT_WEIGHTS
from xingqu.domain.units import DAY_MS
from xingqu.features.profiles import Catalogue
from xingqu.features.ranking import ProfileRows
from xingqu.features.session import FADED, HOUR_MS, NOT_VISITS, UserSession
from xingqu.online.recent import RecentEvent

if TYPE_CHECKING:
    from xingqu.pipelines.feed.sources import FoundBy

#: A request's history before it is read (never changed: each request sets its own).
_NO_HISTORY = sp.csr_matrix((0, 0), dtype=np.float32)


@dataclass
class Recent:
    """A user's events since training, as item indices, and the session they continue."""

    engaged: dict[int, float] = field(default_factory=dict)  # item → interest weight (fading)
    clicks: list[int] = field(default_factory=list)  # most recent last (not yet faded)
    bought: dict[int, float] = field(default_factory=dict)  # item → day
    shown: dict[int, int] = field(default_factory=dict)
    clicked: set[int] = field(default_factory=set)
    session: UserSession = field(default_factory=UserSession)

    @classmethod
    def of(
        cls,
        cat: Catalogue,
        events: Sequence[RecentEvent],
        now_ms: int = 0,
        half_life_hours: float | None = None,
        session: UserSession | None = None,
    ) -> Recent:
        """Fold a user's events (oldest first): interest from engagement, halving every
        ``half_life_hours`` before ``now_ms`` and forgotten once below ``FADED`` (clicks too); purchases
        not refunded, impressions counted; ``session`` (the last one in training) continued."""
        r = cls(session=session if session is not None else UserSession())
        if not events:
            return r
        index = cat.items.lookup(np.array([e.product_id for e in events], dtype=object)).tolist()
        plays = [e.content_id or "" for e in events]
        watched = cat.contents.lookup(np.array(plays, dtype=object)).tolist() if any(plays) else None
        refunded = {e.order_id for e in events if e.event_type == "refund"}
        scale = half_life_hours * HOUR_MS if half_life_hours else 0.0
        for k, (e, j) in enumerate(zip(events, index, strict=True)):
            kind = e.event_type
            content = watched[k] if watched is not None else -1
            if kind not in NOT_VISITS:
                r.session.see(e.ts, int(cat.level1[j]) if j >= 0 else -1, kind == "click", content, j)
            if j < 0:
                continue
            pull = 0.5 ** (max(now_ms - e.ts, 0) / scale) if scale else 1.0
            w = EVENT_WEIGHTS.get(kind, 0.0)
            if w > 0 and pull >= FADED:
                r.engaged[j] = r.engaged.get(j, 0.0) + w * pull
            if kind == "impression":
                r.shown[j] = r.shown.get(j, 0) + 1
            elif kind == "click":
                if pull >= FADED:
                    r.clicks.append(j)
                r.clicked.add(j)
            elif kind == "pay" and e.order_id not in refunded:
                r.bought[j] = e.ts / DAY_MS
            if kind in ("add_to_cart", "order", "pay"):
                r.clicked.add(j)
        return r


@dataclass(frozen=True)
class Filters:
    """What the caller asked to restrict the feed to (``max_price`` in fen)."""

    max_price: int | None = None
    categories: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, max_price: int | None, categories: Iterable[str] | None, brands: Iterable[str] | None
    ) -> Filters:
        return cls(max_price, tuple(categories or ()), tuple(brands or ()))

    def __bool__(self) -> bool:
        return self.max_price is not None or bool(self.categories) or bool(self.brands)


@dataclass
class FeedTrace:
    """What a request may report besides its items: time per stage (seconds, summed over calls) and
    the ranker's feature rows of the last batch (``None`` when ranked without the ranker)."""

    seconds: dict[str, float] = field(default_factory=dict)
    features: np.ndarray | None = None
    names: list[str] = field(default_factory=list)

    def add(self, stage: str, since: float) -> float:
        """Charge the time since ``since`` to ``stage``; returns now."""
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - since
        return now


@dataclass
class Request:
    """One batch of users being served: inputs, then what each stage adds."""

    user_ids: list[str]
    users: np.ndarray  # profile index per user, −1 when the model never saw them
    n: int
    now: int  # UTC ms
    filters: Filters
    segments: dict[str, tuple[str, str]]  # users unknown to the model → (crowd, consumption level)
    recent: list[Recent]
    history: sp.csr_matrix = field(default_factory=lambda: _NO_HISTORY)  # set by ``Feed.request``
    rows: ProfileRows | None = None
    lists: dict[str, np.ndarray] = field(default_factory=dict)  # retriever → each user's top list
    sparse: dict[str, sp.csr_matrix] = field(default_factory=dict)  # retriever → its sparse scores
    sources: list[FoundBy] = field(default_factory=list)  # per user: which sources found each item
    features: np.ndarray | None = None  # (users, candidates, features) when the ranker scored them
    ranked: np.ndarray | None = None  # (users, candidates): the ranker's own scores, when it scored them

    def segment(self, b: int) -> tuple[str, str]:
        """(crowd, consumption level) of the b-th user, for users the model never saw."""
        return self.segments.get(self.user_ids[b], ("", ""))
