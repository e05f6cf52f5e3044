"""``xingqu report …``: merchant and operator reports from the store."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xingqu.analytics.chart import CHART_SUFFIXES, line_chart
from xingqu.analytics.gmv import SLICES, GmvSummary
from xingqu.cli.common import (
    MAX_COUNT,
    DbOption,
    EngineOption,
    EventsOption,
    JsonOption,
    MasterOption,
    console,
    engine_of,
    open_runtime,
    print_json,
    wide_console,
)
from xingqu.outputs import check_output_file, writing_text
from xingqu.services import reports
from xingqu.services.reports import RowsReport

report_app = typer.Typer(
    help="Reports: GMV and quality GMV (more reports build on the same order facts).", no_args_is_help=True
)

MONEY = ("gmv_placed", "gmv_paid", "refunded", "net_gmv", "violating", "quality_gmv", "gap")


def _yuan(fen: object) -> str:
    return f"¥{float(fen) / 100:,.2f}"  # type: ignore[arg-type]


@report_app.command("gmv")
def gmv_cmd(
    period: Annotated[str, typer.Option(help="day, week or month (UTC+8 calendar).")] = "day",
    by: Annotated[str | None, typer.Option(help=f"Slice by {', '.join(SLICES)}.")] = None,
    top: Annotated[
        int, typer.Option(min=1, max=MAX_COUNT, help="With --by: the slice values with most GMV kept.")
    ] = 20,
    shop: Annotated[str | None, typer.Option(help="Only this shop's orders.")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write rows as CSV ('-' for stdout).")] = None,
    chart: Annotated[
        Path | None, typer.Option(help="Chart GMV paid and quality GMV over time (.png/.svg).")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """GMV placed, paid, refunded, net and quality GMV per period (and slice), with the gap."""
    if period not in ("day", "week", "month"):
        raise typer.BadParameter("use day, week or month", param_hint="--period")
    if by is not None and by not in SLICES:
        raise typer.BadParameter(f"use one of {', '.join(SLICES)}", param_hint="--by")
    check_csv(csv_out)
    if chart is not None:
        check_output_file(chart, "--chart", CHART_SUFFIXES)
    report = reports.gmv(open_runtime(db), period, by, shop, top)
    rows, total = report.rows, report.total
    if csv_out is not None:
        _write_csv(rows, csv_out)
    if chart is not None:
        periods = sorted({str(r["period"]) for r in rows})
        series: dict[str, list[float]] = {}
        for name in ("gmv_paid", "quality_gmv"):
            for value in sorted({str(r[by]) if by else "all" for r in rows}):
                vals = {
                    str(r["period"]): float(r[name]) / 100
                    for r in rows
                    if (str(r[by]) if by else "all") == value
                }
                series[f"{name} ({value})" if by else name] = [vals.get(p, 0.0) for p in periods]
        line_chart(chart, f"GMV paid and quality GMV per {period}", periods, series, "yuan")
    if json_out:
        print_json(report.to_dict())
    elif csv_out is None or str(csv_out) != "-":
        print_gmv_table(rows, period, by)
        print_gmv_summary(total)


def print_gmv_table(rows: list[dict[str, object]], period: str, by: str | None) -> None:
    table = Table(title=f"GMV per {period}" + (f" and {by}" if by else ""), show_edge=False)
    cols = ["period", *([by] if by else []), "orders", *MONEY, "refund_rate", "gpm"]
    for col in cols:
        table.add_column(col, justify="left" if col in ("period", by) else "right", no_wrap=True)
    for r in rows:
        cells = []
        for col in cols:
            v = r.get(col)
            if col in MONEY:
                cells.append(_yuan(v))
            elif col == "refund_rate":
                cells.append(f"{float(v):.1%}")  # type: ignore[arg-type]
            elif col == "gpm":
                cells.append("" if v is None else f"{float(v):,.1f}")  # type: ignore[arg-type]
            else:
                cells.append(str(v))
        table.add_row(*cells)
    wide_console(170 if by else 160).print(table)


def print_gmv_summary(s: GmvSummary) -> None:
    """GMV, quality GMV and the parts in between, in one paragraph."""
    console.print(
        f"GMV paid {_yuan(s.gmv_paid)} ({s.paid_orders:,} paid orders, {s.paying_users:,} buyers, AOV "
        f"{_yuan(s.aov)}); refunded {_yuan(s.refunded)} ({s.refund_rate:.1%} of orders, quality refunds "
        f"{s.quality_refund_rate:.1%}); net {_yuan(s.net_gmv)}; violating {_yuan(s.violating)}; "
        f"[bold]quality GMV {_yuan(s.quality_gmv)}[/] (experience-weighted {_yuan(s.quality_gmv_weighted)}), "
        f"{s.gap / s.gmv_paid:.1%} below GMV"
        if s.gmv_paid
        else "No paid orders."
    )


def _emit(report: RowsReport, csv_out: Path | None, json_out: bool) -> None:
    """A report's rows as a Rich table, CSV (file or '-') or JSON: the shared tail of every report."""
    rows, title, extra = report.rows, report.title, report.extra
    check_csv(csv_out)
    if csv_out is not None:
        _write_csv(rows, csv_out)
    if json_out:
        print_json(report.to_dict())
        return
    if csv_out is not None and str(csv_out) == "-":
        return
    table = Table(title=title, show_edge=False)
    cols = list(rows[0]) if rows else []
    for col in cols:
        table.add_column(
            col, justify="right" if isinstance(rows[0][col], int | float) else "left", no_wrap=True
        )
    for r in rows:
        table.add_row(*(_cell(c, r[c]) for c in cols))
    wide_console(30 + 14 * len(cols)).print(table)
    for k, v in extra.items():
        console.print(f"{k}: {_cell(k, v)}")


def _write_csv(rows: list[dict[str, object]], csv_out: Path) -> None:
    """Rows as CSV into a file (replaced whole, only once written), or to standard output for '-'."""
    with contextlib.ExitStack() as stack:
        fh = sys.stdout if str(csv_out) == "-" else stack.enter_context(writing_text(csv_out, newline=""))
        reports.write_csv(rows, fh)


def check_csv(csv_out: Path | None) -> None:
    """Refuse an unwritable --csv before the report is computed."""
    if csv_out is not None and str(csv_out) != "-":
        check_output_file(csv_out, "--csv")


def _cell(name: str, v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return (
            f"{v:.1%}"
            if any(t in name for t in ("share", "rate", "ctr", "conversion", "_to_", "growth"))
            else f"{v:,.2f}"
        )
    if isinstance(v, int) and not isinstance(v, bool) and (name.startswith("gmv") or name in MONEY):
        return _yuan(v)
    return str(v)


CsvOption = Annotated[Path | None, typer.Option("--csv", help="Write rows as CSV ('-' for stdout).")]
ShopOption = Annotated[str | None, typer.Option(help="Only this shop.")]


@report_app.command("daily")
def daily_cmd(
    engine: EngineOption = "local",
    master: MasterOption = "local[2]",
    csv_out: CsvOption = None,
    db: DbOption = None,
    events: EventsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Events per day and type: from the rollups, or recounted from the event lake with --engine spark."""
    _emit(reports.daily(open_runtime(db, events=events), engine_of(engine, master)), csv_out, json_out)


@report_app.command("funnel")
def funnel_cmd(
    shop: ShopOption = None, csv_out: CsvOption = None, db: DbOption = None, json_out: JsonOption = False
) -> None:
    """Impression → click → order → pay by surface, with live, video and product GPM."""
    _emit(reports.funnel(open_runtime(db), shop), csv_out, json_out)


@report_app.command("customers")
def customers_cmd(
    period: Annotated[str, typer.Option(help="day, week or month.")] = "week",
    shop: ShopOption = None,
    csv_out: CsvOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """New vs returning buyers and GMV per period, and the repeat-purchase rate."""
    _emit(reports.customers(open_runtime(db), period, shop), csv_out, json_out)


@report_app.command("live")
def live_cmd(
    shop: ShopOption = None,
    top: Annotated[int, typer.Option(min=1, max=MAX_COUNT, help="Sessions shown.")] = 20,
    csv_out: CsvOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Per live session: GMV in the session and within 7 days, viewers, watch time, conversion, GPM."""
    _emit(reports.live(open_runtime(db), shop, top), csv_out, json_out)


@report_app.command("channels")
def channels_cmd(
    period: Annotated[str, typer.Option(help="day, week or month.")] = "week",
    shop: ShopOption = None,
    csv_out: CsvOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Self-broadcast vs creator GMV per period with growth, and the private-domain share."""
    _emit(reports.channels(open_runtime(db), period, shop), csv_out, json_out)


@report_app.command("shop")
def shop_cmd(
    shop: Annotated[str, typer.Argument(help="Shop id.")],
    days: Annotated[int, typer.Option(min=1, max=3_660, help="Days back from the latest event.")] = 30,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """One shop's compass page (罗盘): GMV and quality GMV, funnel, customers, channels, live sessions."""
    page = reports.compass(open_runtime(db), shop, days)
    if json_out:
        print_json(page)
        return
    console.rule(f"[bold]Compass[/]: shop {shop}, last {days} days")
    print_gmv_summary(GmvSummary(**{k: v for k, v in page["gmv"].items() if k != "gpm"}))  # type: ignore[union-attr]
    for title, rows in (
        ("Funnel", page["funnel"]),
        ("Channels per week", page["channels"]),
        ("Top live sessions", page["live"]),
    ):
        _emit(RowsReport(title, rows), None, False)  # type: ignore[arg-type]
    for name in ("customers", "private_domain", "gpm"):
        console.print(f"{name}: " + ", ".join(f"{k} {_cell(k, v)}" for k, v in page[name].items()))  # type: ignore[union-attr]
