"""What the feed serves from and what it returns: the fitted ``FeedModel``, the ``FeedConfig`` that
assembles it, and the items of a feed."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

#: Sources that are not retrievers: what the user just did, relations, new arrivals, a segment's trends.
RECENT, FOLLOWED, NEW, SEGMENT = "recent", "followed", "new", "segment"


class FeedConfig(BaseModel):
    """How the feed is assembled; every rule can be switched off for comparisons."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quota: int = Field(60, ge=1, description="candidates taken from each retriever")
    rank_depth: int = Field(100, ge=1, description="depth of each retriever's list whose rank is a feature")
    recent_quota: int = Field(30, ge=0, description="candidates similar to the products just clicked")
    followed_quota: int = Field(20, ge=0, description="candidates from followed shops and creators")
    new_quota: int = Field(20, ge=0, description="new products considered for guaranteed slots")
    use_ranker: bool = Field(True, description="rank with the learned ranker when one was trained")
    value_weight: float = Field(
        0.5,
        ge=0,
        description="with the ranker: add this × log(price) to its score, ranking towards expected value "
        "(a purchase of a dearer good is worth more; 0: relevance alone)",
    )
    price_band_z: float | None = Field(
        1.5, gt=0, description="keep products within this many band widths of the user's price centre"
    )
    max_category_share: float = Field(
        0.75,
        gt=0,
        le=1,
        description="cap per level-1 category in a list (3 of a page of 4, 15 of 20): variety without "
        "keeping a shopper from what they mostly buy",
    )
    max_per_shop: int | None = Field(3, ge=1, description="cap per shop in a list")
    new_share: float = Field(0.1, ge=0, le=0.5, description="slots kept for new products (保量)")
    browse_share: float = Field(
        0.2,
        ge=0,
        le=1,
        description="share of a list kept for the best candidates of the categories browsed in the "
        "current session (real-time interest: a few clicks on rice cookers bring rice cookers into the "
        "next list, whatever the profile says; with ``sequence`` only)",
    )
    new_days: float = Field(7.0, gt=0, description="a product is new for this many days after creation")
    max_views: int | None = Field(3, ge=1, description="skip products shown this often without a click")
    exclude_bought: bool = True
    ann_threshold: int = Field(20_000, ge=1, description="catalogues larger than this use an ANN index")
    live_boost: float = Field(1.0, ge=0, description="content feed: boost of rooms live now")
    follow_boost: float = Field(0.5, ge=0, description="content feed: boost of followed creators")
    recent_half_life_hours: float | None = Field(
        48.0,
        gt=0,
        description="the pull of an event since training halves every this many hours (short-term "
        "intent fades; forgotten after four half-lives, past a weekly retrain; None: it never fades)",
    )
    sequence: bool = Field(
        True,
        description="use the sequence-aware retrievers, the session features of the ranker, and lift the "
        "category cap for the categories browsed in the current session (keeping ``browse_share`` for them)",
    )

    def without_sequence(self) -> FeedConfig:
        """This config with the sequence-aware parts switched off (to measure what they add)."""
        return self.model_copy(update={"sequence": False})


@dataclass
class FeedItem:
    """One product of a feed: its score, the sources that found it and why it is there."""

    product_id: str
    score: float
    found_by: list[str]
    reasons: list[str]
    new: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "product": self.product_id,
            "score": round(self.score, 4),
            "found_by": self.found_by,
            "reasons": self.reasons,
            "new": self.new,
        }


@dataclass
class ContentItem:
    """One video or live room of a content feed, with the goods it carries for this user."""

    content_id: str
    kind: str
    creator_id: str
    score: float
    live_now: bool
    products: list[str]
    reasons: list[str]

    def to_dict(self) -> dict[str, object]:
        return {
            "content": self.content_id,
            "kind": self.kind,
            "creator": self.creator_id,
            "score": round(self.score, 4),
            "live_now": self.live_now,
            "products": self.products,
            "reasons": self.reasons,
        }
