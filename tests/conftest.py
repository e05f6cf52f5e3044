"""Fixtures: a store per backend (SQLite always; PostgreSQL when XINGQU_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from xingqu.store import Store, normalise_url

PG_URL = os.environ.get("XINGQU_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("XINGQU_TEST_REDIS_URL")
SAMPLE = Path(__file__).resolve().parents[1] / "src" / "xingqu" / "sample"


def _pg_schema_url(schema: str) -> str:
    assert PG_URL is not None
    sep = "&" if "?" in PG_URL else "?"
    return normalise_url(PG_URL) + f"{sep}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def pg_schema(prefix: str = "t") -> Iterator[str]:
    """A URL whose connections use a fresh schema of their own, dropped afterwards (skips the test when
    no PostgreSQL is configured)."""
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set XINGQU_TEST_POSTGRES_URL")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalise_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL whose connections use a fresh schema of their own, dropped afterwards."""
    with pg_schema() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """The same test against every backend."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = Store(store_url)
    s.init()
    yield s
    s.close()


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        pytest.skip("Redis not configured: set XINGQU_TEST_REDIS_URL")
    return REDIS_URL


@pytest.fixture(scope="session")
def api_world(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A tiny simulated world trained once for every HTTP API test (see ``apiserver``)."""
    from apiserver import build_world

    return build_world(tmp_path_factory.mktemp("api-world"))
