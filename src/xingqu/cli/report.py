"""``xingqu report …``: merchant and operator reports from the store."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xingqu.analytics import gmv_by_period, gmv_summary, load_orders
from xingqu.analytics.chart import line_chart
from xingqu.analytics.gmv import GmvSummary, impressions_by_period
from xingqu.cli.common import DbOption, JsonOption, console, open_store, print_json, wide_console

report_app = typer.Typer(
    help="Reports: GMV and quality GMV (more reports build on the same order facts).", no_args_is_help=True
)

MONEY = ("gmv_placed", "gmv_paid", "refunded", "net_gmv", "violating", "quality_gmv", "gap")


def _yuan(fen: object) -> str:
    return f"¥{float(fen) / 100:,.2f}"  # type: ignore[arg-type]


@report_app.command("gmv")
def gmv_cmd(
    period: Annotated[str, typer.Option(help="day, week or month (UTC+8 calendar).")] = "day",
    by_channel: Annotated[
        bool, typer.Option("--by-channel", help="Split self-broadcast / creator / other.")
    ] = False,
    shop: Annotated[str | None, typer.Option(help="Only this shop's orders.")] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write rows as CSV ('-' for stdout).")] = None,
    chart: Annotated[
        Path | None, typer.Option(help="Chart GMV paid and quality GMV over time (.png/.svg).")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """GMV placed, paid, refunded, net and quality GMV per period (and channel), with the gap."""
    if period not in ("day", "week", "month"):
        raise typer.BadParameter("use day, week or month", param_hint="--period")
    store = open_store(db)
    store.require_ready()
    orders = load_orders(store, shop)
    views = impressions_by_period(store, period, shop_id=shop)  # type: ignore[arg-type]
    rows = gmv_by_period(orders, period, by_channel, views)  # type: ignore[arg-type]
    total = gmv_summary(orders, sum(views.values()))
    if csv_out is not None:
        fh = sys.stdout if str(csv_out) == "-" else csv_out.open("w", newline="", encoding="utf-8")
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["period"])
        writer.writeheader()
        writer.writerows(rows)
        if fh is not sys.stdout:
            fh.close()
    if chart is not None:
        periods = sorted({str(r["period"]) for r in rows})
        series: dict[str, list[float]] = {}
        for name in ("gmv_paid", "quality_gmv"):
            for ch in sorted({str(r.get("channel", "all")) for r in rows}):
                vals = {
                    str(r["period"]): float(r[name]) / 100 for r in rows if str(r.get("channel", "all")) == ch
                }
                series[f"{name} ({ch})" if by_channel else name] = [vals.get(p, 0.0) for p in periods]
        line_chart(chart, f"GMV paid and quality GMV per {period}", periods, series, "yuan")
    if json_out:
        print_json({"period": period, "shop": shop, "total": total.to_dict(), "rows": rows})
    elif csv_out is None or str(csv_out) != "-":
        print_gmv_table(rows, period, by_channel)
        print_gmv_summary(total)


def print_gmv_table(rows: list[dict[str, object]], period: str, by_channel: bool) -> None:
    table = Table(title=f"GMV per {period}", show_edge=False)
    cols = ["period", *(["channel"] if by_channel else []), "orders", *MONEY, "refund_rate", "gpm"]
    for col in cols:
        table.add_column(col, justify="left" if col in ("period", "channel") else "right", no_wrap=True)
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
    wide_console(170 if by_channel else 160).print(table)


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
