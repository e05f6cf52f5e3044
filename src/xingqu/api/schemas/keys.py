"""API keys."""

from __future__ import annotations

from pydantic import BaseModel, Field

from xingqu.api.schemas.common import Strict
from xingqu.domain.vocab import Role


class KeyIn(Strict):
    role: Role
    shops: list[str] = Field(default_factory=list, max_length=1_000, description="Merchant keys: its shops.")
    creator: str | None = Field(default=None, max_length=128, description="Creator keys: the creator.")
    name: str | None = Field(default=None, min_length=1, max_length=128)
    rate_per_s: int | None = Field(default=None, ge=1, le=1_000_000, description="Own rate limit.")


class KeyOut(BaseModel):
    key_id: str
    name: str
    role: Role
    shops: list[str]
    creator: str | None
    rate_per_s: int | None


class MeOut(KeyOut):
    operations: list[str] = Field(description="Operation ids of the routes this key's role may call.")


class NewKeyOut(KeyOut):
    key: str = Field(description="The key itself: shown once, never stored (only a slow hash is).")


class KeyRow(KeyOut):
    created_at: int = Field(description="UTC ms.")
    revoked_at: int | None


class KeysOut(BaseModel):
    keys: list[KeyRow]


class RevokedOut(BaseModel):
    key_id: str
    revoked_at: int
