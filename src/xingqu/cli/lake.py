"""``xingqu lake``: the Parquet event lake — what it holds, and compaction."""

from __future__ import annotations

from typing import Annotated

import typer

from xingqu.cli.common import (
    DbOption,
    EventsOption,
    JsonOption,
    QuietOption,
    console,
    open_runtime,
    print_json,
)
from xingqu.services import lake as lake_service

lake_app = typer.Typer(help="The Parquet event lake: info, compact.", no_args_is_help=True)


@lake_app.command("info")
def info(db: DbOption = None, events: EventsOption = None, json_out: JsonOption = False) -> None:
    """Days, files and events (each counted once) in the lake."""
    data = lake_service.describe(open_runtime(db, events=events))
    if json_out:
        print_json(data)
        return
    console.print(
        f"{data['lake']}: {data['events']:,} events in {data['files']:,} files over {data['days']} days "
        f"({data['first_day']} … {data['last_day']}); {data['days_with_several_files']} days to compact."
    )


@lake_app.command("compact")
def compact(
    day: Annotated[list[str] | None, typer.Option("--day", help="Only this day (repeatable).")] = None,
    db: DbOption = None,
    events: EventsOption = None,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Rewrite each day as one file holding each event once (duplicates across files removed)."""
    data = lake_service.compact(open_runtime(db, events=events), day)
    if json_out:
        print_json(data)
    elif not quiet:
        console.print(
            f"{data['days']} days, {data['rewritten']} rewritten from {data['files_removed']} files; "
            f"{data['duplicates']:,} duplicates removed; {data['events']:,} events."
        )
