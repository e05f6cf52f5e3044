"""``xingqu report …``: merchant and operator reports from the store."""

from __future__ import annotations

import contextlib
import csv
import sys
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from xingqu.analytics import gmv_report, load_orders
from xingqu.analytics.channels import channel_growth, private_domain_share
from xingqu.analytics.chart import CHART_SUFFIXES, line_chart
from xingqu.analytics.compass import compass_page
from xingqu.analytics.customers import customer_metrics
from xingqu.analytics.funnel import event_counts, funnel_by_surface, gpm
from xingqu.analytics.gmv import SLICES, GmvSummary, period_of
from xingqu.analytics.live import live_sessions
from xingqu.cli.common import MAX_COUNT, DbOption, JsonOption, console, open_store, print_json, wide_console
from xingqu.outputs import check_output_file, writing_text
from xingqu.store import Store

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
    store = _open(db, shop)
    rows, total = gmv_report(store, period, by, shop, top=top)  # type: ignore[arg-type]
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
        print_json({"period": period, "shop": shop, "total": total.to_dict(), "rows": rows})
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


def _open(db: str | None, shop: str | None) -> Store:
    """The ready store, once ``shop`` (when given) is known to it."""
    store = open_store(db)
    if shop is not None:
        store.catalogue.require_known("shops", shop)
    return store


def _emit(
    rows: list[dict[str, object]],
    title: str,
    csv_out: Path | None,
    json_out: bool,
    extra: dict[str, object] | None = None,
) -> None:
    """Rows as a Rich table, CSV (file or '-') or JSON: the shared tail of every report."""
    check_csv(csv_out)
    if csv_out is not None:
        _write_csv(rows, csv_out)
    if json_out:
        print_json({**(extra or {}), "rows": rows})
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
    for k, v in (extra or {}).items():
        console.print(f"{k}: {_cell(k, v)}")


def _write_csv(rows: list[dict[str, object]], csv_out: Path) -> None:
    """Rows as CSV into a file (replaced whole, only once written), or to standard output for '-'."""
    with contextlib.ExitStack() as stack:
        fh = sys.stdout if str(csv_out) == "-" else stack.enter_context(writing_text(csv_out, newline=""))
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["empty"])
        writer.writeheader()
        writer.writerows(rows)


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


@report_app.command("funnel")
def funnel_cmd(
    shop: ShopOption = None, csv_out: CsvOption = None, db: DbOption = None, json_out: JsonOption = False
) -> None:
    """Impression → click → order → pay by surface, with live, video and product GPM."""
    store = _open(db, shop)
    counts = event_counts(store, shop)
    extra = gpm(store, counts, shop)
    _emit(funnel_by_surface(counts), "Funnel by surface", csv_out, json_out, dict(extra))


@report_app.command("customers")
def customers_cmd(
    period: Annotated[str, typer.Option(help="day, week or month.")] = "week",
    shop: ShopOption = None,
    csv_out: CsvOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """New vs returning buyers and GMV per period, and the repeat-purchase rate."""
    store = _open(db, shop)
    orders = load_orders(store, shop)
    paid = orders.paid > 0
    keys = period_of(np.where(paid, orders.paid_ts, orders.placed_ts), period)  # type: ignore[arg-type]
    rows = [{"period": k, **customer_metrics(orders, keys == k)} for k in sorted(set(keys[paid].tolist()))]
    _emit(rows, f"Customers per {period}", csv_out, json_out)


@report_app.command("live")
def live_cmd(
    shop: ShopOption = None,
    top: Annotated[int, typer.Option(min=1, max=MAX_COUNT, help="Sessions shown.")] = 20,
    csv_out: CsvOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Per live session: GMV in the session and within 7 days, viewers, watch time, conversion, GPM."""
    store = _open(db, shop)
    rows = live_sessions(store, load_orders(store, shop), shop)[:top]
    for r in rows:
        r.pop("start_ms")
    _emit(rows, "Live sessions (best-selling first)", csv_out, json_out)


@report_app.command("channels")
def channels_cmd(
    period: Annotated[str, typer.Option(help="day, week or month.")] = "week",
    shop: ShopOption = None,
    csv_out: CsvOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Self-broadcast vs creator GMV per period with growth, and the private-domain share."""
    store = _open(db, shop)
    rows = channel_growth(store, period, shop)  # type: ignore[arg-type]
    share = private_domain_share(store, load_orders(store, shop))
    _emit(rows, f"Channels per {period}", csv_out, json_out, dict(share))


@report_app.command("shop")
def shop_cmd(
    shop: Annotated[str, typer.Argument(help="Shop id.")],
    days: Annotated[int, typer.Option(min=1, max=3_660, help="Days back from the latest event.")] = 30,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """One shop's compass page (罗盘): GMV and quality GMV, funnel, customers, channels, live sessions."""
    store = _open(db, shop)
    page = compass_page(store, shop, days)
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
        _emit(rows, title, None, False)  # type: ignore[arg-type]
    for name in ("customers", "private_domain", "gpm"):
        console.print(f"{name}: " + ", ".join(f"{k} {_cell(k, v)}" for k, v in page[name].items()))  # type: ignore[union-attr]
