"""The feed as a use case: load the current model version (and follow newer ones as they are saved),
serve a user's products or content with the online state, take in events as they happen."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from xingqu.errors import NotFoundError, UserError
from xingqu.pipelines.feed import ContentItem, Feed, FeedItem, FeedTrace
from xingqu.runtime import Runtime
from xingqu.store import Store
from xingqu.training import TrainedModel

#: How often a service following the latest version looks for a newer one, in seconds.
CHECK_EVERY_S = 2.0


@dataclass(frozen=True)
class Serving:
    """One loaded model version and the feed over it (immutable; swapped whole on reload)."""

    model: TrainedModel
    feed: Feed
    #: The feed under other named configurations (``xingqu.experiments.model.FEEDS``), made on first use.
    variants: dict[str, Feed] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.model.version

    def variant(self, name: str) -> Feed:
        """The feed assembled under the named configuration: default, or blend (without the ranker)."""
        if name == "default":
            return self.feed
        found = self.variants.get(name)
        if found is None:
            if name != "blend":
                raise UserError(f"unknown feed configuration {name!r}")
            found = self.feed.with_config(self.feed.config.model_copy(update={"use_ranker": False}))
            self.variants[name] = found  # a race makes two equal feeds; either serves the same
        return found

    def sales_counts(self) -> np.ndarray:
        """Per product index, the users who interacted with it up to training (its popularity)."""
        m = self.model.feed
        assert m is not None
        return np.diff(m.history.tocsc().indptr)

    def popular(self, n: int, max_price: int | None = None) -> list[FeedItem]:
        """The most-popular products (by users who interacted with them up to training) that may be
        shown now, at most ``max_price`` fen when given: the same list for everyone."""
        m = self.model.feed
        assert m is not None
        counts = self.sales_counts()
        order = np.argsort(-counts, kind="stable")
        if max_price is not None:
            order = order[np.nan_to_num(m.cat.price[order], nan=np.inf) <= max_price]
        ids = m.cat.items.ids
        out: list[FeedItem] = []
        for lo in range(0, len(order), max(4 * n, 50)):
            chunk = [str(ids[i]) for i in order[lo : lo + max(4 * n, 50)]]
            ok = self.feed.servable(chunk)
            for i, pid in zip(order[lo : lo + len(chunk)], chunk, strict=True):
                if pid in ok and len(out) < n:
                    out.append(FeedItem(pid, float(counts[i]), ["popular"], ["a best-seller"]))
            if len(out) >= n:
                break
        return out

    def popular_content(
        self, user: str, n: int, segments: Mapping[str, tuple[str, str]] | None = None
    ) -> list[ContentItem]:
        """The videos and live rooms the content feed may show ``user``, ordered by how popular the
        best-selling good each carries is (users who interacted with it up to training), rooms live now
        first among equals: most-popular for content."""
        m = self.model.feed
        assert m is not None
        shown = self.feed.content(user, 10**6, segments=segments)
        counts = self.sales_counts()
        index = m.cat.items.index

        def sold(product: str) -> int:
            j = index.get(product)
            return int(counts[j]) if j is not None and j >= 0 else 0

        def sales(c: ContentItem) -> int:
            return max((sold(p) for p in c.products), default=0)

        ranked = sorted(shown, key=lambda c: (-sales(c), not c.live_now, c.content_id))
        return [
            ContentItem(
                c.content_id,
                c.kind,
                c.creator_id,
                float(sales(c)),
                c.live_now,
                sorted(c.products, key=lambda p: -sold(p)),
                [*(["live now"] if c.live_now else []), "carries a best-seller"],
            )
            for c in ranked[:n]
        ]


@dataclass
class FeedResult:
    """A user's feed and the model version that made it."""

    user: str
    version: str
    items: list[FeedItem]


def feed_service(runtime: Runtime, version: str | None = None) -> FeedService:
    """The runtime's feed service for a model version (None: the latest, followed as new ones are
    saved); one per runtime and version."""
    return runtime.shared(("feed", version), lambda: FeedService(runtime, version))


class FeedService:
    """Feeds from a model version over the runtime's store and online state. With ``version`` None it
    follows the registry's current version: a newer ready one is loaded beside the serving one and
    swapped in whole, so no request sees a half-loaded model."""

    def __init__(self, runtime: Runtime, version: str | None = None) -> None:
        self.runtime = runtime
        self.pinned = version
        self._serving: Serving | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def serving(self) -> Serving:
        """The loaded model and feed, reloaded when a newer version has been saved since."""
        current = self._serving
        now = time.monotonic()
        if current is not None and (self.pinned is not None or now - self._checked < CHECK_EVERY_S):
            return current
        with self._lock:
            current = self._serving
            self._checked = now
            if current is not None and self.pinned is None:
                latest = self.runtime.registry.current()
                if latest is None or latest == current.version:
                    return current
            if current is None or self.pinned is None:
                self._serving = current = self._load()
        return current

    def _load(self) -> Serving:
        self.runtime.store.require_ready()  # a missing, older, newer or damaged schema is refused first
        model = self.runtime.registry.load(self.pinned)
        if model.feed is None:
            raise UserError(f"model {model.version} has no feed; train again with this version of xingqu")
        online = self.runtime.online
        feed = Feed(model.feed, online.servability.servable, recent=online.recent)
        gc.freeze()  # the model's long-lived object graphs stay out of later collections' walks
        return Serving(model, feed)

    def segments(self, serving: Serving, user: str) -> dict[str, tuple[str, str]]:
        """How to describe ``user`` to the model: nothing for users it knows; a user registered after
        training by their profile in the store; an id known nowhere is not found."""
        m = serving.model.feed
        assert m is not None
        if user in m.user_segments or m.profiles.users.index.get(user) is not None:
            return {}
        row = self.runtime.store.catalogue.user_profile(user)
        if row is None:
            raise NotFoundError(f"unknown user {user!r}: not in the store")
        return {user: (row.get("crowd") or "", row.get("consumption_level") or "")}

    def recommend(
        self,
        user: str,
        n: int = 20,
        *,
        max_price: int | None = None,
        categories: Iterable[str] | None = None,
        brands: Iterable[str] | None = None,
        explain: bool = True,
        trace: FeedTrace | None = None,
        feed: str = "default",
    ) -> FeedResult:
        """The ranked feed of ``user`` (``max_price`` in fen) under the named configuration ``feed``
        (default, blend, popular: the best-sellers honour the price cap, not the category and brand
        filters)."""
        return self.recommend_many(
            [user],
            n,
            max_price=max_price,
            categories=categories,
            brands=brands,
            explain=explain,
            trace=trace,
            feed=feed,
        )[0]

    def recommend_many(
        self,
        users: Sequence[str],
        n: int = 20,
        *,
        max_price: int | None = None,
        categories: Iterable[str] | None = None,
        brands: Iterable[str] | None = None,
        explain: bool = False,
        trace: FeedTrace | None = None,
        feed: str = "default",
    ) -> list[FeedResult]:
        """``recommend`` of many users at once under one configuration (batch scoring): each user's
        feed is the one ``recommend`` gives them alone."""
        s = self.serving()
        segments: dict[str, tuple[str, str]] = {}
        for u in users:
            segments.update(self.segments(s, u))
        if feed == "popular":
            best = s.popular(n, max_price)
            return [FeedResult(u, s.version, list(best)) for u in users]
        lists = s.variant(feed).recommend_many(
            users,
            n,
            max_price=max_price,
            categories=categories,
            brands=brands,
            explain=explain,
            segments=segments,
            trace=trace,
        )
        return [FeedResult(u, s.version, items) for u, items in zip(users, lists, strict=True)]

    def content(self, user: str, n: int = 10, feed: str = "default") -> tuple[str, list[ContentItem]]:
        """Videos and live rooms for ``user`` under the named configuration ``feed``, with the model
        version: default and blend score the goods each carries with that feed; popular puts those
        carrying best-sellers first (live rooms still boosted)."""
        s = self.serving()
        segments = self.segments(s, user)
        if feed != "popular":
            return s.version, s.variant(feed).content(user, n, segments=segments)
        return s.version, s.popular_content(user, n, segments)

    def record(self, events: pa.Table) -> None:
        """Events the store has accepted reach the online state: the next feed of every process that
        shares it reflects them."""
        self.runtime.online.recent.record(events)


def feed_cards(store: Store, items: list[FeedItem]) -> list[dict[str, object]]:
    """Feed items as clients need them: what the feed says (score, retrievers, reasons) and what the
    product is (title, price in yuan, shop, brand and category)."""
    cards = store.catalogue.product_cards([i.product_id for i in items])
    out = []
    for it in items:
        card = cards.get(it.product_id, {})
        price = card.get("price")
        out.append(
            {
                **it.to_dict(),
                "title": card.get("title"),
                "price_yuan": round(price / 100, 2) if price is not None else None,
                "shop_id": card.get("shop_id"),
                "shop": card.get("shop"),
                "brand_id": card.get("brand_id"),
                "brand": card.get("brand"),
                "category": card.get("category"),
            }
        )
    return out
