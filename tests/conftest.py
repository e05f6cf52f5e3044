"""Fixtures: a store per backend (SQLite always; PostgreSQL when XINGQU_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from xingqu.store import Store, normalise_url

#: Seconds the test process may take to exit once the run is over before it prints every thread's
#: stack and ends with status 1: a thread or process a test left behind must not hang the run.
EXIT_WITHIN_S = 120

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


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop the Spark session the Spark tests share, name any thread still running that would keep
    the process from exiting, and arm a watchdog: a process still here ``EXIT_WITHIN_S`` later prints
    every thread's stack and ends with status 1 (armed first: stopping Spark could hang too)."""
    faulthandler.dump_traceback_later(EXIT_WITHIN_S, exit=True, file=sys.__stderr__)
    gateway = None
    if "pyspark.sql" in sys.modules:
        from pyspark import SparkContext
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession() or SparkSession._instantiatedSession
        if active is not None:
            active.stop()
        if SparkContext._gateway is not None:  # its JVM ends when this process's pipe to it closes
            gateway = SparkContext._gateway.proc.pid
    for pid, command in descendants():
        if pid != gateway:
            sys.stderr.write(f"conftest: process {pid} ({command}) is still running at exit\n")
    alive = [
        t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon and t.is_alive()
    ]
    for t in alive:
        sys.stderr.write(f"conftest: thread {t.name!r} is still running at exit\n")


def descendants() -> list[tuple[int, str]]:
    """(pid, command line) of this process's children and theirs, still running (Linux ``/proc``)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state != "Z":  # a zombie has ended; only its parent's wait is missing
            parents.setdefault(int(ppid), []).append(int(entry.name))
    found, todo = [], list(parents.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found.append((pid, command.strip()[:200]))
        todo.extend(parents.get(pid, []))
    return found
