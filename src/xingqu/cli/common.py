"""What every command shares: the store option, console output, JSON output and progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from xingqu.runtime import Runtime
from xingqu.store import Store

console = Console()
err_console = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", envvar="XINGQU_DB", help="Store URL (SQLite file or postgresql://…).", show_envvar=True
    ),
]
EventsOption = Annotated[
    str | None,
    typer.Option(
        "--events",
        envvar="XINGQU_EVENTS",
        help="Event lake (a folder or s3://, hdfs://, file:// URI); events stay in the store when unset.",
        show_envvar=True,
    ),
]
EngineOption = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Where the heavy work runs: local (this process) or spark (Apache Spark over the event lake).",
    ),
]
MasterOption = Annotated[
    str,
    typer.Option(
        "--master", help="Spark master with --engine spark: local[2], local[*], spark://HOST:PORT, yarn."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document for scripts.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")]


#: Upper bounds of the CLI's numeric options: far above any sensible use, far below an overflow.
MAX_SEED = 2**32 - 1
MAX_LIST = 10_000  # items, creators, products or categories listed
MAX_COUNT = 1_000_000_000_000  # counts, limits and thresholds
MAX_YUAN = 10_000_000_000.0  # prices, in yuan (the domain's 10^12 fen)


def finite(value: float | None) -> float | None:
    """Typer callback refusing NaN (which passes any min/max) in a float option."""
    if value is not None and value != value:
        raise typer.BadParameter("must be a number, not NaN")
    return value


def wide_console(min_width: int) -> Console:
    """The console, at least ``min_width`` columns wide, so tables are not folded when piped."""
    return Console(width=max(console.width, min_width))


def open_runtime(db: str | None = None, models_dir: Path | None = None, events: str | None = None) -> Runtime:
    """The command's runtime: settings read once, ``--db``, ``--models-dir`` and ``--events`` (when
    given) over them."""
    return Runtime(db=db, models_dir=str(models_dir) if models_dir else None, events=events)


def open_store(db: str | None, *, ready: bool = True, events: str | None = None) -> Store:
    """The store the command works on: ``--db``, else ``XINGQU_DB``, else the default SQLite file.

    With ``ready`` (every command but ``init`` and ``import``) the store must hold the current schema:
    a missing, older, newer or damaged one is refused before any work starts."""
    store = open_runtime(db, events=events).store
    if ready:
        store.require_ready()
    return store


def engine_of(engine: str, master: str) -> Any:
    """None for ``--engine local``; the Spark engine on ``master`` for ``--engine spark``."""
    if engine == "local":
        return None
    if engine != "spark":
        raise typer.BadParameter(f"unknown engine {engine!r}; use local or spark", param_hint="--engine")
    from xingqu.distributed.engine import SparkEngine

    return SparkEngine(master)


def print_json(data: Any) -> None:
    """One JSON document on standard output (UTF-8, Chinese kept readable)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@contextmanager
def file_progress(enabled: bool) -> Iterator[Any]:
    """A Rich progress bar with one task per file; yields a callback ``(path, done, total)``."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not enabled,
    )
    tasks: dict[Path, Any] = {}

    def update(path: Path, done: int, total: int) -> None:
        if path not in tasks:
            tasks[path] = progress.add_task(path.name, total=total or None)
        progress.update(tasks[path], completed=done)

    with progress:
        yield update
