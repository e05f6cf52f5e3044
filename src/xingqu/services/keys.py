"""API keys as use cases: create (the secret shown once, only a slow hash kept), list, revoke, and
authenticate a presented key into the principal a request acts as."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from xingqu.domain.vocab import Role
from xingqu.errors import NotFoundError, UnauthenticatedError, UserError
from xingqu.runtime import Runtime
from xingqu.store import keys as rows

#: Every key starts with this, so that a leaked key is recognisable (and scanners can find it).
PREFIX = "xq"
#: scrypt's cost: about 50 ms and 16 MiB per check, paid once per key and process (then cached).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


@dataclass(frozen=True)
class Principal:
    """Whom a request acts for: a key's role and the shops or creator it is scoped to."""

    key_id: str
    name: str
    role: Role
    shops: frozenset[str] = field(default_factory=frozenset)
    creator: str | None = None
    rate_per_s: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "role": self.role.value,
            "shops": sorted(self.shops),
            "creator": self.creator,
            "rate_per_s": self.rate_per_s,
        }


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=64 << 20, dklen=32
    )


def hash_secret(secret: str) -> str:
    """A salted scrypt hash of ``secret`` with its parameters, as stored."""
    salt = secrets.token_bytes(16)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${_hash(secret, salt).hex()}"


def _matches(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        found = hashlib.scrypt(
            secret.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), maxmem=64 << 20, dklen=32
        )
    except ValueError:
        return False
    return hmac.compare_digest(found.hex(), digest)


def _principal(row: dict[str, Any]) -> Principal:
    return Principal(
        row["key_id"],
        row["name"],
        Role(row["role"]),
        frozenset(row["shops"]),
        row["creator_id"],
        row["rate_per_s"],
    )


def create_key(
    runtime: Runtime,
    role: str,
    *,
    shops: Iterable[str] = (),
    creator: str | None = None,
    name: str | None = None,
    rate_per_s: int | None = None,
) -> tuple[str, Principal]:
    """A new key: the secret to hand over (shown once, never stored) and what it may act as. A
    merchant key names at least one known shop, a creator key one known creator, no other key either."""
    try:
        role_ = Role(role)
    except ValueError:
        raise UserError(f"unknown role {role!r}; roles: {', '.join(r.value for r in Role)}") from None
    shop_ids = sorted(set(shops))
    if role_ is Role.MERCHANT and not shop_ids:
        raise UserError("a merchant key is scoped to its shops: give at least one --shop")
    if role_ is not Role.MERCHANT and shop_ids:
        raise UserError(f"--shop scopes merchant keys, not {role_.value} keys")
    if role_ is Role.CREATOR and not creator:
        raise UserError("a creator key is scoped to one creator: give --creator")
    if role_ is not Role.CREATOR and creator:
        raise UserError(f"--creator scopes creator keys, not {role_.value} keys")
    if rate_per_s is not None and rate_per_s < 1:
        raise UserError(f"rate must be at least 1 request a second, not {rate_per_s}")
    label = (name or f"{role_.value} key").strip()
    if not label or len(label) > 128:
        raise UserError("a key's name is 1 to 128 characters")
    store = runtime.store
    store.require_ready()
    for shop in shop_ids:
        store.catalogue.require_known("shops", shop)
    if creator:
        store.catalogue.require_known("creators", creator)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    with store.writing() as conn:
        rows.insert(
            conn,
            key_id=key_id,
            name=label,
            role=role_.value,
            shops=shop_ids,
            creator_id=creator,
            secret_hash=hash_secret(secret),
            rate_per_s=rate_per_s,
            created_at=int(time.time() * 1000),
        )
    principal = Principal(key_id, label, role_, frozenset(shop_ids), creator, rate_per_s)
    return f"{PREFIX}_{key_id}_{secret}", principal


def list_keys(runtime: Runtime, include_revoked: bool = True) -> list[dict[str, Any]]:
    """Every key with its role, scope and state (never a secret or a hash)."""
    runtime.store.require_ready()
    with runtime.store.reading() as conn:
        return rows.rows(conn, include_revoked)


def revoke_key(runtime: Runtime, key_id: str) -> dict[str, Any]:
    """Revoke a key: every process refuses it from its next request."""
    runtime.store.require_ready()
    now = int(time.time() * 1000)
    with runtime.store.writing() as conn:
        row = rows.get(conn, key_id)
        if row is None:
            raise NotFoundError(f"unknown key {key_id!r}")
        if row["revoked_at"] is not None:
            raise UserError(f"key {key_id!r} is already revoked")
        rows.revoke(conn, key_id, now)
    _verified(runtime).pop(key_id, None)
    return {"key_id": key_id, "revoked_at": now}


def _verified(runtime: Runtime) -> dict[str, str]:
    """key id → digest of the whole key last verified by the slow hash in this process."""
    return runtime.shared(("keys", "verified"), dict)


def verified_before(runtime: Runtime, token: str) -> bool:
    """Whether this process has already run the slow hash for this very key (so that
    ``authenticate`` of it costs one small read, not the hash's second)."""
    key_id = token.split("_", 2)[1] if token.count("_") >= 2 else ""
    return _verified(runtime).get(key_id) == hashlib.sha256(token.encode()).hexdigest()


def authenticate(runtime: Runtime, token: str) -> Principal:
    """The principal of a presented key; a malformed, unknown or revoked key is ``UnauthenticatedError``.
    The key's row is read at every call (a revocation holds from the next request of every process);
    the slow hash runs once per key and process."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        raise UnauthenticatedError("not an xingqu API key")
    _, key_id, secret = parts
    row = rows.lookup(runtime.store, key_id)
    if row is None or row["revoked_at"] is not None:
        raise UnauthenticatedError("unknown or revoked API key")
    digest = hashlib.sha256(token.encode()).hexdigest()
    cache = _verified(runtime)
    if cache.get(key_id) != digest:
        if not _matches(secret, row["secret_hash"]):
            raise UnauthenticatedError("unknown or revoked API key")
        cache[key_id] = digest
    return _principal(row)
