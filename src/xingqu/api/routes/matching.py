"""Merchants' and creators' tools: portraits, audiences and lookalikes, creators for goods, selection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import StreamingResponse

from xingqu.api.access import Caller, require_subject
from xingqu.api.schemas.matching import (
    AudienceOut,
    CreatorsOut,
    LookalikeIn,
    LookalikeOut,
    PortraitOut,
    SelectionOut,
    SimilarCreatorsOut,
)
from xingqu.domain.records import MAX_ID_LENGTH
from xingqu.services import matching as tools

router = APIRouter(tags=["matching"])

Id = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)]
PortraitKind = Literal["creator", "shop", "brand", "product", "category"]
AudienceKind = Literal["product", "shop", "brand"]


@router.get("/portraits/{kind}/{key}", response_model=PortraitOut, response_model_exclude_none=True)
def portrait(
    kind: PortraitKind,
    key: Id,
    caller: Caller,
    request: Request,
    audience: Annotated[
        str | None,
        Query(
            max_length=32,
            description="creator: followers, fans, viewers, buyers; shop/brand: followers, "
            "buyers, new_buyers, returning_buyers; product/category: buyers.",
        ),
    ] = None,
    min_count: Annotated[
        int | None,
        Query(
            ge=1,
            le=1_000_000_000,
            description="Hide groups smaller than this (never below the platform's floor).",
        ),
    ] = None,
) -> dict[str, Any]:
    """The make-up of a group's people with TGI; a group under the minimum count shows its size only."""
    runtime = request.app.state.runtime
    require_subject(runtime, caller, kind, key)
    return tools.matching(runtime).portrait(kind, key, audience, min_count).to_dict()


@router.get("/audiences/{kind}/{key}", response_model=AudienceOut)
def audience(kind: AudienceKind, key: Id, caller: Caller, request: Request) -> dict[str, Any]:
    """How many people a product, shop or brand already reaches (followers, fan group, members, buyers
    new / active / lapsed); groups under the minimum count show no number (null)."""
    runtime = request.app.state.runtime
    require_subject(runtime, caller, kind, key)
    return {"subject": f"{kind} {key}", "private_domain": tools.audience(runtime, kind, key)}


@router.post(
    "/audiences/{kind}/{key}/lookalike",
    response_model=LookalikeOut,
    responses={200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
)
def lookalike(
    kind: AudienceKind,
    key: Id,
    body: LookalikeIn,
    caller: Caller,
    request: Request,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=10_000)] = 1_000,
    format: Annotated[
        Literal["json", "jsonl"], Query(description="json: a page; jsonl: every user, as a file.")
    ] = "json",
) -> Any:
    """Users most like the buyers of a product, shop or brand (or like the seed users sent), each with
    a propensity, and the audience's size at several cut-offs; as pages, or all of it as JSON lines."""
    runtime = request.app.state.runtime
    require_subject(runtime, caller, kind, key)
    look = tools.lookalike(
        runtime,
        kind,
        key,
        n=body.n,
        top_share=None if body.top_pct is None else body.top_pct / 100,
        seed_users=body.seed_users,
        exclude_private=body.exclude_private,
    )
    rows = zip(look.users, look.scores, look.propensity, strict=True)
    if format == "jsonl":

        def lines() -> Iterator[bytes]:
            for u, s, p in rows:
                yield (
                    json.dumps({"user": u, "score": round(s, 4), "propensity": round(p, 4)}) + "\n"
                ).encode()

        name = f"lookalike-{kind}-{key}.jsonl".replace('"', "")
        return StreamingResponse(
            lines(),
            media_type="application/x-ndjson",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    lo = (page - 1) * page_size
    shown = [
        {"user": u, "score": round(s, 4), "propensity": round(p, 4)}
        for u, s, p in list(rows)[lo : lo + page_size]
    ]
    return {
        "subject": f"{kind} {key}",
        "seed_size": look.seed_size,
        "excluded": look.excluded,
        "sizes": look.sizes,
        "total": len(look.users),
        "page": page,
        "page_size": page_size,
        "users": shown,
    }


@router.get("/products/{product_id}/creators", response_model=CreatorsOut)
def creators_for_product(
    product_id: Id,
    caller: Caller,
    request: Request,
    goal: Literal["sales", "brand"] = "sales",
    n: Annotated[int, Query(ge=1, le=10_000)] = 10,
    min_followers: Annotated[int | None, Query(ge=0, le=1_000_000_000_000)] = None,
    max_followers: Annotated[int | None, Query(ge=0, le=1_000_000_000_000)] = None,
    category: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    min_reputation: Annotated[float | None, Query(ge=0, le=1, allow_inf_nan=False)] = None,
    target: Annotated[
        list[str] | None,
        Query(max_length=20, description="Target portrait: DIMENSION=VALUE[,VALUE…] (repeatable)."),
    ] = None,
) -> dict[str, Any]:
    """Creators (达人) whose audiences fit a product, with predicted GMV and a score breakdown."""
    runtime = request.app.state.runtime
    require_subject(runtime, caller, "product", product_id)
    wanted = tools.parse_target(target or [])
    matches = tools.matching(runtime).creators_for(
        product_id,
        goal=goal,
        n=n,
        min_followers=min_followers,
        max_followers=max_followers,
        category=category,
        min_reputation=min_reputation,
        target=wanted,
    )
    return {
        "product": product_id,
        "goal": goal,
        "target": wanted or None,
        "creators": [c.to_dict() for c in matches],
    }


@router.get("/creators/{creator_id}/similar", response_model=SimilarCreatorsOut)
def similar_creators(
    creator_id: Id, caller: Caller, request: Request, n: Annotated[int, Query(ge=1, le=10_000)] = 10
) -> dict[str, Any]:
    """Creators whose audiences are like this creator's."""
    rows = tools.matching(request.app.state.runtime).similar_creators(creator_id, n)
    return {"creator": creator_id, "similar": [{"creator": c, "similarity": round(s, 4)} for c, s in rows]}


@router.get("/creators/{creator_id}/selection", response_model=SelectionOut)
def creator_selection(
    creator_id: Id,
    caller: Caller,
    request: Request,
    n: Annotated[int, Query(ge=1, le=10_000, description="How many products.")] = 10,
    categories: Annotated[int, Query(ge=1, le=10_000, description="How many categories.")] = 3,
) -> dict[str, Any]:
    """Categories and products for a creator to sell (选品), from its audience's portrait."""
    runtime = request.app.state.runtime
    require_subject(runtime, caller, "creator", creator_id)
    return tools.matching(runtime).selection(creator_id, categories, n).to_dict()
