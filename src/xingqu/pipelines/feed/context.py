"""Per-request state of the feed: the request itself, each user's events since training, and what the
stages computed for this request. Nothing here outlives the request, so one loaded model can serve
many requests at once."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from xingqu.dataset import Vocabulary
from xingqu.dataset.interactions import EVENT_WEIGHTS
from xingqu.domain.units import DAY_MS
from xingqu.features.ranking import ProfileRows
from xingqu.online.recent import RecentEvent


@dataclass
class Recent:
    """A user's events since training, as item indices."""

    engaged: dict[int, float] = field(default_factory=dict)  # item → interest weight
    clicks: list[int] = field(default_factory=list)  # most recent last
    bought: dict[int, float] = field(default_factory=dict)  # item → day
    shown: dict[int, int] = field(default_factory=dict)
    clicked: set[int] = field(default_factory=set)

    @classmethod
    def of(cls, items: Vocabulary, events: Sequence[RecentEvent]) -> Recent:
        """Fold a user's events (oldest first): interest from engagement, clicks in order, purchases
        not refunded, impressions counted."""
        r = cls()
        if not events:
            return r
        index = items.lookup(np.array([e.product_id for e in events], dtype=object)).tolist()
        refunded = {e.order_id for e in events if e.event_type == "refund"}
        for e, j in zip(events, index, strict=True):
            if j < 0:
                continue
            kind = e.event_type
            w = EVENT_WEIGHTS.get(kind, 0.0)
            if w > 0:
                r.engaged[j] = r.engaged.get(j, 0.0) + w
            if kind == "impression":
                r.shown[j] = r.shown.get(j, 0) + 1
            elif kind == "click":
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
    history: sp.csr_matrix = field(default_factory=lambda: sp.csr_matrix((0, 0)))
    rows: ProfileRows | None = None
    lists: dict[str, np.ndarray] = field(default_factory=dict)  # retriever → each user's top list
    sources: list[dict[int, list[str]]] = field(default_factory=list)  # item → sources that found it
    features: np.ndarray | None = None  # (users, candidates, features) when the ranker scored them

    def segment(self, b: int) -> tuple[str, str]:
        """(crowd, consumption level) of the b-th user, for users the model never saw."""
        return self.segments.get(self.user_ids[b], ("", ""))
