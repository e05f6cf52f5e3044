"""The ``xingqu`` Typer application and its entry point, which maps errors to exit codes."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from typing import Any, NamedTuple

import typer
import typer.core
from rich.console import Console
from rich.text import Text

from xingqu import __version__
from xingqu.distributed.session import java_failure
from xingqu.errors import EXIT_INTERNAL, EXIT_USER_ERROR, XingquError

err_console = Console(stderr=True)


class Entry(NamedTuple):
    """Where a command lives and what ``--help`` says of it (so the listing imports nothing)."""

    module: str
    attr: str
    help: str


#: Every command, in the order ``--help`` lists them; a module is imported only when its command runs.
COMMANDS: dict[str, Entry] = {
    "init": Entry("data", "init", "Create the store's schema, or migrate an older one."),
    "import": Entry("data", "import_", "Import CSV/TSV, JSON Lines or Parquet: all rows or none."),
    "stats": Entry("data", "stats", "Rows per kind, events per type, and the event log's time range."),
    "lake": Entry("lake", "lake_app", "The Parquet event lake: info, compact."),
    "export": Entry("data", "export", "Export catalog, relations and events (re-importable)."),
    "demo": Entry("demo", "demo", "A simulated month end to end on a fresh embedded store."),
    "simulate": Entry("sim", "simulate_cmd", "Simulate a marketplace in import formats, truth apart."),
    "train": Entry("learn", "train_cmd", "Train the retrievers, blend and ranker; save a new version."),
    "similar": Entry("learn", "similar_cmd", "Products similar to PRODUCT, and bought together with it."),
    "recommend": Entry("recommend", "recommend_cmd", "The ranked feed of USER, with why each item is there."),
    "portrait": Entry("match", "portrait_cmd", "Portrait (画像) of a group's people, with TGI."),
    "audience": Entry("match", "audience_cmd", "The people a product, shop or brand reaches; lookalikes."),
    "creators": Entry("match", "creators_cmd", "Creators (达人) whose audiences fit PRODUCT."),
    "selection": Entry("match", "selection_cmd", "Categories and products for CREATOR to sell (选品)."),
    "models": Entry("models", "models_app", "Trained model versions: list, show, publish, retire."),
    "evaluate": Entry("learn", "evaluate_cmd", "Compare models on a temporal hold-out."),
    "screen": Entry("govern", "screen_cmd", "Screen listings: approve / review / reject, with reasons."),
    "takedown": Entry("govern", "takedown_cmd", "Take a product down (下架), audited."),
    "reinstate": Entry("govern", "reinstate_cmd", "List a taken-down or rejected product again, audited."),
    "audit": Entry("govern", "audit_app", "The audit log of governance changes; verify its chain."),
    "review": Entry("govern", "review_app", "The review queue of listings screened to 'review'."),
    "points": Entry("govern", "points_app", "Penalty points of shops on a 12-month window."),
    "stores": Entry("govern", "stores_app", "Store monitoring: experience scores and flags."),
    "sim": Entry("sim", "sim_app", "Simulator tools: closed-loop A/B comparisons, live traffic."),
    "experiments": Entry(
        "experiments", "experiments_app", "Online experiments: create, list, show, stop, report."
    ),
    "report": Entry("report", "report_app", "Reports: GMV, funnels, customers, live, channels, shops."),
    "serve": Entry("serve", "serve_cmd", "Serve the HTTP API (OpenAPI at /openapi.json, docs at /docs)."),
    "keys": Entry("serve", "keys_app", "API keys: create (shown once), list, revoke."),
}


def load_command(name: str) -> Any:
    """The click command of ``name``, importing its module now."""
    entry = COMMANDS.get(name)
    if entry is None:
        return None
    target: Any = getattr(importlib.import_module(f"xingqu.cli.{entry.module}"), entry.attr)
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    holder.callback()(lambda: None)  # a group, so that the command is built as a sub-command
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    commands: dict[str, Any] = typer.main.get_command(holder).commands  # type: ignore[attr-defined]
    return commands[name]


class LazyGroup(typer.core.TyperGroup):
    """The root group: lists commands from ``COMMANDS`` and imports one only to run it (or to show
    its own help), so that ``xingqu --help`` and ``--version`` stay fast."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return load_command(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, entry.help) for name, entry in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="xingqu",
    cls=LazyGroup,
    help="xingqu (兴趣): interest e-commerce engine — goods find people.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"xingqu {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """xingqu (兴趣): interest e-commerce engine — goods find people."""


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: 0 ok, 1 user error (explained), 2 usage, 3 internal error.

    Usage errors are reported by Typer itself (exit 2); xingqu's own errors carry their exit code.
    """
    try:
        app(args=argv, prog_name="xingqu")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else EXIT_USER_ERROR)
    except XingquError as exc:
        err_console.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err_console.print("Interrupted.")
        return EXIT_USER_ERROR
    except Exception as exc:
        known = java_failure(exc)
        if known is not None:
            err_console.print(Text.assemble(("error: ", "bold red"), str(known)), soft_wrap=True)
            return known.exit_code
        if os.environ.get("XINGQU_DEBUG"):
            traceback.print_exc()
        else:
            err_console.print_exception(max_frames=4)
        err_console.print(
            Text.assemble(("internal error: ", "bold red"), "this is a bug in xingqu; please report it.")
        )
        return EXIT_INTERNAL
    return 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
