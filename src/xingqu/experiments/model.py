"""What an online experiment is: a name, a layer, a population, arms with traffic shares (each naming a
feed configuration and/or a model version), a window in time, a primary metric and guardrails.

A definition is checked whole when it is made (every bad field named); once it has started it cannot be
edited, only stopped."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from xingqu.errors import UserError
from xingqu.experiments.sequential import DEFAULT_TAU2

#: Names of experiments, layers and arms: what a URL path and a command line take unquoted.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

#: Metrics an experiment is judged on. Ratios of sums over users (the user is the unit), except the
#: latency quantile, which is over feed responses.
METRICS: dict[str, str] = {
    "quality_gpm": "quality GMV (paid − refunded − sales of goods now violating) per 1,000 impressions, yuan",
    "gpm": "paid GMV per 1,000 impressions, yuan",
    "ctr": "clicks per impression",
    "refund_rate": "refunded ÷ paid amount",
    "new_customer_share": "paid orders that were the buyer's first at the shop ÷ paid orders",
    "latency_p99_ms": "99th percentile of the feed's response time, ms",
}
#: How the report decides: a fixed horizon or an always-valid sequential test.
Analysis = Literal["fixed_horizon", "sequential"]
PrimaryMetric = Literal["quality_gpm", "gpm", "ctr"]
GuardrailMetric = Literal["quality_gpm", "gpm", "ctr", "refund_rate", "new_customer_share", "latency_p99_ms"]
#: Which way is worse for each metric.
HIGHER_IS_BETTER: dict[str, bool] = {
    "quality_gpm": True,
    "gpm": True,
    "ctr": True,
    "refund_rate": False,
    "new_customer_share": True,
    "latency_p99_ms": False,
}

#: Named feed configurations an arm may serve: the trained feed as configured, the feed without its
#: learned ranker (the retrievers' blend), and the most-popular list (best-sellers that may be shown).
FEEDS: dict[str, str] = {
    "default": "the trained feed: retrievers, learned ranker, rules",
    "blend": "the trained feed without the learned ranker (the retrievers' blend)",
    "popular": "the most-popular products that may be shown now (under the price cap, not other filters)",
}

#: Profile fields a population may be segmented on (the users kind's columns).
SEGMENT_FIELDS = ("crowd", "consumption_level", "gender", "age_band", "city_tier", "province")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Arm(_Strict):
    """One variant: its share of the experiment's traffic and what it serves."""

    name: str = Field(pattern=NAME_PATTERN, description="The arm's name; the first arm is the control.")
    share: float = Field(gt=0, le=1, allow_inf_nan=False, description="Share of the experiment's users.")
    feed: str = Field("default", description=f"Feed configuration: {', '.join(FEEDS)}.")
    model: str | None = Field(
        None, max_length=64, description="Model version to serve (None: the current version)."
    )

    @field_validator("feed")
    @classmethod
    def _known_feed(cls, v: str) -> str:
        if v not in FEEDS:
            raise ValueError(f"unknown feed configuration {v!r}; known: {', '.join(FEEDS)}")
        return v


class Population(_Strict):
    """Who may enter: a segment of users by profile (empty: everyone) and a share of them."""

    segment: dict[str, str] = Field(
        default_factory=dict, description=f"Profile fields and values: {', '.join(SEGMENT_FIELDS)}."
    )
    share: float = Field(1.0, gt=0, le=1, allow_inf_nan=False, description="Share of the layer's users.")

    @field_validator("segment")
    @classmethod
    def _known_fields(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(SEGMENT_FIELDS))
        if unknown:
            raise ValueError(
                f"unknown segment field(s) {', '.join(unknown)}; use {', '.join(SEGMENT_FIELDS)}"
            )
        if len(v) > len(SEGMENT_FIELDS) or any(len(x) > 64 for x in v.values()):
            raise ValueError("segment values are at most 64 characters")
        return v

    @property
    def kind(self) -> str:
        """all, segment or share: how the population is drawn."""
        if self.segment:
            return "segment"
        return "all" if self.share >= 1 else "share"


class Guardrail(_Strict):
    """A metric that must not get worse by more than ``tolerance`` (relative) in any arm."""

    metric: GuardrailMetric
    tolerance: float = Field(0.05, ge=0, le=10, allow_inf_nan=False, description="Relative harm allowed.")


DEFAULT_GUARDRAILS: tuple[Guardrail, ...] = (
    Guardrail(metric="refund_rate", tolerance=0.10),
    Guardrail(metric="gpm", tolerance=0.05),
    Guardrail(metric="latency_p99_ms", tolerance=0.20),
    Guardrail(metric="new_customer_share", tolerance=0.10),
)


class ExperimentSpec(_Strict):
    """A definition as it is submitted (the store adds its salt, layer range and state)."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field("", max_length=2000)
    layer: str = Field("default", pattern=NAME_PATTERN, description="One arm per layer per user.")
    arms: list[Arm] = Field(min_length=2, max_length=10)
    population: Population = Field(default_factory=Population)
    start_ms: int | None = Field(None, ge=0, le=2**53, description="UTC ms; None: now.")
    end_ms: int | None = Field(None, ge=0, le=2**53, description="UTC ms; None: until stopped.")
    primary_metric: PrimaryMetric = "quality_gpm"
    guardrails: list[Guardrail] = Field(default_factory=lambda: list(DEFAULT_GUARDRAILS), max_length=10)
    planned_users: int = Field(
        1000,
        ge=10,
        le=10**9,
        description="Users per arm before a verdict may be given (fixed horizon); under sequential, "
        "the sample after which no detectable difference is called.",
    )
    analysis: Analysis = Field(
        "fixed_horizon",
        description="fixed_horizon: one test once every arm has planned_users; sequential: an always-valid "
        "test (mSPRT) that may call a winner at any look.",
    )
    sequential_tau2: float = Field(
        DEFAULT_TAU2,
        gt=0,
        le=100,
        allow_inf_nan=False,
        description="sequential: the mixture variance τ² of the relative effect "
        "(0.01: effects of about ±10 %).",
    )
    attribution_window_h: float = Field(
        24.0, gt=0, le=24 * 30, allow_inf_nan=False, description="Hours after an impression events count."
    )
    salt: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="Hash salt (None: new).")

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentSpec:
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arm names repeat: {', '.join(names)}")
        total = sum(a.share for a in self.arms)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"arm shares add up to {total:g}, not 1")
        if self.start_ms is not None and self.end_ms is not None and self.end_ms <= self.start_ms:
            raise ValueError("end_ms must be after start_ms")
        if len({g.metric for g in self.guardrails}) != len(self.guardrails):
            raise ValueError("a guardrail metric is listed twice")
        return self

    @property
    def control(self) -> Arm:
        return self.arms[0]


class Experiment(_Strict):
    """A stored experiment: its definition, its hash salt, its slice of the layer and its state."""

    spec: ExperimentSpec
    salt: str
    range_lo: float = Field(ge=0, le=1)
    range_hi: float = Field(ge=0, le=1)
    start_ms: int
    end_ms: int | None
    created_ms: int
    created_by: str
    stopped_ms: int | None = None
    stopped_by: str | None = None
    stop_reason: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def layer(self) -> str:
        return self.spec.layer

    def status(self, now_ms: int) -> str:
        """scheduled, running, ended (its end passed) or stopped."""
        if self.stopped_ms is not None:
            return "stopped"
        if now_ms < self.start_ms:
            return "scheduled"
        if self.end_ms is not None and now_ms >= self.end_ms:
            return "ended"
        return "running"

    def live_until(self) -> int | None:
        """When it stops taking traffic (None: until stopped)."""
        ends = [t for t in (self.end_ms, self.stopped_ms) if t is not None]
        return min(ends) if ends else None

    def to_dict(self, now_ms: int) -> dict[str, Any]:
        return {
            **self.spec.model_dump(),
            "salt": self.salt,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "layer_range": [self.range_lo, self.range_hi],
            "population_kind": self.spec.population.kind,
            "status": self.status(now_ms),
            "created_ms": self.created_ms,
            "created_by": self.created_by,
            "stopped_ms": self.stopped_ms,
            "stopped_by": self.stopped_by,
            "stop_reason": self.stop_reason,
        }


def parse_spec(data: dict[str, Any]) -> ExperimentSpec:
    """A definition from plain data; every problem named by its field (a ``UserError``)."""
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "experiment"
            parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        raise UserError("invalid experiment: " + "; ".join(parts)) from None


def check_name(name: str, what: str = "experiment") -> str:
    """``name`` when it is a valid name, else a ``UserError`` naming it."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise UserError(f"invalid {what} name {name[:80]!r}: letters, digits, '_', '.', '-' (at most 64)")
    return name
