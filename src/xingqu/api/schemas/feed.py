"""Feeds, content feeds and related products."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FeedItemOut(BaseModel):
    product: str
    score: float
    found_by: list[str] = Field(description="The retrievers and sources that proposed the product.")
    reasons: list[str] = Field(description="Why it is here, in words.")
    new: bool = Field(description="A new arrival given a guaranteed slot (保量).")
    title: str | None
    price_yuan: float | None
    shop_id: str | None
    shop: str | None
    brand_id: str | None
    brand: str | None
    category: str | None


class ArmServed(BaseModel):
    experiment: str
    arm: str


class FeedOut(BaseModel):
    user: str
    model: str = Field(description="The model version that made the feed.")
    request_id: str = Field(description="Send it with the events this response leads to (attribution).")
    experiments: list[ArmServed] = Field(description="The experiments' arms that served this response.")
    items: list[FeedItemOut]


class ContentItemOut(BaseModel):
    content: str
    kind: str
    creator: str
    score: float
    live_now: bool
    products: list[str]
    reasons: list[str]


class ContentFeedOut(BaseModel):
    user: str
    model: str = Field(description="The model version that made the feed.")
    request_id: str = Field(description="Send it with the events this response leads to (attribution).")
    experiments: list[ArmServed] = Field(description="The experiments' arms that served this response.")
    items: list[ContentItemOut]


class RelatedOut(BaseModel):
    product_id: str
    score: float
    reason: str


class SimilarOut(BaseModel):
    product: str
    model: str
    similar: list[RelatedOut]
    bought_together: list[RelatedOut]


class ProductOut(BaseModel):
    product: str
    title: str
    description: str | None
    category: str | None
    price_yuan: float | None
    reference_price_yuan: float | None
    stock: int | None
    status: str | None = Field(description="listed, pending, rejected or taken_down.")
    commission_rate: float | None
    shop_id: str
    shop: str | None
    shop_status: str | None
    brand_id: str | None
    brand: str | None
