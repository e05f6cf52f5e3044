"""``xingqu recommend``: a user's ranked feed (or their videos and live rooms), or every user's feed
as JSON lines, from the latest trained model and the store's current state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xingqu.cli.common import MAX_YUAN, DbOption, JsonOption, console, finite, open_store, print_json
from xingqu.cli.learn import ModelsDirOption, VersionOption, _models_dir
from xingqu.errors import NotFoundError, UserError
from xingqu.outputs import check_output_file, writing_text
from xingqu.pipelines.feed import Feed, FeedItem
from xingqu.store import Store
from xingqu.training import TrainedModel, load_trained


def serving_feed(model: TrainedModel, store: Store) -> Feed:
    """The feed of a trained model over the store: servability asked at every call (takedowns act at
    once), and the events logged since training read from the store (real time)."""
    if model.feed is None:
        raise UserError(f"model {model.version} has no feed; train again with this version of xingqu")
    m = model.feed

    def recent(users: list[str]):
        return store.events_since(m.trained_until_ms, None if len(users) > 2_000 else users)

    return Feed(m, store.servable_products, recent_source=recent)


def _known(model: TrainedModel, store: Store, user: str) -> None:
    """A user registered after training is served from their profile; an unknown id is an error."""
    assert model.feed is not None
    if user in model.feed.user_segments or model.feed.profiles.users.index.get(user) is not None:
        return
    row = store.user_profile(user)
    if row is None:
        raise NotFoundError(f"unknown user {user!r}: not in the store")
    model.feed.user_segments[user] = (row.get("crowd") or "", row.get("consumption_level") or "")


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
    out: Annotated[Path | None, typer.Option("--out", help="JSON lines file for --all-users.")] = None,
    version: VersionOption = None,
    db: DbOption = None,
    models_dir: ModelsDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """The ranked feed of USER, with why each item is there; or every user's with --all-users."""
    if all_users == (user is not None):
        raise UserError("give a USER, or --all-users with --out (not both)")
    if all_users and out is None:
        raise UserError("--all-users writes JSON lines: give --out FILE")
    if out is not None:
        check_output_file(out, "--out")
    store = open_store(db)
    model = load_trained(_models_dir(models_dir), version)
    feed = serving_feed(model, store)
    fen = round(max_price * 100) if max_price is not None else None
    filters = {"max_price": fen, "categories": category, "brands": brand}
    if all_users:
        assert model.feed is not None and out is not None
        ids = model.feed.profiles.users.ids.tolist()
        written = 0
        with writing_text(out) as fh:
            for lo in range(0, len(ids), 512):
                chunk = ids[lo : lo + 512]
                for u, items in zip(chunk, feed.recommend_many(chunk, n, **filters), strict=True):
                    fh.write(
                        json.dumps({"user": u, "items": [i.product_id for i in items]}, ensure_ascii=False)
                        + "\n"
                    )
                    written += 1
        if json_out:
            print_json({"users": written, "out": str(out), "model": model.version})
        else:
            console.print(f"{written:,} feeds of up to {n} products → {out} (model {model.version})")
        return
    assert user is not None
    _known(model, store, user)
    if content:
        rows = feed.content(user, n)
        if json_out:
            print_json({"user": user, "model": model.version, "items": [c.to_dict() for c in rows]})
            return
        table = Table(title=f"Videos and live rooms for {user}", show_edge=False)
        for col in ("#", "content", "kind", "creator", "products", "why"):
            table.add_column(col, overflow="fold")
        for k, c in enumerate(rows, 1):
            table.add_row(
                str(k), c.content_id, c.kind, c.creator_id, ", ".join(c.products[:3]), "; ".join(c.reasons)
            )
        console.print(table if rows else "Nothing to show.")
        return
    items = feed.recommend(user, n, **filters)
    if json_out:
        print_json({"user": user, "model": model.version, "items": [i.to_dict() for i in items]})
        return
    print_feed(store, user, items)


def print_feed(store: Store, user: str, items: list[FeedItem]) -> None:
    titles = store.product_titles([i.product_id for i in items])
    table = Table(title=f"Feed of {user}", show_edge=False)
    for col in ("#", "product", "title", "price", "found by", "why"):
        table.add_column(col, overflow="fold")
    for k, it in enumerate(items, 1):
        title, price = titles.get(it.product_id, ("", 0))
        table.add_row(
            str(k),
            it.product_id,
            title,
            f"¥{price / 100:,.2f}",
            ", ".join(it.found_by),
            "; ".join(it.reasons),
        )
    console.print(table if items else "Nothing to show.")
