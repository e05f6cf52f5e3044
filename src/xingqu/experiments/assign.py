"""Assignment by hashing: a user's place in a layer and arm in an experiment are functions of (salt,
user id) alone, so every API process, every restart and batch scoring give the same answer without
sharing any state, and a user first seen mid-experiment is assigned on their first request.

Two independent hashes: the layer's (``layer:NAME``) places a user at a point of [0, 1) that falls in
at most one experiment's slice of the layer (experiments of one layer exclude each other); the
experiment's own salt then picks the arm by the arms' cumulative shares. Layers use different salts, so
a user's arms in two layers are independent."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from xingqu.experiments.model import Experiment

_SCALE = float(2**64)


def unit(salt: str, user_id: str) -> float:
    """A uniform point of [0, 1) from (salt, user id): the first 8 bytes of BLAKE2b, big-endian."""
    digest = hashlib.blake2b(f"{salt}\x1f{user_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def units(salt: str, user_ids: Sequence[str]) -> np.ndarray:
    """``unit`` of many users at once (batch scoring): the same values, as float64."""
    prefix = f"{salt}\x1f".encode()
    raw = b"".join(hashlib.blake2b(prefix + u.encode(), digest_size=8).digest() for u in user_ids)
    return np.frombuffer(raw, dtype=">u8").astype(np.float64) / _SCALE


def layer_salt(layer: str) -> str:
    return f"layer:{layer}"


def in_segment(segment: Mapping[str, str], profile: Mapping[str, Any] | None) -> bool:
    """Whether a user's profile matches every field of ``segment`` (an empty segment takes everyone; an
    unknown profile matches only the empty segment)."""
    if not segment:
        return True
    if profile is None:
        return False
    return all(str(profile.get(k) or "") == v for k, v in segment.items())


def arm_index(exp: Experiment, layer_point: float, arm_point: float) -> int | None:
    """The arm (index) of a user at these points, or None when outside the experiment's slice."""
    if not exp.range_lo <= layer_point < exp.range_hi:
        return None
    edge = 0.0
    arms = exp.spec.arms
    for i, arm in enumerate(arms):
        edge += arm.share
        if arm_point < edge:
            return i
    return len(arms) - 1  # shares add up to 1 within rounding


def assign(exp: Experiment, user_id: str, profile: Mapping[str, Any] | None = None) -> str | None:
    """The arm of ``user_id`` in ``exp`` (None when the user is not in its population)."""
    if not in_segment(exp.spec.population.segment, profile):
        return None
    i = arm_index(exp, unit(layer_salt(exp.layer), user_id), unit(exp.salt, user_id))
    return None if i is None else exp.spec.arms[i].name


def assign_many(
    exp: Experiment, user_ids: Sequence[str], profiles: Mapping[str, Mapping[str, Any]] | None = None
) -> list[str | None]:
    """``assign`` of many users, vectorised (batch scoring): the same arms as one by one."""
    layer = units(layer_salt(exp.layer), user_ids)
    point = units(exp.salt, user_ids)
    edges = np.cumsum([a.share for a in exp.spec.arms])
    idx = np.minimum(np.searchsorted(edges, point, side="right"), len(edges) - 1)
    inside = (layer >= exp.range_lo) & (layer < exp.range_hi)
    segment = exp.spec.population.segment
    names = [a.name for a in exp.spec.arms]
    return [
        names[int(idx[k])]
        if inside[k] and in_segment(segment, None if profiles is None else profiles.get(u))
        else None
        for k, u in enumerate(user_ids)
    ]


def free_slice(taken: Sequence[tuple[float, float]], share: float) -> tuple[float, float] | None:
    """The lowest gap of width ``share`` in [0, 1) outside the ``taken`` slices (None: no room)."""
    at = 0.0
    for lo, hi in sorted(taken):
        if lo - at >= share - 1e-12:
            break
        at = max(at, hi)
    if 1.0 - at < share - 1e-12:
        return None
    return at, min(1.0, at + share)
