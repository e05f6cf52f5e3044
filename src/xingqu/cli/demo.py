"""``xingqu demo``: the main job end to end on the embedded default store."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from xingqu.cli import data
from xingqu.cli.common import console, file_progress
from xingqu.cli.sim import print_sim_report, run_simulation
from xingqu.ingest import import_path
from xingqu.sim.config import preset
from xingqu.store import Store

DEFAULT_DEMO_DB = "sqlite:///./xingqu-data/demo.db"
DEFAULT_MARKET_DIR = Path("xingqu-data/demo-market")


def sample_dir() -> Path:
    """The small hand-made marketplace shipped inside the package (examples and tests)."""
    return Path(str(resources.files("xingqu") / "sample"))


def demo(
    db: Annotated[
        str, typer.Option("--db", help="Store for the demo (recreated on SQLite).")
    ] = DEFAULT_DEMO_DB,
    market: Annotated[Path, typer.Option(help="Folder for the simulated marketplace.")] = DEFAULT_MARKET_DIR,
    seed: Annotated[int, typer.Option(help="Seed of the simulated marketplace.")] = 42,
) -> None:
    """Simulate a month of a marketplace, import it into a fresh embedded store and report on it."""
    if db.startswith("sqlite:///"):
        path = Path(db.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    if market.exists() and not (market / "truth" / "summary.json").exists():
        raise typer.BadParameter(f"{market} exists and is not a simulation folder", param_hint="--market")
    if market.exists():
        shutil.rmtree(market)
    console.rule("[bold]xingqu demo[/]: a simulated month of interest e-commerce")
    report = run_simulation(preset("demo", seed=seed), market, True)
    print_sim_report(report)
    store = Store.open(db)
    with file_progress(True) as progress:
        imported = import_path(store, market, progress=progress)
    data._print_import(imported)
    data.stats(db=db, json_out=False)
