"""``xingqu demo``: the main job end to end on the embedded default store."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from xingqu.cli import data
from xingqu.cli.common import console, file_progress
from xingqu.ingest import import_path
from xingqu.store import Store

DEFAULT_DEMO_DB = "sqlite:///./xingqu-data/demo.db"


def sample_dir() -> Path:
    """The small marketplace sample shipped inside the package."""
    return Path(str(resources.files("xingqu") / "sample"))


def demo(
    db: Annotated[
        str, typer.Option("--db", help="Store for the demo (recreated on SQLite).")
    ] = DEFAULT_DEMO_DB,
) -> None:
    """Load a sample marketplace into a fresh embedded store and report on it."""
    if db.startswith("sqlite:///"):
        path = Path(db.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    store = Store.open(db)
    console.rule("[bold]xingqu demo[/]: sample marketplace")
    with file_progress(True) as progress:
        report = import_path(store, sample_dir(), progress=progress)
    data._print_import(report)
    data.stats(db=db, json_out=False)
