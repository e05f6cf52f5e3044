"""Prometheus metrics of a server: requests and their latency per route, the model version served, and
the size of the online state. Several worker processes (``xingqu serve --workers N``) write to
``PROMETHEUS_MULTIPROC_DIR`` and any of them answers for all."""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Latency buckets in seconds: fine below 100 ms, where the feed should be.
BUCKETS = (0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.5, 10.0)


def _multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    """One app's metrics (a registry of its own, so that several apps in one process do not clash)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = None if _multiprocess() else self.registry
        self.requests = Counter(
            "xingqu_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ("route", "method", "status"),
            registry=reg,
        )
        self.latency = Histogram(
            "xingqu_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ("route", "method"),
            buckets=BUCKETS,
            registry=reg,
        )
        gauge: dict[str, Any] = {"multiprocess_mode": "liveall"} if _multiprocess() else {}
        self.model = Gauge(
            "xingqu_model_version_info",
            "1 for the model version this process serves.",
            ("version",),
            registry=reg,
            **gauge,
        )
        self.online = Gauge(
            "xingqu_online_state_size",
            "Size of the online state: servable products, users with recent events (Redis).",
            ("part",),
            registry=reg,
            **gauge,
        )
        self.feed_batch = Histogram(
            "xingqu_feed_batch_size",
            "Feed requests served together in one batch (those that queued while the feed was busy).",
            buckets=(1, 2, 4, 8, 16, 32),
            registry=reg,
        )
        self._version: str | None = None
        #: route name → its full path template (set by the app factory once its routes are in)
        self.templates: dict[str, str] = {}

    def served(self, version: str | None) -> None:
        """The model version this process now serves."""
        if version == self._version:
            return
        if self._version is not None:
            self.model.labels(self._version).set(0)
        if version is not None:
            self.model.labels(version).set(1)
        self._version = version

    def exposition(self) -> tuple[bytes, str]:
        """The text exposition of every metric (of every worker when several share the folder)."""
        if _multiprocess():
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MeasureRequests:
    """ASGI middleware counting every request and timing it, labelled by its route's template (so
    that /v1/users/u1/feed and /v1/users/u2/feed are one series)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            found = scope.get("route")
            name = getattr(found, "name", None)
            route = self.metrics.templates.get(name) or getattr(found, "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - start)
