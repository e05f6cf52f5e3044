"""Online experiments: define, list, show, edit before the start, stop, report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status

from xingqu.api.access import Caller
from xingqu.api.routes.governance import actor
from xingqu.api.schemas.experiments import (
    ExperimentIn,
    ExperimentOut,
    ExperimentsOut,
    ReportOut,
    StopIn,
)
from xingqu.errors import UserError
from xingqu.experiments.model import NAME_PATTERN
from xingqu.services import experiments

router = APIRouter(prefix="/experiments", tags=["experiments"])

Name = Annotated[str, Path(pattern=NAME_PATTERN, description="The experiment's name.")]


@router.post("", response_model=ExperimentOut, status_code=status.HTTP_201_CREATED)
def create_experiment(body: ExperimentIn, caller: Caller, request: Request) -> dict[str, Any]:
    """Define an experiment (audited); it takes traffic from its start (now when none is given). 409
    when the name exists or its layer has too little traffic free."""
    data = body.model_dump(exclude_unset=True)
    return experiments.create_experiment(request.app.state.runtime, data, actor(caller))


@router.get("", response_model=ExperimentsOut)
def list_experiments(caller: Caller, request: Request) -> dict[str, Any]:
    """Every experiment with its state."""
    return {"experiments": experiments.list_experiments(request.app.state.runtime)}


@router.get("/{name}", response_model=ExperimentOut)
def show_experiment(name: Name, caller: Caller, request: Request) -> dict[str, Any]:
    """One experiment, with its users and feed responses per arm so far."""
    return experiments.show_experiment(request.app.state.runtime, name)


@router.put("/{name}", response_model=ExperimentOut)
def edit_experiment(name: Name, body: ExperimentIn, caller: Caller, request: Request) -> dict[str, Any]:
    """Replace the definition of an experiment that has not started (audited); 409 once it has started:
    a running experiment cannot be edited, only stopped. The body's name must be the path's."""
    data = body.model_dump(exclude_unset=True)
    if data.get("name") != name:
        raise UserError(f"name: the body names {data.get('name')!r}, the path {name!r}")
    return experiments.edit_experiment(request.app.state.runtime, name, data, actor(caller))


@router.post("/{name}/stop", response_model=ExperimentOut)
def stop_experiment(name: Name, body: StopIn, caller: Caller, request: Request) -> dict[str, Any]:
    """Stop an experiment (audited): every serving process stops routing users to its arms within
    seconds; its report stays."""
    return experiments.stop_experiment(request.app.state.runtime, name, body.reason, actor(caller))


@router.get("/{name}/report", response_model=ReportOut)
def experiment_report(name: Name, caller: Caller, request: Request) -> dict[str, Any]:
    """Per arm the primary metric and guardrails with 95 % intervals (delta method, user as the unit),
    lifts over the control, CUPED, the minimum detectable effect, the sample-ratio check and a verdict
    that calls no winner before the planned sample."""
    full = experiments.report(request.app.state.runtime, name)
    keys = ("experiment", "status", "analysis", "method", "primary_metric", "control", "planned_users")
    keys += ("planned_reached", "srm", "cuped", "arms", "verdict")
    return {**{k: full[k] for k in keys}, "report": {k: v for k, v in full.items() if k not in keys}}
