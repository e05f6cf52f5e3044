"""Property-based tests of the whole OpenAPI document with an admin key (schemathesis over a real
uvicorn server on loopback): no generated request is answered with a 5xx, and every answer matches
the schema its route declares."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apiserver import World, auth, make_key, serving
from xingqu.runtime import Runtime

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance, content_type_conformance]


@pytest.fixture(scope="module")
def target(api_world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    db, models = api_world.copy(tmp_path_factory.mktemp("schema"), models=True)
    runtime = Runtime(db=db, models_dir=str(models))
    key = make_key(runtime, "admin")
    with serving(runtime) as url:
        yield url, key
        deadline = time.monotonic() + 240  # a training run a generated request started ends first
        while time.monotonic() < deadline:
            if not httpx.get(f"{url}/v1/models/training", headers=auth(key)).json()["running"]:
                break
            time.sleep(0.5)


@pytest.fixture(scope="module")
def api_schema(target: tuple[str, str]) -> schemathesis.schemas.BaseSchema:
    url, _ = target
    return schemathesis.openapi.from_url(f"{url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")
#: Starting a training run is generated once (each run trains a model for seconds of CPU); every other
#: operation as often as its parameters allow, up to 20 examples.
TRAIN = "start_training"


def _check(case, target: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    url, key = target
    case.call_and_validate(base_url=url, headers=auth(key), checks=CHECKS, timeout=60)


@schema.exclude(operation_id=TRAIN).parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_error_and_every_answer_matches_its_schema(case, target: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    _check(case, target)


@schema.include(operation_id=TRAIN).parametrize()
@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_starting_a_training_run_matches_its_schema(case, target: tuple[str, str]) -> None:  # type: ignore[no-untyped-def]
    _check(case, target)
