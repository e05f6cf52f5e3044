"""``xingqu screen``: listing screening before go-live, from the command line."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xingqu.cli.common import MAX_COUNT, DbOption, JsonOption, console, err_console, open_runtime, print_json
from xingqu.errors import HistoryChangedError, NotFoundError
from xingqu.governance.points import MAX_PENALTY_POINTS, Standing
from xingqu.ingest.listings import read_listings
from xingqu.outputs import check_output_file, writing_text
from xingqu.services import governance, monitoring, screening


def screen_cmd(
    path: Annotated[
        Path,
        typer.Argument(
            help="Listings as JSON Lines: id, shop, title, description, category, "
            "brand, price, reference_price, qualifications."
        ),
    ],
    out: Annotated[Path | None, typer.Option("--out", help="Write decisions here instead of stdout.")] = None,
    rules: Annotated[Path | None, typer.Option(help="A rule set (TOML) instead of the built-in one.")] = None,
    queue: Annotated[
        bool, typer.Option("--queue", help="Put listings decided 'review' in the review queue.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Screen listings: one JSON line per listing with its decision (approve/review/reject) and reasons."""
    if out is not None:
        check_output_file(out, "--out")
    session = screening.start_screening(open_runtime(db), rules, queue)
    if not path.exists():
        raise NotFoundError(f"{path}: no such file")
    with contextlib.ExitStack() as stack:
        fh = stack.enter_context(writing_text(out)) if out else sys.stdout
        for _lineno, listing in read_listings(path):
            fh.write(json.dumps(session.screen(listing).to_dict(), ensure_ascii=False) + "\n")
    summary = session.finish()
    if summary.queued is not None:
        err_console.print(f"{summary.queued:,} listings queued for review")
    err_console.print(
        f"screened {sum(summary.counts.values()):,} listings with rules {summary.ruleset}: "
        + ", ".join(f"{k} {v:,}" for k, v in summary.counts.items())
    )


ReasonOption = Annotated[str, typer.Option("--reason", help="Why (recorded in the audit log).")]
ActorOption = Annotated[str, typer.Option("--actor", help="Who (recorded in the audit log).")]


def takedown_cmd(
    product: Annotated[str, typer.Argument(help="Product id.")],
    reason: ReasonOption,
    actor: ActorOption = "cli",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Take a product down (下架): out of every output from the next request on, audited."""
    _status_change(governance.take_down, product, reason, actor, db, json_out)


def reinstate_cmd(
    product: Annotated[str, typer.Argument(help="Product id.")],
    reason: ReasonOption,
    actor: ActorOption = "cli",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """List a taken-down or rejected product again, audited."""
    _status_change(governance.reinstate, product, reason, actor, db, json_out)


def _status_change(
    action: Callable[..., dict[str, str]],
    product: str,
    reason: str,
    actor: str,
    db: str | None,
    json_out: bool,
) -> None:
    change = action(open_runtime(db), product, reason=reason, actor=actor)
    if json_out:
        print_json(change)
    else:
        console.print(f"{change['product']}: {change['before']} → {change['after']} ({reason})")


audit_app = typer.Typer(help="The audit log of governance changes, and the check of its hash chain.")


@audit_app.callback(invoke_without_command=True)
def audit_cmd(
    ctx: typer.Context,
    subject: Annotated[str | None, typer.Option(help="Only entries about this id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_COUNT, help="Newest entries shown.")] = 50,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """The audit log of governance changes, newest first (it cannot be edited); 'audit verify' checks it."""
    if ctx.invoked_subcommand is not None:
        return
    rows = governance.audit_log(open_runtime(db), subject, limit)
    if json_out:
        print_json(rows)
        return
    table = Table(title="Audit log", show_edge=False)
    for col in ("seq", "at", "actor", "action", "subject", "before → after", "reason"):
        table.add_column(col)
    for r in rows:
        at = datetime.fromtimestamp(r["at"] / 1000, tz=UTC).isoformat(timespec="seconds")
        table.add_row(
            str(r["seq"]),
            at,
            r["actor"],
            r["action"],
            f"{r['subject_kind']} {r['subject_id']}",
            f"{json.dumps(r['before'], ensure_ascii=False)} → {json.dumps(r['after'], ensure_ascii=False)}",
            r["reason"],
        )
    console.print(table)


@audit_app.command("verify")
def audit_verify(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Check the hash chains of the audit log and the penalty ledger; name the first entry that breaks.

    Exit 0 when both are intact, 1 when history was changed. Keep the printed head hashes elsewhere:
    a later run showing other heads for the same entries means the chain itself was rewritten."""
    reports = governance.verify_audit(open_runtime(db))
    if json_out:
        print_json({"ok": all(r.ok for r in reports), "tables": [r.to_dict() for r in reports]})
    else:
        for r in reports:
            state = "intact" if r.ok else f"BROKEN at seq {r.broken_seq}: {r.problem}"
            console.print(f"{r.table}: {r.entries:,} entries checked, {state}; head {r.head}", soft_wrap=True)
    broken = [r for r in reports if not r.ok]
    if broken:
        first = broken[0]
        raise HistoryChangedError(
            f"{first.table} entry seq {first.broken_seq} does not match the hash chain: {first.problem}"
        )


review_app = typer.Typer(help="The review queue of listings screened to 'review'.", no_args_is_help=True)


@review_app.command("list")
def review_list(
    status: Annotated[str, typer.Option(help="open, approved, rejected or all.")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=MAX_COUNT)] = 100,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Queue entries, oldest first."""
    rows = screening.review_queue(open_runtime(db), None if status == "all" else status, limit)
    if json_out:
        print_json(rows)
        return
    table = Table(title=f"Review queue ({status})", show_edge=False)
    for col in ("listing", "shop", "title", "reasons", "status"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["listing_id"],
            r["shop_id"] or "",
            r["title"] or "",
            "; ".join(f"{x['group']}: {x['term'] or x['message']}" for x in r["reasons"]),
            r["status"],
        )
    console.print(table)


@review_app.command("approve")
def review_approve(
    listing: Annotated[str, typer.Argument(help="Listing id.")],
    note: Annotated[str, typer.Option("--note", help="Why (audited).")],
    actor: ActorOption = "cli",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Approve a listing: a product of that id is listed."""
    _resolve(listing, True, note, actor, db, json_out)


@review_app.command("reject")
def review_reject(
    listing: Annotated[str, typer.Argument(help="Listing id.")],
    note: Annotated[str, typer.Option("--note", help="Why (audited).")],
    actor: ActorOption = "cli",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Reject a listing: a product of that id is rejected."""
    _resolve(listing, False, note, actor, db, json_out)


def _resolve(listing: str, approve: bool, note: str, actor: str, db: str | None, json_out: bool) -> None:
    result = governance.resolve_review(open_runtime(db), listing, approve, note=note, actor=actor)
    if json_out:
        print_json(result)
    else:
        console.print(
            f"{listing}: review {result['review']}"
            + (f", product now {result['product_status']}" if result["product_status"] else "")
        )


points_app = typer.Typer(help="Penalty points of shops on a 12-month window.", no_args_is_help=True)


@points_app.command("give")
def points_give(
    shop: Annotated[str, typer.Argument(help="Shop id.")],
    violation: Annotated[str, typer.Argument(help="Violation, e.g. counterfeit, prohibited, price_fraud.")],
    reason: ReasonOption,
    points: Annotated[
        int | None,
        typer.Option(min=0, max=MAX_PENALTY_POINTS, help="Points instead of the rule set's default."),
    ] = None,
    product: Annotated[str | None, typer.Option(help="The product concerned.")] = None,
    actor: ActorOption = "cli",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Give a shop penalty points; reaching a threshold warns, restricts or suspends it (audited)."""
    result = governance.penalise(
        open_runtime(db), shop, violation, reason=reason, actor=actor, points=points, product_id=product
    )
    _print_standing(result, json_out)


@points_app.command("show")
def points_show(
    shop: Annotated[str, typer.Argument(help="Shop id.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """A shop's points within the window, the action they call for, and its penalties."""
    _print_standing(governance.shop_standing(open_runtime(db), shop), json_out)


def _print_standing(s: Standing, json_out: bool) -> None:
    if json_out:
        print_json(s.to_dict())
        return
    console.print(f"shop {s.shop}: {s.points} points in the window, action {s.action}, status {s.status}")
    table = Table(show_edge=False)
    for col in ("at", "violation", "points", "product", "reason", "actor"):
        table.add_column(col)
    for e in s.penalties:
        when = datetime.fromtimestamp(e["at"] / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
        table.add_row(when, e["violation"], str(e["points"]), e["subject_id"] or "", e["reason"], e["actor"])
    console.print(table)


stores_app = typer.Typer(
    help="Store monitoring: experience scores and flags with evidence.", no_args_is_help=True
)


@stores_app.command("check")
def stores_check(
    update_scores: Annotated[
        bool, typer.Option("--update-scores", help="Write the experience scores to the shops (audited).")
    ] = False,
    window_days: Annotated[int, typer.Option(min=1, max=366, help="Days of each sliding window.")] = 7,
    actor: ActorOption = "cli",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Flag refund spikes, order brushing and review collapses, and score every shop's experience."""
    run = monitoring.check(open_runtime(db), window_days, update_scores, actor)
    report, changed = run.report, run.scores_written
    if json_out:
        print_json(run.to_dict())
        return
    table = Table(title="Flagged shops", show_edge=False)
    for col in ("shop", "flag", "evidence"):
        table.add_column(col, overflow="fold")
    for f in report.flags:
        shown = {k: v for k, v in f.evidence.items() if k != "example_orders"}
        table.add_row(f.shop, f.kind, ", ".join(f"{k} {v}" for k, v in shown.items()))
    console.print(table if report.flags else "No shop flagged.")
    small = report.too_small
    if small:
        console.print(
            f"{len(small):,} of {len(report.busiest):,} shops too small to judge for refund spikes: "
            f"fewer than {report.min_orders} paid orders in every {window_days}-day window ("
            + ", ".join(small[:10])
            + (f", … {len(small) - 10:,} more" if len(small) > 10 else "")
            + ")"
        )
    worst = sorted(report.scores.items(), key=lambda kv: kv[1]["score"])[:10]
    scores = Table(title="Lowest experience scores (last 90 days)", show_edge=False)
    for col in ("shop", "score", "product", "logistics", "service"):
        scores.add_column(col, justify="left" if col == "shop" else "right")
    for shop, parts in worst:
        scores.add_row(shop, *(f"{parts[k]:.2f}" for k in ("score", "product", "logistics", "service")))
    console.print(scores)
    if update_scores:
        console.print(f"{changed:,} experience scores written")
