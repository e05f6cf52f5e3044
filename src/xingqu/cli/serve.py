"""``xingqu serve`` and ``xingqu keys``: the HTTP API, and the keys that open it."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xingqu.cli.common import DbOption, JsonOption, console, print_json
from xingqu.cli.learn import ModelsDirOption
from xingqu.domain.vocab import Role
from xingqu.runtime import Runtime
from xingqu.services import keys

RedisOption = Annotated[
    str | None,
    typer.Option(
        "--redis",
        envvar="XINGQU_REDIS",
        help="redis://host:port/db of the online state shared by several processes.",
        show_envvar=True,
    ),
]


def serve_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65_535, help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request.")] = False,
    db: DbOption = None,
    models_dir: ModelsDirOption = None,
    redis: RedisOption = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, docs at /docs) until interrupted."""
    runtime = Runtime(db=db, models_dir=str(models_dir) if models_dir else None, redis=redis)
    runtime.store.require_ready()  # a store without the current schema is refused before listening
    serve(runtime, host, port, workers, access_log)


def serve(runtime: Runtime, host: str, port: int, workers: int = 1, access_log: bool = False) -> None:
    """Run the API over ``runtime``'s settings in ``workers`` processes until interrupted. The workers
    build their runtime from the environment, so the settings are handed over there."""
    import uvicorn

    settings = runtime.settings
    os.environ["XINGQU_DB"] = settings.db
    os.environ["XINGQU_MODELS_DIR"] = str(Path(settings.models_dir).resolve())
    if settings.redis:
        os.environ["XINGQU_REDIS"] = settings.redis
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="xingqu-metrics-")
    console.print(f"Serving the xingqu API on http://{host}:{port} (docs: /docs); Ctrl-C stops it.")
    if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
        from xingqu.cli.workers import supervise

        supervise(host, port, workers, access_log)
        return
    uvicorn.run(
        "xingqu.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info" if access_log else "warning",
        timeout_graceful_shutdown=10,
    )


keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    role: Annotated[Role, typer.Option(help="admin, ops, app, merchant or creator.")],
    shop: Annotated[
        list[str] | None, typer.Option("--shop", help="Merchant keys: a shop (repeatable).")
    ] = None,
    creator: Annotated[str | None, typer.Option(help="Creator keys: the creator.")] = None,
    name: Annotated[str | None, typer.Option(help="What the key is for.")] = None,
    rate: Annotated[
        int | None, typer.Option(min=1, max=1_000_000, help="Requests a second (default: the server's).")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create a key; it is printed this once (only a slow hash of it is stored)."""
    secret, principal = keys.create_key(
        Runtime(db=db), role.value, shops=shop or [], creator=creator, name=name, rate_per_s=rate
    )
    if json_out:
        print_json({**principal.to_dict(), "key": secret})
        return
    scope = ", ".join(sorted(principal.shops)) or principal.creator or "everything its role allows"
    console.print(f"{principal.role.value} key {principal.key_id} ({principal.name}; scope: {scope}):")
    console.print(secret, soft_wrap=True, highlight=False)
    console.print("[dim]Shown once: keep it now. Send it as 'Authorization: Bearer <key>'.[/]")


@keys_app.command("list")
def keys_list(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Every key: id, name, role, scope, when created and revoked (never a secret)."""
    rows = keys.list_keys(Runtime(db=db))
    if json_out:
        print_json(rows)
        return
    table = Table(title="API keys", show_edge=False)
    for col in ("key", "name", "role", "scope", "state"):
        table.add_column(col)
    for r in rows:
        scope = ", ".join(r["shops"]) or r["creator_id"] or ""
        table.add_row(r["key_id"], r["name"], r["role"], scope, "revoked" if r["revoked_at"] else "active")
    console.print(table if rows else "No keys yet: xingqu keys create --role admin")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (as 'keys list' shows it).")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Revoke a key: every serving process refuses it from its next request."""
    result = keys.revoke_key(Runtime(db=db), key_id)
    if json_out:
        print_json(result)
    else:
        console.print(f"key {key_id} revoked")
