"""Portraits, audiences and lookalikes, creators for goods, selection for creators."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from xingqu.api.schemas.common import Page, Strict


class SegmentOut(BaseModel):
    value: str
    count: int
    share: float
    tgi: float = Field(description="Share in the group ÷ share in the population × 100.")


class DimensionOut(BaseModel):
    known: int = Field(description="Members with a value in this dimension.")
    segments: list[SegmentOut]


class PortraitOut(BaseModel):
    subject: str
    audience: str
    size: int
    min_count: int = Field(description="Smallest group shown; smaller ones show their size only.")
    hidden: bool
    hidden_because: str | None = None
    dimensions: dict[str, DimensionOut] | None = None


class AudienceOut(BaseModel):
    subject: str
    private_domain: dict[str, int | None] = Field(
        description="People it already reaches: followers, fan group, members, buyers new/active/lapsed; "
        "null for a group smaller than the minimum group size."
    )


class LookalikeIn(Strict):
    n: int | None = Field(default=None, ge=1, le=10_000_000, description="Users in the audience.")
    top_pct: float | None = Field(default=None, ge=0.01, le=100, description="Or the top X % of users.")
    seed_users: list[str] | None = Field(
        default=None, min_length=1, max_length=100_000, description="Seed users instead of the buyers."
    )
    exclude_private: bool = Field(default=False, description="Leave followers, members and buyers out.")


class LookalikeUser(BaseModel):
    user: str
    score: float
    propensity: float


class SizeEstimate(BaseModel):
    size: int
    top_share: float | None = None
    min_score: float | None = None
    min_propensity: float | None = None


class LookalikeOut(Page):
    subject: str
    seed_size: int
    excluded: int
    sizes: list[SizeEstimate] = Field(description="Audience sizes at several cut-offs.")
    users: list[LookalikeUser] = Field(description="This page of the audience, best first.")


class CreatorMatchOut(BaseModel):
    creator: str
    score: float
    predicted_gmv_yuan: float
    followers: int
    target_users_in_audience: int
    components: dict[str, float]


class CreatorsOut(BaseModel):
    product: str
    goal: Literal["sales", "brand"]
    target: dict[str, list[str]] | None
    creators: list[CreatorMatchOut]


class SimilarCreator(BaseModel):
    creator: str
    similarity: float


class SimilarCreatorsOut(BaseModel):
    creator: str
    similar: list[SimilarCreator]


class CategoryPickOut(BaseModel):
    category: str
    score: float
    expected_gpm: float
    components: dict[str, float]
    reasons: list[str]


class ProductPickOut(BaseModel):
    product: str
    category: str
    score: float
    price_yuan: float
    commission_rate: float
    expected_gpm: float
    reasons: list[str]


class SelectionOut(BaseModel):
    creator: str
    audience: int
    categories: list[CategoryPickOut]
    products: list[ProductPickOut]
