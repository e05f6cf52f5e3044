"""``xingqu screen``: listing screening before go-live, from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer

from xingqu.cli.common import DbOption, err_console
from xingqu.errors import UserError
from xingqu.governance import Screener
from xingqu.store import Store
from xingqu.store.schema import TABLES


def _authorised_brands(db: str | None) -> dict[str, list[str]] | None:
    """Each shop's authorised brands from the store, when it has a schema; None otherwise."""
    store = Store.open(db)
    if store.schema_version() is None:
        return None
    s = TABLES["shops"]
    with store.reading() as conn:
        rows = conn.execute(sa.select(s.c.shop_id, s.c.brand_ids)).all()
    return {shop: json.loads(brands) if brands else [] for shop, brands in rows}


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
    db: DbOption = None,
) -> None:
    """Screen listings: one JSON line per listing with its decision (approve/review/reject) and reasons."""
    screener = Screener.from_file(rules) if rules else Screener.default()
    brands = _authorised_brands(db)
    if not path.exists():
        raise UserError(f"{path}: no such file")
    fh = out.open("w", encoding="utf-8") if out else sys.stdout
    counts = {"approve": 0, "review": 0, "reject": 0}
    try:
        with path.open(encoding="utf-8") as src:
            for lineno, line in enumerate(src, start=1):
                if not line.strip():
                    continue
                try:
                    listing = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(f"{path}, line {lineno}: not valid JSON: {exc.msg}") from None
                if not isinstance(listing, dict):
                    raise UserError(f"{path}, line {lineno}: each line must be a JSON object")
                shop = listing.get("shop") or listing.get("shop_id")
                allowed = brands.get(shop) if brands is not None and shop in brands else None
                decision = screener.screen(listing, allowed)
                counts[decision.decision] += 1
                fh.write(json.dumps(decision.to_dict(), ensure_ascii=False) + "\n")
    finally:
        if out:
            fh.close()
    err_console.print(
        f"screened {sum(counts.values()):,} listings with rules {screener.version}: "
        + ", ".join(f"{k} {v:,}" for k, v in counts.items())
    )
