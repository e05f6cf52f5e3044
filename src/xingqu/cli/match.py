"""``xingqu portrait``, ``audience``, ``creators`` and ``selection``: the merchant and creator tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from xingqu.cli.common import (
    MAX_COUNT,
    MAX_LIST,
    DbOption,
    JsonOption,
    console,
    finite,
    open_runtime,
    print_json,
    wide_console,
)
from xingqu.cli.learn import ModelsDirOption
from xingqu.errors import UserError
from xingqu.features.groups import Groups
from xingqu.features.market import MarketTables
from xingqu.features.portraits import AUDIENCES, Portrait, Portraits
from xingqu.outputs import check_output_file, writing_text
from xingqu.pipelines.matching import Matching
from xingqu.services import matching as matching_service
from xingqu.services.matching import matching, parse_target


def _matching(db: str | None, models_dir: Path | None) -> Matching:
    return matching(open_runtime(db, models_dir))


def print_portrait(p: Portrait, top: int = 5) -> None:
    if p.hidden:
        console.print(
            f"{p.subject} {p.audience}: {p.size:,} people — {p.hidden_because}, so no distribution is shown"
        )
        return
    table = Table(title=f"Portrait of {p.subject} {p.audience} ({p.size:,} people)", show_edge=False)
    for col in ("dimension", "segment", "share", "TGI", "count"):
        table.add_column(col, justify="right" if col in ("share", "TGI", "count") else "left")
    for dim, segs in p.dimensions.items():
        for k, s in enumerate(segs[:top]):
            table.add_row(dim if k == 0 else "", s.value, f"{s.share:.1%}", f"{s.tgi:.0f}", f"{s.count:,}")
    console.print(table)


def portrait_cmd(
    kind: Annotated[str, typer.Argument(help=f"What the group belongs to: {', '.join(AUDIENCES)}.")],
    key: Annotated[str, typer.Argument(help="Its id (a category by its level-1 name).")],
    audience: Annotated[
        str | None, typer.Option(help="Which of its people (creator: followers, fans, viewers, buyers; …).")
    ] = None,
    min_count: Annotated[
        int | None,
        typer.Option(
            min=1, max=MAX_COUNT, help="Groups smaller than this show nothing (never below the floor)."
        ),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Portrait (画像) of a creator's, shop's, brand's, product's or category's people, with TGI."""
    rt = open_runtime(db)
    rt.store.require_ready()
    market = MarketTables.from_store(rt.store)
    portraits = Portraits.build(market, Groups.build(market), rt.settings.min_group_size)
    p = portraits.portrait(kind, key, audience, min_count)
    if json_out:
        print_json(p.to_dict())
    else:
        print_portrait(p)


def audience_cmd(
    product: Annotated[str | None, typer.Argument(help="Product id (or --shop / --brand).")] = None,
    shop: Annotated[str | None, typer.Option(help="A shop instead of a product.")] = None,
    brand: Annotated[str | None, typer.Option(help="A brand instead of a product.")] = None,
    lookalike_n: Annotated[
        int | None, typer.Option("--lookalike", min=1, max=MAX_COUNT, help="Lookalike audience of N users.")
    ] = None,
    top_pct: Annotated[
        float | None,
        typer.Option(
            "--top-pct", min=0.01, max=100, callback=finite, help="Lookalike: the top X % of users."
        ),
    ] = None,
    seeds: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="Seed users, one id per line, UTF-8 (instead of the buyers)."
        ),
    ] = None,
    exclude_private: Annotated[
        bool,
        typer.Option("--exclude-private", help="Leave followers, members and buyers out of the lookalike."),
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Write the lookalike users as JSON lines here.")] = None,
    db: DbOption = None,
    models_dir: ModelsDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """The people a product, shop or brand reaches (private domain) and, with --lookalike or --top-pct,
    the users most like its buyers, each with a propensity."""
    given = [(k, v) for k, v in (("product", product), ("shop", shop), ("brand", brand)) if v]
    if len(given) != 1:
        raise UserError("give exactly one of PRODUCT, --shop or --brand")
    kind, key = given[0]
    if lookalike_n is not None and top_pct is not None:
        raise UserError("give --lookalike N or --top-pct X, not both")
    if out is not None:
        check_output_file(out, "--out")
    seed_users = None
    if seeds is not None:
        try:
            seed_users = [x.strip() for x in seeds.read_text(encoding="utf-8").splitlines() if x.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"--seeds {seeds}: cannot be read as UTF-8 text ({exc})") from exc
    rt = open_runtime(db, models_dir)
    domain = matching_service.audience(rt, kind, key)  # groups under the privacy floor show no count
    result: dict[str, object] = {"subject": f"{kind} {key}", "private_domain": domain}
    look = None
    if lookalike_n is not None or top_pct is not None or seeds is not None:
        look = matching_service.lookalike(  # a seed under the privacy floor is refused
            rt,
            kind,
            key,
            n=lookalike_n,
            top_share=None if top_pct is None else top_pct / 100,
            seed_users=seed_users,
            exclude_private=exclude_private,
        )
        result["lookalike"] = {k: v for k, v in look.to_dict().items() if k != "users"}
        if out is not None:
            with writing_text(out) as fh:
                for u, s, p in zip(look.users, look.scores, look.propensity, strict=True):
                    fh.write(json.dumps({"user": u, "score": round(s, 4), "propensity": round(p, 4)}) + "\n")
            result["lookalike"]["out"] = str(out)  # type: ignore[index]
        elif json_out:
            result["lookalike"]["users"] = look.to_dict()["users"]  # type: ignore[index]
    if json_out:
        print_json(result)
        return
    table = Table(title=f"Private domain of {kind} {key}", show_edge=False)
    table.add_column("group")
    table.add_column("users", justify="right")
    for k, v in domain.items():
        table.add_row(k, f"{v:,}" if v is not None else f"under {rt.settings.min_group_size}")
    console.print(table)
    if look is not None:
        console.print(f"Lookalike from {look.seed_size:,} seed users ({look.excluded:,} more excluded):")
        for s in look.sizes:
            label = f"top {s['top_share']:.0%}" if "top_share" in s else f"propensity ≥ {s['min_propensity']}"
            console.print(f"  {label}: {s['size']:,} users")
        shown = Table(show_edge=False)
        for col in ("#", "user", "score", "propensity"):
            shown.add_column(col)
        for k, (u, s, p) in enumerate(zip(look.users[:10], look.scores, look.propensity, strict=False), 1):
            shown.add_row(str(k), u, f"{s:.3f}", f"{p:.3f}")
        console.print(shown)
        console.print(
            f"{len(look.users):,} users" + (f" → {out}" if out else " (--out FILE writes them all)")
        )


def creators_cmd(
    product: Annotated[str | None, typer.Argument(help="Product id.")] = None,
    goal: Annotated[str, typer.Option(help="sales or brand.")] = "sales",
    n: Annotated[int, typer.Option("-n", min=1, max=MAX_LIST, help="How many creators.")] = 10,
    min_followers: Annotated[int | None, typer.Option(min=0, max=MAX_COUNT)] = None,
    max_followers: Annotated[int | None, typer.Option(min=0, max=MAX_COUNT)] = None,
    category: Annotated[str | None, typer.Option(help="Only creators selling this level-1 category.")] = None,
    min_reputation: Annotated[
        float | None, typer.Option(min=0, max=1, callback=finite, help="1 − refund rate, at least.")
    ] = None,
    similar: Annotated[
        str | None, typer.Option("--similar", help="Creators similar to this creator instead.")
    ] = None,
    target: Annotated[
        list[str] | None,
        typer.Option(
            help="Target portrait instead of the buyers' lookalikes: DIMENSION=VALUE[,VALUE…], repeatable "
            "(e.g. gender=F --target age_band=18-23,24-30); every dimension given must match."
        ),
    ] = None,
    db: DbOption = None,
    models_dir: ModelsDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Creators (达人) whose audiences fit PRODUCT, with predicted GMV and a score breakdown."""
    if (product is None) == (similar is None):
        raise UserError("give a PRODUCT, or --similar CREATOR")
    product_only = {
        "--goal": goal != "sales",
        "--min-followers": min_followers is not None,
        "--max-followers": max_followers is not None,
        "--category": category is not None,
        "--min-reputation": min_reputation is not None,
        "--target": bool(target),
    }
    if similar is not None and any(product_only.values()):
        used = ", ".join(k for k, v in product_only.items() if v)
        raise UserError(f"{used}: options for creators for a PRODUCT, not for --similar")
    m = _matching(db, models_dir)
    if similar is not None:
        rows = m.similar_creators(similar, n)
        if json_out:
            print_json(
                {"creator": similar, "similar": [{"creator": c, "similarity": round(s, 4)} for c, s in rows]}
            )
        else:
            for c, s in rows:
                console.print(f"{c}  {s:.3f}")
        return
    assert product is not None
    wanted = parse_target(target or [])
    matches = m.creators_for(
        product,
        goal=goal,
        n=n,
        min_followers=min_followers,
        max_followers=max_followers,
        category=category,
        min_reputation=min_reputation,
        target=wanted,
    )
    if json_out:
        print_json(
            {
                "product": product,
                "goal": goal,
                "target": wanted or None,
                "creators": [c.to_dict() for c in matches],
            }
        )
        return
    table = Table(title=f"Creators for {product} (goal: {goal})", show_edge=False)
    for col in (
        "#",
        "creator",
        "score",
        "pred. GMV ¥",
        "followers",
        "targets",
        "match",
        "category",
        "price",
        "reputation",
    ):
        table.add_column(col, justify="right" if col not in ("creator",) else "left")
    for k, c in enumerate(matches, 1):
        comp = c.components
        table.add_row(
            str(k),
            c.creator_id,
            f"{c.score:.2f}",
            f"{c.predicted_gmv_yuan:,.0f}",
            f"{c.followers:,}",
            f"{c.target_users_in_audience:,}",
            f"{comp['audience_match']:.1%}",
            f"{comp['category_fit']:.0%}",
            f"{comp['price_fit']:.2f}",
            f"{comp['reputation']:.3f}",
        )
    wide_console(130).print(table if matches else "No creator fits the filters.")


def selection_cmd(
    creator: Annotated[str, typer.Argument(help="Creator id.")],
    n: Annotated[int, typer.Option("-n", min=1, max=MAX_LIST, help="How many products.")] = 10,
    categories: Annotated[int, typer.Option(min=1, max=MAX_LIST, help="How many categories.")] = 3,
    db: DbOption = None,
    models_dir: ModelsDirOption = None,
    json_out: JsonOption = False,
) -> None:
    """Categories and products for CREATOR to sell (达人选品), from its audience's portrait."""
    m = _matching(db, models_dir)
    sel = m.selection(creator, categories, n)
    if json_out:
        print_json(sel.to_dict())
        return
    table = Table(title=f"Categories for {creator} (audience {sel.audience:,})", show_edge=False)
    for col in ("#", "category", "score", "exp. GPM ¥", "why"):
        table.add_column(col)
    for k, c in enumerate(sel.categories, 1):
        table.add_row(str(k), c.category, f"{c.score:.2f}", f"{c.expected_gpm:,.1f}", "; ".join(c.reasons))
    wide_console(130).print(table)
    table = Table(title="Products", show_edge=False)
    for col in ("#", "product", "category", "price ¥", "commission", "exp. GPM ¥", "why"):
        table.add_column(col)
    for k, p in enumerate(sel.products, 1):
        table.add_row(
            str(k),
            p.product_id,
            p.category,
            f"{p.price_yuan:,.2f}",
            f"{p.commission_rate:.0%}",
            f"{p.expected_gpm:,.1f}",
            "; ".join(p.reasons),
        )
    console.print(table)
