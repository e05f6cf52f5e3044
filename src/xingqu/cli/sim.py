"""``xingqu simulate`` and ``xingqu sim ab``: the marketplace simulator from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from xingqu.cli.common import (
    MAX_SEED,
    JsonOption,
    QuietOption,
    console,
    err_console,
    print_json,
    wide_console,
)
from xingqu.errors import ConfigError
from xingqu.outputs import check_output_file, check_output_folder, writing_text
from xingqu.sim.ab import BUILTIN, METRICS, ABReport, run_ab
from xingqu.sim.config import PRESETS, SimConfig, preset
from xingqu.sim.run import SimReport, simulate

sim_app = typer.Typer(
    help="Simulator tools: closed-loop A/B comparisons of ranking policies.", no_args_is_help=True
)

PresetOption = Annotated[str, typer.Option("--preset", help=f"Base configuration: {', '.join(PRESETS)}.")]


def _config(name: str, **overrides: object) -> SimConfig:
    try:
        return preset(name, **overrides)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _progress(enabled: bool, label: str) -> Progress:
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not enabled,
    )


def run_simulation(cfg: SimConfig, out: Path, show_progress: bool) -> SimReport:
    """Simulate with a day-by-day progress bar."""
    with _progress(show_progress, "simulating days") as bar:
        task = bar.add_task("days", total=cfg.days)
        return simulate(cfg, out, progress=lambda done, _total: bar.update(task, completed=done))


def print_sim_report(report: SimReport) -> None:
    table = Table(title="Simulated marketplace", show_edge=False, min_width=30)
    table.add_column("records")
    table.add_column("rows", justify="right")
    for kind, n in report.records.items():
        table.add_row(kind, f"{n:,}")
    table.add_row("events", f"{report.events:,}")
    console.print(table)
    console.print(f"Written to {report.out}")
    console.print(
        f"Paid GMV ¥{report.paid_gmv_fen / 100:,.2f}, refunded ¥{report.refunded_fen / 100:,.2f}; "
        f"{report.events:,} events in {report.seconds:.1f} s ({report.events_per_s:,.0f} events/s)."
    )


def simulate_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder for the catalog, events-*.parquet and truth/.")],
    preset_name: PresetOption = "demo",
    users: Annotated[int | None, typer.Option(min=1, max=100_000_000, help="Consumers.")] = None,
    products: Annotated[int | None, typer.Option(min=1, max=10_000_000, help="Products.")] = None,
    creators: Annotated[
        int | None, typer.Option(min=1, max=1_000_000, help="Creators and shop accounts.")
    ] = None,
    days: Annotated[int | None, typer.Option(min=1, max=3_660, help="Days of behaviour.")] = None,
    seed: Annotated[
        int | None, typer.Option(min=0, max=MAX_SEED, help="Random seed: same seed, same files.")
    ] = None,
    json_out: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Simulate a marketplace and write it in xingqu's import formats, with its ground truth apart."""
    check_output_folder(out, "--out")
    cfg = _config(preset_name, users=users, products=products, creators=creators, days=days, seed=seed)
    report = run_simulation(cfg, out, not (quiet or json_out))
    if json_out:
        print_json(
            {
                "out": report.out,
                "records": report.records,
                "events": report.events,
                "events_by_type": report.events_by_type,
                "paid_gmv_fen": report.paid_gmv_fen,
                "refunded_fen": report.refunded_fen,
                "seconds": round(report.seconds, 3),
            }
        )
    elif not quiet:
        print_sim_report(report)


def print_ab(report: ABReport) -> None:
    table = Table(title=f"Closed-loop A/B over {len(report.seeds)} seeds (mean ± 95% CI)", show_edge=False)
    table.add_column("metric", no_wrap=True)
    for arm in report.arms:
        table.add_column(arm, justify="right", no_wrap=True)
    for m in METRICS:
        cells = []
        for arm in report.arms:
            s = report.arms[arm][m]
            cells.append(f"{s.mean:.3f} ± {s.ci:.3f}" if abs(s.mean) < 10 else f"{s.mean:,.1f} ± {s.ci:,.1f}")
        table.add_row(m, *cells)
    wide_console(40 + 26 * len(report.arms)).print(table)


@sim_app.command("ab")
def ab_cmd(
    preset_name: PresetOption = "demo",
    policy: Annotated[
        list[str] | None, typer.Option("--policy", help=f"Arms ({', '.join(BUILTIN)}).")
    ] = None,
    seeds: Annotated[int, typer.Option(min=1, max=1_000, help="Seeds (worlds) to average over.")] = 5,
    warmup: Annotated[int, typer.Option(min=1, max=366, help="Organic days before the arms start.")] = 14,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days each arm chooses the impressions.")] = 14,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="First seed.")] = 42,
    out: Annotated[Path | None, typer.Option(help="Also write the report as JSON here.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Compare ranking policies in closed loop: quality GMV, GPM, budget fit, coverage…"""
    names = policy or list(BUILTIN)
    unknown = [n for n in names if n not in BUILTIN]
    if unknown:
        raise ConfigError(f"unknown policy {', '.join(unknown)}; choose from {', '.join(BUILTIN)}")
    if out is not None:
        check_output_file(out, "--out")
    cfg = _config(preset_name, seed=seed)
    with _progress(not json_out, "seeds") as bar:
        task = bar.add_task("seeds", total=seeds)
        report = run_ab(
            cfg,
            {n: BUILTIN[n] for n in names},
            seeds=seeds,
            warmup_days=warmup,
            test_days=days,
            progress=lambda done, _t: bar.update(task, completed=done),
        )
    if out is not None:
        import json

        with writing_text(out) as fh:
            fh.write(json.dumps(report.to_dict(), indent=1))
    if json_out:
        print_json(report.to_dict())
    else:
        print_ab(report)


@sim_app.command("live")
def live_cmd(
    url: Annotated[str, typer.Option("--url", envvar="XINGQU_URL", help="The running server's base URL.")],
    key: Annotated[str, typer.Option("--key", envvar="XINGQU_KEY", help="An app or admin API key.")],
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="Count the responses of this experiment's arms.")
    ] = None,
    preset_name: PresetOption = "demo",
    users: Annotated[
        int | None, typer.Option(min=1, max=100_000_000, help="Consumers (as simulated).")
    ] = None,
    products: Annotated[
        int | None, typer.Option(min=1, max=10_000_000, help="Products (as simulated).")
    ] = None,
    creators: Annotated[
        int | None, typer.Option(min=1, max=1_000_000, help="Creators (as simulated).")
    ] = None,
    days: Annotated[int | None, typer.Option(min=1, max=3_660, help="Days (as simulated).")] = None,
    seed: Annotated[int | None, typer.Option(min=0, max=MAX_SEED, help="Seed (as simulated).")] = None,
    rounds: Annotated[int, typer.Option(min=1, max=1_000, help="Rounds of feed requests.")] = 3,
    per_round: Annotated[int, typer.Option("--per-round", min=1, max=1_000_000, help="Users a round.")] = 200,
    slots: Annotated[int, typer.Option(min=1, max=100, help="Products per feed request.")] = 10,
    json_out: JsonOption = False,
) -> None:
    """Simulated users on a running server: feeds asked through the API, their impressions, clicks,
    orders and refunds posted back with the responses' request ids (give the simulation's options)."""
    from xingqu.client import ApiError, Client
    from xingqu.sim.live import run_live

    if experiment is not None:
        from xingqu.experiments.model import check_name

        check_name(experiment)
    cfg = _config(preset_name, users=users, products=products, creators=creators, days=days, seed=seed)
    with Client(url, key, retries=3) as client, _progress(not json_out, "rounds") as bar:
        if experiment is not None:
            try:  # an unknown experiment is an error before any traffic (when the key may ask)
                client.experiment(experiment)
            except ApiError as exc:
                if exc.status != 403:
                    raise
        task = bar.add_task("rounds", total=rounds)
        report = run_live(
            client,
            cfg,
            experiment,
            rounds=rounds,
            users_per_round=per_round,
            slots=slots,
            seed=cfg.seed,
            progress=lambda done, _t: bar.update(task, completed=done),
        )
    if json_out:
        print_json(report.to_dict())
    else:
        arms = ", ".join(f"{a} {n:,}" for a, n in sorted(report.arms.items())) or "none"
        console.print(
            f"{report.requests:,} feed requests by {report.users:,} users, {report.events:,} events posted "
            f"in {report.seconds:.1f} s; responses per arm: {arms}"
        )
