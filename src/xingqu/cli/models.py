"""``xingqu models``: the registry of trained versions — list, show, publish, retire."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xingqu.cli.common import DbOption, JsonOption, console, open_runtime, print_json
from xingqu.cli.learn import ModelsDirOption
from xingqu.registry import ModelRegistry
from xingqu.runtime import Runtime

models_app = typer.Typer(help="Trained model versions: which exist, which is served.", no_args_is_help=True)

VersionArg = Annotated[str, typer.Argument(help="Model version (folder name).")]


def _runtime(db: str | None, models_dir: Path | None) -> Runtime:
    runtime = open_runtime(db, models_dir)
    runtime.store.require_ready()
    return runtime


@models_app.command("list")
def models_list(
    db: DbOption = None, models_dir: ModelsDirOption = None, json_out: JsonOption = False
) -> None:
    """Every version, its state, and which one is served."""
    registry = _runtime(db, models_dir).registry
    found, current = registry.list(), registry.current()
    if json_out:
        print_json({"current": current, "versions": [v.to_dict() for v in found]})
        return
    table = Table(title="Model versions", show_edge=False)
    for col in ("version", "status", "created (UTC)", "interactions", "NDCG@10", "served"):
        table.add_column(col, no_wrap=col in ("version", "status"))
    for v in found:
        created = (
            datetime.fromtimestamp(v.created_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
            if v.created_ms
            else "-"
        )
        meta = v.meta or {}
        ndcg = (meta.get("validation") or {}).get("ndcg@10")
        table.add_row(
            v.version,
            v.status,
            created,
            f"{meta['interactions']:,}" if meta.get("interactions") else "-",
            f"{ndcg:.3f}" if isinstance(ndcg, float) else "-",
            "●" if v.version == current else "",
        )
    console.print(table if found else "No trained model yet: run 'xingqu train'.")


@models_app.command("show")
def models_show(
    version: VersionArg, db: DbOption = None, models_dir: ModelsDirOption = None, json_out: JsonOption = False
) -> None:
    """One version: its registry entry and what was saved with it."""
    info = _runtime(db, models_dir).registry.show(version)
    if json_out:
        print_json(info)
        return
    saved = info.get("saved") or {}
    console.print(f"[bold]{version}[/]: {info['status']}" + ("" if info["on_disk"] else " (files missing)"))
    for key in ("users", "items", "interactions", "trained_until_ms", "seconds"):
        if key in saved:
            console.print(f"  {key}: {saved[key]}")
    for metric, value in (saved.get("validation") or {}).items():
        console.print(f"  validation {metric}: {value:.4f}")


@models_app.command("publish")
def models_publish(
    version: VersionArg, db: DbOption = None, models_dir: ModelsDirOption = None, json_out: JsonOption = False
) -> None:
    """Register a finished version found in the models folder as ready to serve."""
    registry = _runtime(db, models_dir).registry
    registry.publish(version)
    _print_state(registry, version, "ready", json_out)


@models_app.command("retire")
def models_retire(
    version: VersionArg, db: DbOption = None, models_dir: ModelsDirOption = None, json_out: JsonOption = False
) -> None:
    """Never serve VERSION again; the newest other ready version is served from the next request."""
    registry = _runtime(db, models_dir).registry
    registry.retire(version)
    _print_state(registry, version, "retired", json_out)


def _print_state(registry: ModelRegistry, version: str, status: str, json_out: bool) -> None:
    """A version's new state and which version is served now."""
    current = registry.current()
    if json_out:
        print_json({"version": version, "status": status, "current": current})
    else:
        console.print(f"{version}: {status} (served now: {current or 'nothing'})")
