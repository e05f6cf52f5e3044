"""Reports: rows of figures (money in fen, shares as fractions) and the figures over all of them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ReportOut(BaseModel):
    """A report's rows and, beside them, what the report says over all of them (a total, GPM, shares)."""

    model_config = ConfigDict(extra="allow")

    rows: list[dict[str, Any]] = Field(description="One row per period, slice, surface or session.")


class OverviewFigures(BaseModel):
    """Figures over a span of days: money in fen, shares as fractions, GPM in yuan per 1,000 views."""

    gmv_paid: int
    refunded: int
    violating: int
    net_gmv: int
    quality_gmv: int
    gap: int = Field(description="GMV paid − quality GMV: refunds and violating sales.")
    paid_orders: int
    impressions: int
    gpm: float | None
    buyers: int = Field(description="Distinct users who paid.")
    new_customer_share: float = Field(description="Buyers new to the shop ÷ buyers (by user and shop).")


class FunnelStep(BaseModel):
    step: str = Field(description="impression, click, add_to_cart, order, pay or kept (paid − refunded).")
    count: int


class OverviewOut(BaseModel):
    """A shop's (or the platform's) figures over the last days and the days before them, and its funnel."""

    shop: str | None
    days: int
    current_days: list[str] | None = Field(description="First and last day of the span (UTC+8).")
    previous_days: list[str] | None
    current: OverviewFigures
    previous: OverviewFigures
    funnel: list[FunnelStep]
