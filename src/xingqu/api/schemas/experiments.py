"""Online experiments: definitions in, states and reports out."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from xingqu.api.schemas.common import Strict
from xingqu.experiments.model import ExperimentSpec


class ExperimentIn(ExperimentSpec):
    """A definition: arms (the first is the control) with shares adding up to 1, the population, the
    window, the primary metric and guardrails, the planned users per arm."""


class StopIn(Strict):
    reason: str = Field(min_length=1, max_length=2000, description="Why (recorded in the audit log).")


class ArmExposure(BaseModel):
    arm: str
    users: int
    responses: int


class ExperimentOut(BaseModel):
    name: str
    description: str
    layer: str
    arms: list[dict[str, Any]]
    population: dict[str, Any]
    population_kind: str = Field(description="all, segment or share.")
    start_ms: int
    end_ms: int | None
    primary_metric: str
    guardrails: list[dict[str, Any]]
    planned_users: int
    attribution_window_h: float
    salt: str
    layer_range: list[float]
    status: str = Field(description="scheduled, running, ended or stopped.")
    created_ms: int
    created_by: str
    stopped_ms: int | None
    stopped_by: str | None
    stop_reason: str | None
    exposure: list[ArmExposure] | None = None


class ExperimentsOut(BaseModel):
    experiments: list[ExperimentOut]


class ReportOut(BaseModel):
    experiment: str
    status: str
    analysis: str = Field(description="fixed_horizon or sequential (mSPRT: always-valid p-values).")
    method: str = Field(description="The decision rule and how intervals are computed.")
    primary_metric: str
    control: str
    planned_users: int
    planned_reached: bool
    srm: dict[str, Any] = Field(description="χ² of users per arm against the shares; mismatch at p < 0.001.")
    cuped: dict[str, Any]
    arms: list[dict[str, Any]]
    verdict: dict[str, str] = Field(description="code (srm, collecting, winner, loser, …) and text.")
    report: dict[str, Any] = Field(description="Everything else of the report (times, windows).")
