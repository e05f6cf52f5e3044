"""The ranked feed (商品分发, goods find people): candidates from several sources with quotas → the
learned ranker (or the retrievers' blend without impression logs) → rules → explanations.

Rules, in order: request filters (price cap, categories, brands); nothing bought that is durable, nor
a consumable before its repurchase interval; nothing the user ignored ``max_views`` times this week;
the user's price band; only servable products (listed, in stock, shop in good standing: asked at
every call, so a takedown acts at once); caps per category and per shop in the list; a share of
slots kept for new products (保量). Events since training (the online state's recent events) move
the next feed without retraining: recent clicks pull in similar products, a purchase removes the
product, clicks and plays continue the session the ranker reads; their pull fades by
``FeedConfig.recent_half_life_hours``. ``FeedConfig.without_sequence()`` leaves out the
sequence-aware retrievers and the session features.
"""

from xingqu.features.ranking import list_ranks
from xingqu.feed_training import FeedModel
from xingqu.pipelines.feed.context import FeedTrace, Filters, Recent, Request
from xingqu.pipelines.feed.model import (
    FOLLOWED,
    NEW,
    RECENT,
    SEGMENT,
    ContentItem,
    FeedConfig,
    FeedItem,
)
from xingqu.pipelines.feed.serve import BATCH, Feed

__all__ = [
    "BATCH",
    "FOLLOWED",
    "NEW",
    "RECENT",
    "SEGMENT",
    "ContentItem",
    "Feed",
    "FeedConfig",
    "FeedItem",
    "FeedModel",
    "FeedTrace",
    "Filters",
    "Recent",
    "Request",
    "list_ranks",
]
