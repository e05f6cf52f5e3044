"""Screening, review, takedowns, audit, penalty points and store checks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from xingqu.api.schemas.common import Strict
from xingqu.governance.points import MAX_PENALTY_POINTS
from xingqu.services.ingest import MAX_BATCH


class ScreenIn(Strict):
    listings: list[dict[str, Any]] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="Listings: id, shop, title, description, category, brand, price, reference_price, "
        "qualifications.",
    )
    queue: bool = Field(default=False, description="Put listings decided 'review' in the review queue.")


class ScreenOut(BaseModel):
    ruleset: str
    counts: dict[str, int]
    queued: int | None = Field(description="Listings queued for review (null: not asked to queue).")
    decisions: list[dict[str, Any]] = Field(description="Per listing: id, decision, ruleset, reasons.")


class ReviewEntries(BaseModel):
    entries: list[dict[str, Any]]


class NoteIn(Strict):
    note: str = Field(min_length=1, max_length=2_000, description="Why (audited).")


class ReasonIn(Strict):
    reason: str = Field(min_length=1, max_length=2_000, description="Why (audited).")


class Resolved(BaseModel):
    listing: str
    review: str
    product_status: str | None


class StatusChange(BaseModel):
    product: str
    before: str
    after: str


class AuditEntries(BaseModel):
    entries: list[dict[str, Any]]


class ChainsOut(BaseModel):
    ok: bool
    tables: list[dict[str, Any]]


class PointsIn(Strict):
    violation: str = Field(
        min_length=1, max_length=64, description="e.g. counterfeit, prohibited, price_fraud"
    )
    reason: str = Field(min_length=1, max_length=2_000)
    points: int | None = Field(default=None, ge=0, le=MAX_PENALTY_POINTS)
    product: str | None = Field(default=None, min_length=1, max_length=128)


class StandingOut(BaseModel):
    shop: str
    points: int
    action: str
    status: str | None
    penalties: list[dict[str, Any]]


class StoreCheckOut(BaseModel):
    flags: list[dict[str, Any]]
    scores: dict[str, dict[str, float]]
    judged: int
    too_small: list[str]
    too_small_below_orders: int
    scores_written: int
