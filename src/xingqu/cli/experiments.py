"""``xingqu experiments``: define, list, show, stop online experiments and print their reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from xingqu.cli.common import (
    DbOption,
    JsonOption,
    console,
    finite,
    open_runtime,
    print_json,
    wide_console,
)
from xingqu.errors import UserError
from xingqu.experiments.model import FEEDS, METRICS
from xingqu.services import experiments as service

experiments_app = typer.Typer(
    help="Online experiments (A/B tests on live traffic): create, list, show, stop, report.",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="The experiment's name.")]
ActorOption = Annotated[str, typer.Option("--actor", help="Who (recorded in the audit log).")]


def _when(ms: int | None) -> str:
    return "-" if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _time(text: str | None, option: str) -> int | None:
    """An ISO date or time (UTC unless it says otherwise) as UTC ms."""
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"{option}: {text!r} is not an ISO date or time (2026-12-01 or 2026-12-01T08:00)"
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return int(at.timestamp() * 1000)


def _arm(text: str) -> dict[str, Any]:
    """``NAME:SHARE[:feed=F][:model=V]`` as an arm."""
    parts = text.split(":")
    if len(parts) < 2:
        raise UserError(
            f"--arm {text!r}: write NAME:SHARE[:feed=F][:model=V], e.g. treatment:0.5:feed=popular"
        )
    try:
        share = float(parts[1])
    except ValueError:
        raise UserError(f"--arm {text!r}: the share {parts[1]!r} is not a number") from None
    arm: dict[str, Any] = {"name": parts[0], "share": share}
    for extra in parts[2:]:
        key, _, value = extra.partition("=")
        if key not in ("feed", "model") or not value:
            raise UserError(f"--arm {text!r}: {extra!r} is not feed=… or model=…")
        arm[key] = value
    return arm


def _segment(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise UserError(f"--segment {item!r}: write FIELD=VALUE, e.g. crowd=gen_z")
        out[key] = value
    return out


def _guardrails(items: list[str]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        metric, _, tol = item.partition(":")
        try:
            out.append({"metric": metric, "tolerance": float(tol) if tol else 0.05})
        except ValueError:
            raise UserError(f"--guardrail {item!r}: write METRIC[:TOLERANCE], e.g. refund_rate:0.1") from None
    return out


@experiments_app.command("create")
def create(
    name: NameArg,
    arm: Annotated[
        list[str] | None,
        typer.Option(
            "--arm",
            help=f"NAME:SHARE[:feed=F][:model=V], the first is the control; feeds: {', '.join(FEEDS)}.",
        ),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="A JSON definition (the API's body); options override it.")
    ] = None,
    layer: Annotated[str | None, typer.Option(help="Layer: one arm per layer per user.")] = None,
    share: Annotated[
        float | None,
        typer.Option(min=0.0001, max=1.0, callback=finite, help="Share of the layer's (segment's) users."),
    ] = None,
    segment: Annotated[
        list[str] | None, typer.Option("--segment", help="FIELD=VALUE of the users' profile (crowd=gen_z).")
    ] = None,
    start: Annotated[str | None, typer.Option(help="Start (ISO, UTC); default now.")] = None,
    end: Annotated[str | None, typer.Option(help="End (ISO, UTC); default until stopped.")] = None,
    metric: Annotated[
        str | None, typer.Option("--metric", help="Primary metric (quality_gpm, gpm, ctr).")
    ] = None,
    guardrail: Annotated[
        list[str] | None,
        typer.Option(
            "--guardrail", help=f"METRIC[:TOLERANCE] (replaces the defaults): {', '.join(METRICS)}."
        ),
    ] = None,
    planned_users: Annotated[
        int | None, typer.Option(min=10, max=10**9, help="Users per arm before a verdict (fixed horizon).")
    ] = None,
    analysis: Annotated[
        str | None,
        typer.Option(
            "--analysis",
            help="fixed_horizon (default): one test at the planned sample; sequential: an always-valid "
            "test (mSPRT) that may call a winner at any look.",
        ),
    ] = None,
    tau2: Annotated[
        float | None,
        typer.Option(
            "--tau2",
            min=1e-9,
            max=100.0,
            callback=finite,
            help="sequential: mixture variance of the relative effect (0.01).",
        ),
    ] = None,
    window_h: Annotated[
        float | None,
        typer.Option("--window-h", min=0.01, max=720.0, callback=finite, help="Attribution window, hours."),
    ] = None,
    description: Annotated[str | None, typer.Option(help="What is tested and why (audited).")] = None,
    db: DbOption = None,
    actor: ActorOption = "cli",
    json_out: JsonOption = False,
) -> None:
    """Define an experiment; it takes traffic from its start."""
    data: dict[str, Any] = {}
    if file is not None:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"--file {file}: {exc}") from None
        if not isinstance(data, dict):
            raise UserError(f"--file {file}: a JSON object is expected")
    data["name"] = name
    if arm:
        data["arms"] = [_arm(a) for a in arm]
    if "arms" not in data:
        raise UserError("give the arms: --arm control:0.5 --arm treatment:0.5:feed=popular (or --file)")
    population = dict(data.get("population") or {})
    if share is not None:
        population["share"] = share
    if segment:
        population["segment"] = _segment(segment)
    if population:
        data["population"] = population
    given = {
        "layer": layer,
        "start_ms": _time(start, "--start"),
        "end_ms": _time(end, "--end"),
        "primary_metric": metric,
        "planned_users": planned_users,
        "analysis": analysis,
        "sequential_tau2": tau2,
        "attribution_window_h": window_h,
        "description": description,
    }
    data.update({k: v for k, v in given.items() if v is not None})
    if guardrail:
        data["guardrails"] = _guardrails(guardrail)
    runtime = open_runtime(db)
    out = service.create_experiment(runtime, data, actor)
    if json_out:
        print_json(out)
        return
    console.print(f"[bold]{out['name']}[/] created ({out['status']}), layer {out['layer']}")
    _print_definition(out)


def _print_definition(e: dict[str, Any]) -> None:
    arms = ", ".join(
        f"{a['name']} {a['share']:.0%} (feed {a['feed']}{', model ' + a['model'] if a['model'] else ''})"
        for a in e["arms"]
    )
    pop = e["population"]
    seg = ", ".join(f"{k}={v}" for k, v in pop["segment"].items()) or "all users"
    console.print(f"  arms: {arms}")
    console.print(
        f"  population: {seg}, {pop['share']:.0%} of the layer; "
        f"window {_when(e['start_ms'])} → {_when(e['end_ms'])}"
    )
    guards = ", ".join(f"{g['metric']} ±{g['tolerance']:.0%}" for g in e["guardrails"]) or "none"
    console.print(f"  primary metric: {e['primary_metric']}; guardrails: {guards}")
    console.print(
        f"  planned users per arm: {e['planned_users']:,}; attribution window {e['attribution_window_h']:g} h"
    )


@experiments_app.command("list")
def list_(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Every experiment and its state."""
    found = service.list_experiments(open_runtime(db))
    if json_out:
        print_json(found)
        return
    if not found:
        console.print("No experiments yet: 'xingqu experiments create NAME --arm … --arm …'.")
        return
    table = Table(title="Experiments", show_edge=False)
    for col in ("name", "layer", "status", "arms", "start (UTC)", "end (UTC)", "metric"):
        table.add_column(col, no_wrap=col in ("name", "status"))
    for e in found:
        arms = ", ".join(f"{a['name']} {a['share']:.0%}" for a in e["arms"])
        table.add_row(
            e["name"],
            e["layer"],
            e["status"],
            arms,
            _when(e["start_ms"]),
            _when(e["end_ms"]),
            e["primary_metric"],
        )
    wide_console(110).print(table)


@experiments_app.command("show")
def show(name: NameArg, db: DbOption = None, json_out: JsonOption = False) -> None:
    """One experiment: its definition, state, and users and responses per arm so far."""
    e = service.show_experiment(open_runtime(db), name)
    if json_out:
        print_json(e)
        return
    console.print(f"[bold]{e['name']}[/]: {e['status']}, layer {e['layer']} slice {e['layer_range']}")
    if e["description"]:
        console.print(f"  {e['description']}")
    _print_definition(e)
    for x in e["exposure"]:
        console.print(f"  {x['arm']}: {x['users']:,} users, {x['responses']:,} feed responses")
    if e["stopped_ms"]:
        console.print(f"  stopped {_when(e['stopped_ms'])} by {e['stopped_by']}: {e['stop_reason']}")


@experiments_app.command("stop")
def stop(
    name: NameArg,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the audit log).")],
    db: DbOption = None,
    actor: ActorOption = "cli",
    json_out: JsonOption = False,
) -> None:
    """Stop an experiment: its users get the platform's feed from the next request of every process."""
    e = service.stop_experiment(open_runtime(db), name, reason, actor)
    if json_out:
        print_json(e)
    else:
        console.print(f"{e['name']}: stopped ({reason})")


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:+.1%}"


def _val(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


@experiments_app.command("report")
def report_cmd(name: NameArg, db: DbOption = None, json_out: JsonOption = False) -> None:
    """Per arm the primary metric and guardrails with 95 % intervals, lifts, CUPED, MDE, the
    sample-ratio check and a verdict that calls no winner before the planned sample."""
    r = service.report(open_runtime(db), name)
    if json_out:
        print_json(r)
        return
    out = wide_console(120)
    out.print(
        f"[bold]{r['experiment']}[/] ({r['status']}) — primary metric {r['primary_metric']}: "
        f"{r['primary_metric_means']}"
    )
    out.print(f"Method: {r['method']}.")
    srm = r["srm"]
    if srm["mismatch"]:
        out.print(f"[bold red]SAMPLE RATIO MISMATCH[/]: χ² = {srm['chi2']:.1f}, p = {srm['p']:.2g}")
    elif srm["p"] is not None:
        out.print(f"Sample ratio check: χ² = {srm['chi2']:.2f}, p = {srm['p']:.3f} (no mismatch)")
    table = Table(show_edge=False)
    for col in (
        "arm",
        "users",
        "impressions",
        r["primary_metric"],
        "95 % interval",
        "lift",
        "lift 95 %",
        "MDE",
        "CUPED width",
    ):
        table.add_column(col, justify="right" if col != "arm" else "left", no_wrap=True)
    for a in r["arms"]:
        p = a["primary"]
        lf = p.get("lift") or {}
        table.add_row(
            a["arm"],
            f"{a['users']:,}",
            f"{a['impressions']:,}",
            _val(p["value"]),
            f"{_val(p['low'])} – {_val(p['high'])}",
            _pct(lf.get("value")),
            f"{_pct(lf.get('low'))} – {_pct(lf.get('high'))}" if lf else "",
            "" if p.get("mde") is None else f"{p['mde']:.1%}",
            "" if p.get("cuped_width_ratio") is None else f"{p['cuped_width_ratio']:.2f}",
        )
    out.print(table)
    for a in r["arms"][1:]:
        s = a["primary"].get("sequential")
        if s is not None:
            out.print(
                f"{a['arm']}: always-valid p = {_val(s['p'], 4)}; "
                f"lift 95 % confidence sequence {_pct(s['lift_low'])} – {_pct(s['lift_high'])} "
                "(valid at every look)"
            )
    guards = Table(title="Guardrails (lift over the control; tolerance of harm)", show_edge=False)
    for col in ("arm", "metric", "control", "arm value", "lift", "lift 95 %", "tolerance", "status"):
        guards.add_column(col, no_wrap=True)
    control = r["arms"][0]["metrics"]
    for a in r["arms"][1:]:
        for g in a.get("guardrails", []):
            lf = g["lift"] or {}
            guards.add_row(
                a["arm"],
                g["metric"],
                _val(control[g["metric"]]["value"], 4),
                _val(a["metrics"][g["metric"]]["value"], 4),
                _pct(lf.get("value")),
                f"{_pct(lf.get('low'))} – {_pct(lf.get('high'))}",
                f"{g['tolerance']:.0%}",
                g["status"],
            )
    out.print(guards)
    out.print(f"[bold]Verdict[/] ({r['verdict']['code']}): {r['verdict']['text']}")
