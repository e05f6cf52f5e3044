"""Reports: rows of figures (money in fen, shares as fractions) and the figures over all of them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ReportOut(BaseModel):
    """A report's rows and, beside them, what the report says over all of them (a total, GPM, shares)."""

    model_config = ConfigDict(extra="allow")

    rows: list[dict[str, Any]] = Field(description="One row per period, slice, surface or session.")
