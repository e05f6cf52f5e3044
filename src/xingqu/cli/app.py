"""The ``xingqu`` Typer application and its entry point, which maps errors to exit codes."""

from __future__ import annotations

import os
import sys
import traceback

import typer
from rich.text import Text

from xingqu import __version__
from xingqu.cli import data, demo, govern, learn, match, recommend, report, sim
from xingqu.cli.common import err_console
from xingqu.errors import EXIT_INTERNAL, EXIT_USER_ERROR, XingquError

app = typer.Typer(
    name="xingqu",
    help="xingqu (兴趣): interest e-commerce engine — goods find people.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("init")(data.init)
app.command("import")(data.import_)
app.command("stats")(data.stats)
app.command("export")(data.export)
app.command("demo")(demo.demo)
app.command("simulate")(sim.simulate_cmd)
app.command("train")(learn.train_cmd)
app.command("similar")(learn.similar_cmd)
app.command("recommend")(recommend.recommend_cmd)
app.command("portrait")(match.portrait_cmd)
app.command("audience")(match.audience_cmd)
app.command("creators")(match.creators_cmd)
app.command("selection")(match.selection_cmd)
app.command("evaluate")(learn.evaluate_cmd)
app.command("screen")(govern.screen_cmd)
app.command("takedown")(govern.takedown_cmd)
app.command("reinstate")(govern.reinstate_cmd)
app.add_typer(govern.audit_app, name="audit")
app.add_typer(govern.review_app, name="review")
app.add_typer(govern.points_app, name="points")
app.add_typer(govern.stores_app, name="stores")
app.add_typer(sim.sim_app, name="sim")
app.add_typer(report.report_app, name="report")


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
    except Exception:
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
