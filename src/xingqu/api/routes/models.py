"""Model versions: which exist, which is served, training runs in the background."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from xingqu.api.access import Caller
from xingqu.api.schemas.models import CurrentOut, ModelsOut, TrainingOut, TrainingRunOut
from xingqu.services import models

router = APIRouter(prefix="/models", tags=["models"])


@router.get("", response_model=ModelsOut)
def list_models(caller: Caller, request: Request) -> dict[str, object]:
    """Every version, its state, and which one is served."""
    return models.list_models(request.app.state.runtime)


@router.get("/current", response_model=CurrentOut)
def current_model(caller: Caller, request: Request) -> dict[str, object]:
    """The version served now (every process picks up a newer ready one within seconds)."""
    return models.current_model(request.app.state.runtime)


@router.get("/training", response_model=TrainingOut)
def training_status(caller: Caller, request: Request) -> dict[str, object]:
    """Whether a training run is going, and how the last one started here ended."""
    return models.trainer(request.app.state.runtime).status()


@router.post("/train", response_model=TrainingRunOut, status_code=status.HTTP_202_ACCEPTED)
def start_training(caller: Caller, request: Request) -> dict[str, object]:
    """Start training a new version in the background (409 while another run goes); when it is ready,
    every serving process loads it beside the current one and swaps it in without a failed request."""
    return models.trainer(request.app.state.runtime).start().to_dict()
