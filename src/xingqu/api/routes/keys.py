"""API keys: create (shown once), list, revoke; and the calling key itself."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from xingqu.api.access import ROUTE_ROLES, Caller
from xingqu.api.schemas.keys import KeyIn, KeysOut, MeOut, NewKeyOut, RevokedOut
from xingqu.services import keys

router = APIRouter(prefix="/keys", tags=["keys"])


@router.get("/me", response_model=MeOut)
def whoami(caller: Caller) -> dict[str, object]:
    """The key this request is made with: its role and scope, and the operations it may call."""
    may = sorted(op for op, roles in ROUTE_ROLES.items() if caller.role in roles)
    return {**caller.to_dict(), "operations": may}


@router.post("", response_model=NewKeyOut, status_code=status.HTTP_201_CREATED)
def create_key(body: KeyIn, caller: Caller, request: Request) -> dict[str, object]:
    """A new key; the answer holds the key itself, shown this once (only a slow hash is stored)."""
    secret, principal = keys.create_key(
        request.app.state.runtime,
        body.role.value,
        shops=body.shops,
        creator=body.creator,
        name=body.name,
        rate_per_s=body.rate_per_s,
    )
    return {**principal.to_dict(), "key": secret}


@router.get("", response_model=KeysOut)
def list_keys(caller: Caller, request: Request) -> dict[str, object]:
    """Every key, its role, scope and state (never a secret)."""
    rows = keys.list_keys(request.app.state.runtime)
    return {"keys": [{**r, "creator": r["creator_id"]} for r in rows]}


@router.delete("/{key_id}", response_model=RevokedOut)
def revoke_key(key_id: str, caller: Caller, request: Request) -> dict[str, object]:
    """Revoke a key: refused by every process from its next request."""
    return keys.revoke_key(request.app.state.runtime, key_id)
