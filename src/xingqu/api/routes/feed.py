"""Feeds of users (products, or videos and live rooms) and products related to a product."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from xingqu.api.access import Caller, require_subject
from xingqu.api.batching import batcher
from xingqu.api.compute import compute
from xingqu.api.schemas.feed import ContentFeedOut, FeedOut, ProductOut, SimilarOut
from xingqu.domain.records import MAX_ID_LENGTH
from xingqu.services import products
from xingqu.services.experiments import FeedAsk, ServedFeed, serve_content
from xingqu.services.feed import feed_cards
from xingqu.services.similar import related

router = APIRouter(tags=["feed"])

Id = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)]


@router.get("/users/{user_id}/feed", response_model=FeedOut)
async def user_feed(
    user_id: Id,
    caller: Caller,
    request: Request,
    n: Annotated[int, Query(ge=1, le=500, description="How many products.")] = 20,
    max_price: Annotated[
        float | None, Query(ge=0, le=10_000_000_000, allow_inf_nan=False, description="Highest price, yuan.")
    ] = None,
    category: Annotated[
        list[str] | None, Query(max_length=50, description="Only these categories (level-1 name or path).")
    ] = None,
    brand: Annotated[list[str] | None, Query(max_length=50, description="Only these brand ids.")] = None,
    explain: Annotated[bool, Query(description="Say why each product is there.")] = True,
) -> dict[str, object]:
    """The ranked feed of a user, each product with why it is there; goods that may not be shown now
    are never in it, and the user's events since training move it. A user in running experiments gets
    their arms' feed; send the response's request_id with the events it leads to (impressions, clicks,
    orders) so that they are credited to those arms."""
    runtime = request.app.state.runtime
    ask = FeedAsk(
        user_id,
        n,
        round(max_price * 100) if max_price is not None else None,
        tuple(category) if category is not None else None,
        tuple(brand) if brand is not None else None,
        explain,
    )

    def respond(served: ServedFeed) -> dict[str, object]:
        return {
            "user": user_id,
            "model": served.result.version,
            "request_id": served.request_id,
            "experiments": served.arms,
            "items": feed_cards(runtime.store, served.result.items),
        }

    return await batcher(request).serve(ask, respond)


@router.get("/users/{user_id}/content", response_model=ContentFeedOut)
async def user_content_feed(
    user_id: Id,
    caller: Caller,
    request: Request,
    n: Annotated[int, Query(ge=1, le=500, description="How many videos and live rooms.")] = 10,
) -> dict[str, object]:
    """Videos and live rooms for a user, with the goods each carries for them. A user in running
    experiments gets their arms' content feed; send the response's request_id with the events it leads
    to, as with the product feed."""
    served = await compute(request, serve_content, request.app.state.runtime, user_id, n)
    return {
        "user": user_id,
        "model": served.version,
        "request_id": served.request_id,
        "experiments": served.arms,
        "items": [c.to_dict() for c in served.items],
    }


@router.get("/products/{product_id}", response_model=ProductOut)
def product_details(product_id: Id, caller: Caller, request: Request) -> dict[str, object]:
    """A product: its catalogue fields, prices in yuan, and its and its shop's status."""
    runtime = request.app.state.runtime
    require_subject(runtime, caller, "product", product_id)
    return products.product_details(runtime, product_id)


@router.get("/products/{product_id}/similar", response_model=SimilarOut)
async def similar_products(
    product_id: Id,
    caller: Caller,
    request: Request,
    n: Annotated[int, Query(ge=1, le=500, description="How many of each.")] = 10,
) -> dict[str, object]:
    """Products similar to a product, and products bought together with it."""
    found = await compute(request, related, request.app.state.runtime, product_id, n)
    return {
        "product": product_id,
        "model": found.version,
        "similar": [r.__dict__ for r in found.similar],
        "bought_together": [r.__dict__ for r in found.bought_together],
    }
