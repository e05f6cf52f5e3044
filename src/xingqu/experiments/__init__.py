"""Online experiments (A/B tests on live traffic): definitions, assignment by hashing, attribution of
events to arms, and the analysis of the report. Storage is ``xingqu.store.experiments``'s; the use
cases are ``xingqu.services.experiments``'s."""

from xingqu.experiments.analysis import ArmData, analyse
from xingqu.experiments.assign import assign, assign_many, unit
from xingqu.experiments.attribution import Exposure, credit
from xingqu.experiments.model import (
    FEEDS,
    METRICS,
    Arm,
    Experiment,
    ExperimentSpec,
    Guardrail,
    Population,
    parse_spec,
)

__all__ = [
    "FEEDS",
    "METRICS",
    "Arm",
    "ArmData",
    "Experiment",
    "ExperimentSpec",
    "Exposure",
    "Guardrail",
    "Population",
    "analyse",
    "assign",
    "assign_many",
    "credit",
    "parse_spec",
    "unit",
]
