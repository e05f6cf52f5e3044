"""The HTTP API's app factory: a FastAPI app over one runtime, its routers under ``/v1`` and the web
console under ``/console``, errors mapped once, keys and roles on every route, request metrics; its
lifespan loads the model and the online state before the first request."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from xingqu import __version__
from xingqu.api import batching, compute, errors
from xingqu.api.access import PUBLIC, ROUTE_ROLES
from xingqu.api.limits import BodyLimit, RateLimiter
from xingqu.api.metrics import MeasureRequests, Metrics
from xingqu.api.routes import (
    experiments,
    feed,
    governance,
    health,
    keys,
    matching,
    models,
    records,
    reports,
)
from xingqu.api.schemas.common import ERRORS
from xingqu.console import mount as mount_console
from xingqu.errors import XingquError
from xingqu.runtime import Runtime
from xingqu.services.feed import feed_service

log = logging.getLogger("xingqu.api")

#: Routers of ``/v1``, one per resource.
ROUTERS = (
    keys.router,
    records.router,
    feed.router,
    matching.router,
    governance.router,
    reports.router,
    reports.shops,
    models.router,
    experiments.router,
)


def warm_up(runtime: Runtime, metrics: Metrics) -> None:
    """Open the store, build the online state and load the current model, so that the first request is
    as fast as any; what cannot be reached now is reported by ``/readyz`` and retried on request."""
    try:
        runtime.store.require_ready()
        _ = runtime.online
        serving = feed_service(runtime).serving()
        metrics.served(serving.version)
        if serving.model.feed is not None and serving.model.feed.ranker is not None:
            serving.model.feed.ranker.optimise()  # seconds now, for every request after
    except XingquError as exc:
        log.warning("not ready yet: %s", exc)


def check_roles(app: FastAPI) -> None:
    """Every route is public or has its roles in ``ROUTE_ROLES``, and every entry names a route: a new
    route without roles stops the app from being built, not from being secured."""
    names = {op["operationId"] for ops in app.openapi()["paths"].values() for op in ops.values()}
    missing = sorted(names - set(ROUTE_ROLES) - PUBLIC)
    stale = sorted(set(ROUTE_ROLES) - names)
    if missing or stale:
        raise RuntimeError(f"routes without roles: {missing}; roles without routes: {stale}")


def create_app(runtime: Runtime | None = None) -> FastAPI:
    """The API over ``runtime`` (by default one built from the ``XINGQU_*`` settings)."""
    runtime = runtime or Runtime()
    settings = runtime.settings
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        compute.install(_app, settings.api_threads)
        batching.install(_app)
        await run_in_threadpool(warm_up, runtime, metrics)
        yield

    app = FastAPI(
        title="xingqu",
        version=__version__,
        summary="Interest e-commerce engine: feeds, audiences, creator matching, governance, analytics.",
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.runtime = runtime
    app.state.metrics = metrics
    app.state.limiter = RateLimiter(settings.api_rate_per_s, settings.redis, settings.redis_prefix)
    errors.install(app)
    app.include_router(health.router)
    for router in ROUTERS:
        app.include_router(router, prefix="/v1", responses=ERRORS)
    mount_console(app)
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(MeasureRequests, metrics=metrics)
    check_roles(app)
    metrics.templates = {
        op["operationId"]: path for path, ops in app.openapi()["paths"].items() for op in ops.values()
    }
    return app


def app_from_env() -> FastAPI:
    """The API over the settings of the environment (``xingqu serve`` sets them for its workers)."""
    return create_app(Runtime())
