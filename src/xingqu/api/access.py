"""Who may call what: the one table of routes and the roles allowed on each, the dependency that
authenticates a request's key, checks its role and counts it against its rate, and the tenancy rules
that keep a merchant to its shops and a creator to itself.

A role outside a route's set gets 403; a scoped key asking about something outside its scope gets 404
when the thing is of a kind it may ask about (it may not learn that it exists) and 403 when it is of a
kind it may never ask about."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from xingqu.api.limits import RateLimiter
from xingqu.domain.vocab import Role
from xingqu.errors import ForbiddenError, NotFoundError, UnauthenticatedError, XingquError
from xingqu.runtime import Runtime
from xingqu.services.keys import Principal, authenticate, verified_before

ADMIN, OPS, APP, MERCHANT, CREATOR = Role.ADMIN, Role.OPS, Role.APP, Role.MERCHANT, Role.CREATOR
EVERYONE = frozenset(Role)

#: Routes anyone may call without a key (probes and metrics), by operation id.
PUBLIC: frozenset[str] = frozenset({"healthz", "readyz", "metrics"})

#: Every other route, by operation id (its function's name), and the roles that may call it.
ROUTE_ROLES: dict[str, frozenset[Role]] = {
    # keys
    "whoami": EVERYONE,
    "create_key": frozenset({ADMIN}),
    "list_keys": frozenset({ADMIN}),
    "revoke_key": frozenset({ADMIN}),
    # what apps send and ask
    "post_events": frozenset({ADMIN, APP}),
    "upsert_catalogue": frozenset({ADMIN, APP}),
    "user_feed": frozenset({ADMIN, APP}),
    "user_content_feed": frozenset({ADMIN, APP}),
    "similar_products": frozenset({ADMIN, APP}),
    "product_details": frozenset({ADMIN, OPS, MERCHANT}),
    # merchants' and creators' tools
    "portrait": frozenset({ADMIN, OPS, MERCHANT, CREATOR}),
    "audience": frozenset({ADMIN, OPS, MERCHANT}),
    "lookalike": frozenset({ADMIN, OPS, MERCHANT}),
    "creators_for_product": frozenset({ADMIN, OPS, MERCHANT}),
    "similar_creators": frozenset({ADMIN, OPS, MERCHANT}),
    "creator_selection": frozenset({ADMIN, OPS, CREATOR}),
    # governance
    "screen_listings": frozenset({ADMIN, OPS}),
    "review_queue": frozenset({ADMIN, OPS}),
    "approve_listing": frozenset({ADMIN, OPS}),
    "reject_listing": frozenset({ADMIN, OPS}),
    "take_down_product": frozenset({ADMIN, OPS}),
    "reinstate_product": frozenset({ADMIN, OPS}),
    "audit_log": frozenset({ADMIN, OPS}),
    "verify_audit": frozenset({ADMIN, OPS}),
    "shop_points": frozenset({ADMIN, OPS, MERCHANT}),
    "give_points": frozenset({ADMIN, OPS}),
    "check_stores": frozenset({ADMIN, OPS}),
    "update_store_scores": frozenset({ADMIN, OPS}),
    # reports
    "gmv_report": frozenset({ADMIN, OPS, MERCHANT}),
    "funnel_report": frozenset({ADMIN, OPS, MERCHANT}),
    "customers_report": frozenset({ADMIN, OPS, MERCHANT}),
    "live_report": frozenset({ADMIN, OPS, MERCHANT, CREATOR}),
    "channels_report": frozenset({ADMIN, OPS, MERCHANT}),
    "shop_compass": frozenset({ADMIN, OPS, MERCHANT}),
    "overview_report": frozenset({ADMIN, OPS, MERCHANT}),
    # models
    "list_models": frozenset({ADMIN, OPS}),
    "current_model": frozenset({ADMIN, OPS, APP}),
    "training_status": frozenset({ADMIN, OPS}),
    "start_training": frozenset({ADMIN}),
    # online experiments
    "create_experiment": frozenset({ADMIN, OPS}),
    "list_experiments": frozenset({ADMIN, OPS}),
    "show_experiment": frozenset({ADMIN, OPS}),
    "edit_experiment": frozenset({ADMIN, OPS}),
    "stop_experiment": frozenset({ADMIN, OPS}),
    "experiment_report": frozenset({ADMIN, OPS}),
}


def bearer(request: Request) -> str:
    """The key of ``Authorization: Bearer …``; its absence is ``UnauthenticatedError``."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnauthenticatedError("send an API key as 'Authorization: Bearer <key>'")
    return token.strip()


async def authorise(request: Request) -> Principal:
    """The dependency of every non-public route: the key is valid and not revoked (401), its role is in
    the route's set (403), and it is within its rate (429). A key this process has verified before and
    a rate counted in process take microseconds and are checked in the event loop; the slow hash of a
    key seen first, and a rate counted in Redis, in a worker thread."""
    runtime: Runtime = request.app.state.runtime
    token = bearer(request)
    limiter: RateLimiter = request.app.state.limiter
    if limiter.client is not None or not verified_before(runtime, token):
        return await run_in_threadpool(_authorise, request, runtime, token)
    return _authorise(request, runtime, token)


def _authorise(request: Request, runtime: Runtime, token: str) -> Principal:
    principal = authenticate(runtime, token)
    name = getattr(request.scope.get("route"), "name", None)
    allowed = ROUTE_ROLES.get(str(name))
    if allowed is None:  # a route missing from the table is closed, never open
        raise XingquError(f"route {name!r} declares no roles")
    if principal.role not in allowed:
        raise ForbiddenError(f"a {principal.role.value} key may not call {name}")
    limiter: RateLimiter = request.app.state.limiter
    limiter.hit(principal.key_id, principal.rate_per_s)
    request.state.principal = principal
    return principal


#: What a route takes to know its caller.
Caller = Annotated[Principal, Depends(authorise)]


# -- tenancy ------------------------------------------------------------------------------------------


def _scoped_kinds(p: Principal) -> frozenset[str]:
    if p.role is MERCHANT:
        return frozenset({"shop", "product"})
    if p.role is CREATOR:
        return frozenset({"creator"})
    return frozenset()


def product_shop(runtime: Runtime, product_id: str) -> str | None:
    """The shop of a product (None when the product is unknown)."""
    card = runtime.store.catalogue.product_cards([product_id]).get(product_id)
    return None if card is None else card["shop_id"]


def require_subject(runtime: Runtime, p: Principal, kind: str, key: str) -> None:
    """``p`` may ask about ``kind`` ``key``: admin and ops anything; a merchant its own shops and their
    products; a creator itself. Outside its scope: 404 for a kind it may ask about, 403 for others."""
    if p.role in (ADMIN, OPS):
        return
    if kind not in _scoped_kinds(p):
        raise ForbiddenError(f"a {p.role.value} key may not ask about a {kind}")
    if kind == "shop" and key in p.shops:
        return
    if kind == "product" and product_shop(runtime, key) in p.shops:
        return
    if kind == "creator" and key == p.creator:
        return
    noun = "content" if kind == "content" else kind
    raise NotFoundError(f"unknown {noun} {key!r}")


def require_shop_scope(p: Principal, shop: str | None) -> None:
    """Figures of ``shop`` (None: the whole platform) may be shown to ``p``: a merchant needs one of its
    own shops (403 for platform figures, 404 for another shop's)."""
    if p.role is not MERCHANT:
        return
    if shop is None:
        raise ForbiddenError("a merchant key sees its own shops' figures: give shop")
    if shop not in p.shops:
        raise NotFoundError(f"unknown shop {shop!r}")
