"""``xingqu recommend``: a user's ranked feed (or their videos and live rooms), or every user's feed
as JSON lines, from the latest trained model and the store's current state; in batch each user in
running experiments is scored under their arms' feed configuration and model, as the API serves them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xingqu.cli.common import (
    MAX_YUAN,
    DbOption,
    EngineOption,
    EventsOption,
    JsonOption,
    MasterOption,
    console,
    engine_of,
    finite,
    open_runtime,
    print_json,
)
from xingqu.cli.learn import ModelsDirOption, VersionOption
from xingqu.errors import UserError
from xingqu.outputs import check_output_file, writing_text
from xingqu.pipelines.feed import FeedItem
from xingqu.services.batch import feed_lines
from xingqu.services.feed import feed_cards, feed_service
from xingqu.store import Store


def recommend_cmd(
    user: Annotated[str | None, typer.Argument(help="User id (omit with --all-users).")] = None,
    n: Annotated[int, typer.Option("-n", min=1, max=500, help="How many items.")] = 20,
    max_price: Annotated[
        float | None,
        typer.Option("--max-price", min=0, max=MAX_YUAN, callback=finite, help="Highest price, in yuan."),
    ] = None,
    category: Annotated[
        list[str] | None,
        typer.Option("--category", help="Only this category (level-1 name or path; repeatable)."),
    ] = None,
    brand: Annotated[
        list[str] | None, typer.Option("--brand", help="Only this brand id (repeatable).")
    ] = None,
    content: Annotated[
        bool, typer.Option("--content", help="Videos and live rooms instead of products.")
    ] = False,
    all_users: Annotated[
        bool, typer.Option("--all-users", help="Every user of the model, to --out.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="JSON lines file for --all-users (a Parquet folder with --engine spark)."),
    ] = None,
    version: VersionOption = None,
    db: DbOption = None,
    events: EventsOption = None,
    models_dir: ModelsDirOption = None,
    engine: EngineOption = "local",
    master: MasterOption = "local[2]",
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Processes ranking --all-users on this machine (each loads the model).",
        ),
    ] = 1,
    json_out: JsonOption = False,
) -> None:
    """The ranked feed of USER, with why each item is there; or every user's with --all-users."""
    if all_users == (user is not None):
        raise UserError("give a USER, or --all-users with --out (not both)")
    if all_users and out is None:
        raise UserError("--all-users writes JSON lines: give --out FILE")
    spark = engine_of(engine, master)
    if spark is not None and not all_users:
        raise UserError("--engine spark scores every user: add --all-users and --out FOLDER")
    if out is not None and spark is None:
        check_output_file(out, "--out")
    runtime = open_runtime(db, models_dir, events)
    service = feed_service(runtime, version)
    serving = service.serving()
    model, store = serving.model, runtime.store
    fen = round(max_price * 100) if max_price is not None else None
    filters = {"max_price": fen, "categories": category, "brands": brand}
    if all_users and spark is not None:
        assert model.feed is not None and out is not None
        from xingqu.distributed.scoring import score_all_users

        parts = {
            "db": runtime.settings.db,
            "models_dir": str(runtime.models_dir.resolve()),
            "events": runtime.settings.events,
            "version": model.version,
        }
        ids = model.feed.profiles.users.ids.tolist()
        rows = score_all_users(spark, parts, ids, str(out), n, filters)
        if json_out:
            print_json({"users": len(ids), "rows": rows, "out": str(out), "model": model.version})
        else:
            console.print(f"{len(ids):,} feeds ({rows:,} rows) → {out} (model {model.version}, Spark)")
        return
    if all_users:
        assert model.feed is not None and out is not None
        ids = model.feed.profiles.users.ids.tolist()
        written = 0
        with writing_text(out) as fh:
            for line in feed_lines(runtime, ids, n, version=model.version, filters=filters, workers=workers):
                fh.write(line + "\n")
                written += 1
        if json_out:
            print_json({"users": written, "out": str(out), "model": model.version})
        else:
            console.print(f"{written:,} feeds of up to {n} products → {out} (model {model.version})")
        return
    assert user is not None
    if content:
        _, rows = service.content(user, n)
        if json_out:
            print_json({"user": user, "model": model.version, "items": [c.to_dict() for c in rows]})
            return
        table = Table(title=f"Videos and live rooms for {user}", show_edge=False)
        for col in ("#", "content", "kind", "creator", "products", "why"):
            whole = col in ("#", "content", "kind", "creator")
            table.add_column(col, no_wrap=whole, overflow="fold", ratio=None if whole else 1)
        for k, c in enumerate(rows, 1):
            table.add_row(
                str(k), c.content_id, c.kind, c.creator_id, ", ".join(c.products[:3]), "; ".join(c.reasons)
            )
        console.print(table if rows else "Nothing to show.")
        return
    items = service.recommend(user, n, **filters).items
    if json_out:
        print_json({"user": user, "model": model.version, "items": feed_cards(store, items)})
        return
    print_feed(store, user, items)


def print_feed(store: Store, user: str, items: list[FeedItem]) -> None:
    """A feed as a table that folds at the terminal's width: ids and prices whole, titles and reasons
    wrapped."""
    cards = store.catalogue.product_cards([i.product_id for i in items])
    table = Table(title=f"Feed of {user}", show_edge=False)
    table.add_column("#", no_wrap=True, justify="right")
    table.add_column("product", no_wrap=True)
    table.add_column("title", overflow="fold", ratio=3)
    table.add_column("price", no_wrap=True, justify="right")
    table.add_column("found by", overflow="fold", ratio=1)
    table.add_column("why", overflow="fold", ratio=2)
    for k, it in enumerate(items, 1):
        card = cards.get(it.product_id, {})
        table.add_row(
            str(k),
            it.product_id,
            card.get("title") or "",
            f"¥{card.get('price', 0) / 100:,.2f}",
            ", ".join(it.found_by),
            "; ".join(it.reasons),
        )
    console.print(table if items else "Nothing to show.")
