"""Commands that move data in and out of the store: init, import, stats, export."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xingqu.cli.common import (
    DbOption,
    EventsOption,
    JsonOption,
    QuietOption,
    console,
    file_progress,
    open_runtime,
    open_store,
    print_json,
)
from xingqu.ingest import FileReport, ImportReport
from xingqu.services import screening
from xingqu.store.export import export_parquet
from xingqu.store.migrations import LATEST_VERSION


def init(
    db: DbOption = None,
    create_role: Annotated[
        str | None,
        typer.Option(
            "--create-role",
            help="PostgreSQL: also create this login role for the application, with only the grants it "
            "needs (no owner rights: it cannot change the audit log or disable its protection).",
        ),
    ] = None,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Create the store's schema, or migrate an older one. Safe to run again."""
    store = open_store(db, ready=False)
    version = store.init()
    grants = store.create_app_role(create_role) if create_role else []
    if json_out:
        print_json({"store": repr(store), "schema_version": version, "role": create_role, "grants": grants})
        return
    for statement in grants if not quiet else []:
        console.print(statement, soft_wrap=True)
    if not quiet:
        console.print(f"Store ready: {store!r}, schema version {version} (latest {LATEST_VERSION}).")


def import_(
    path: Annotated[
        Path, typer.Argument(help="A file, or a folder whose files are named after their kinds.")
    ],
    kind: Annotated[
        str | None, typer.Option(help="The kind of a single file, if its name does not say.")
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Write valid rows; send invalid ones to a reject file.")
    ] = False,
    rejects: Annotated[Path | None, typer.Option(help="Where --skip-invalid writes rejects.")] = None,
    screen: Annotated[
        bool,
        typer.Option(
            "--screen",
            help="Screen products before they are written: rejected ones are stored as rejected, "
            "those needing review as pending and queued.",
        ),
    ] = False,
    db: DbOption = None,
    events: EventsOption = None,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Import CSV/TSV, JSON Lines or Parquet: all rows or none, events deduplicated by event_id."""
    with file_progress(not (quiet or json_out)) as progress:
        report = screening.import_records(
            open_runtime(db, events=events),
            path,
            kind=kind,
            skip_invalid=skip_invalid,
            rejects_path=rejects,
            progress=progress,
            screen=screen,
        )
    if json_out:
        print_json(report.to_dict())
    elif not quiet:
        print_import(report)


def print_import(report: ImportReport) -> None:
    """What an import read and wrote, per kind of file."""
    table = Table(title="Imported", show_edge=False)
    for col in ("file", "kind", "rows", "written", "duplicates", "rejected"):
        table.add_column(col, justify="left" if col in ("file", "kind") else "right")
    for files in _runs_of_a_kind(report.files):
        name = Path(files[0].path).name
        if len(files) > 1:
            name = f"{name} … {Path(files[-1].path).name} ({len(files)} files)"
        table.add_row(
            name,
            files[0].kind,
            *(
                f"{sum(getattr(f, k) for f in files):,}"
                for k in ("rows", "written", "duplicates", "rejected")
            ),
        )
    console.print(table)
    rate = report.rows / report.seconds if report.seconds else 0.0
    console.print(f"{report.rows:,} rows in {report.seconds:.2f} s ({rate:,.0f} rows/s).")
    if report.rejects_path:
        console.print(f"[yellow]{report.rejected:,} invalid rows written to {report.rejects_path}[/]")
    for f in report.files:
        if f.screened is not None:
            console.print(
                f"screened {Path(f.path).name}: "
                + ", ".join(f"{k} {v:,}" for k, v in f.screened.items())
                + " (rejected stored as rejected; review as pending, queued: xingqu review list)"
            )


def _runs_of_a_kind(files: list[FileReport], longest: int = 3) -> list[list[FileReport]]:
    """Files one row each, except that a run of more than ``longest`` consecutive files of one kind
    (a log written a file a day) becomes one row."""
    runs: list[list[FileReport]] = []
    for f in files:
        if runs and runs[-1][0].kind == f.kind:
            runs[-1].append(f)
        else:
            runs.append([f])
    return [part for run in runs for part in ([run] if len(run) > longest else [[f] for f in run])]


def _iso(ms: int) -> str:
    """A stored time as ISO 8601; a time stored before the domain's bounds existed, outside what a
    calendar can show, as its raw milliseconds."""
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, ValueError, OSError):
        return f"{ms} ms since 1970 (outside the calendar)"


def stats(db: DbOption = None, events: EventsOption = None, json_out: JsonOption = False) -> None:
    """Rows per kind, events per type, and the time range of the event log."""
    store = open_store(db, events=events)
    store.require_ready()
    counts = store.counts()
    per_type = store.event_type_counts()
    span = store.event_time_range()
    data = {
        "store": repr(store),
        "counts": counts,
        "events_by_type": per_type,
        "first_event": _iso(span[0]) if span else None,
        "last_event": _iso(span[1]) if span else None,
    }
    if json_out:
        print_json(data)
        return
    table = Table(title="Records", show_edge=False)
    table.add_column("kind")
    table.add_column("rows", justify="right")
    for k, n in counts.items():
        table.add_row(k, f"{n:,}")
    console.print(table)
    etable = Table(title="Events by type", show_edge=False)
    etable.add_column("event type")
    etable.add_column("events", justify="right")
    for t, n in per_type.items():
        if n:
            etable.add_row(t, f"{n:,}")
    console.print(etable)
    if span:
        console.print(f"Events from {data['first_event']} to {data['last_event']}.")


def export(
    out: Annotated[Path, typer.Option("--out", help="Folder to write <kind>.parquet files into.")] = Path(
        "xingqu-export"
    ),
    fmt: Annotated[str, typer.Option("--format", help="Output format (parquet).")] = "parquet",
    kinds: Annotated[list[str] | None, typer.Option("--kind", help="Only these kinds (repeatable).")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Export catalog, relations and events; importing the folder again restores the same records."""
    if fmt != "parquet":
        raise typer.BadParameter(f"unsupported format {fmt!r}; only 'parquet'", param_hint="--format")
    store = open_store(db)
    store.require_ready()
    written = export_parquet(store, out, kinds or None)
    if json_out:
        print_json({"out": str(out), "rows": written})
    elif not quiet:
        for k, n in written.items():
            console.print(f"{k:<10} {n:>12,} rows → {out / (k + '.parquet')}")
