"""Liveness, readiness and metrics (no key needed: for probes and scrapers)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from xingqu.api.metrics import Metrics
from xingqu.errors import XingquError
from xingqu.runtime import Runtime
from xingqu.services.feed import feed_service

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, str]
    model: str | None


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process answers."""
    return Health(status="ok")


def readiness(runtime: Runtime) -> Readiness:
    """Whether the store, the online state (Redis) and a model can be reached now; what fails, why."""
    checks: dict[str, str] = {}
    version = None
    for name, check in (
        ("store", runtime.store.require_ready),
        ("online", lambda: runtime.online.check()),
    ):
        try:
            check()
            checks[name] = "ok"
        except XingquError as exc:
            checks[name] = str(exc)
    if all(v == "ok" for v in checks.values()):
        try:
            version = feed_service(runtime).serving().version
            checks["model"] = "ok"
        except XingquError as exc:
            checks["model"] = str(exc)
    else:
        checks["model"] = "not checked: the store or the online state is unavailable"
    return Readiness(ready=all(v == "ok" for v in checks.values()), checks=checks, model=version)


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready: see checks"}},
)
def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the store, Redis (when configured) and the current model are reachable (503 with
    the failing checks otherwise)."""
    found = readiness(request.app.state.runtime)
    return JSONResponse(found.model_dump(), status_code=200 if found.ready else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: requests and latency per route, model version, online state size."""
    runtime: Runtime = request.app.state.runtime
    m: Metrics = request.app.state.metrics

    def gauges() -> None:
        try:
            m.served(feed_service(runtime).serving().version)
            for part, size in runtime.online.sizes().items():
                m.online.labels(part).set(size)
        except XingquError:
            pass  # the metrics still answer when the store or Redis does not

    await run_in_threadpool(gauges)
    body, content_type = m.exposition()
    return Response(body, media_type=content_type)
