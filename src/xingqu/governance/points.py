"""Penalty points (扣分) for shops on a rolling window, with thresholds that act (``domain.md`` §6.7).

Each penalty is appended (never edited) with the rule-set version; a shop's standing is the sum of its
points within ``window_days`` before a time. Giving points that reach a threshold takes its action in
the same transaction: ``restrict`` sets the shop ``restricted``, ``suspend`` sets it ``suspended``
(its goods then leave every output, ``Store.catalogue.servable_products``); ``warning`` changes no
status. Penalties and status changes are written to the audit log. A shop's status is never lowered
here: lifting a restriction is a person's decision.
"""

from __future__ import annotations

import time
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from xingqu.domain.units import DAY_MS
from xingqu.errors import ConfigError, NotFoundError, UserError
from xingqu.store import Connection, Store

#: Actions in rising severity, with the shop status each one sets (None: status unchanged).
ACTIONS: dict[str, str | None] = {
    "none": None,
    "warning": None,
    "restrict": "restricted",
    "suspend": "suspended",
}
#: Shop statuses in rising severity; an action never moves a shop down this list.
_STATUS_RANK = {"onboarding": 0, "active": 0, "restricted": 1, "suspended": 2, "closed": 3}

#: Most points one penalty may carry (the template's thresholds are 12 to 48).
MAX_PENALTY_POINTS = 1_000


@dataclass(frozen=True)
class PointRules:
    version: str
    window_days: int
    violations: dict[str, int]
    thresholds: list[tuple[int, str]]  # (points, action), ascending

    @classmethod
    def default(cls) -> PointRules:
        return cls.from_file(Path(str(resources.files("xingqu.governance") / "rules" / "points.toml")))

    @classmethod
    def from_file(cls, path: Path | str) -> PointRules:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read point rules {path}: {exc}") from None
        try:
            thresholds = sorted((int(t["points"]), str(t["action"])) for t in data["threshold"])
            rules = cls(str(data["version"]), int(data["window_days"]), dict(data["violations"]), thresholds)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"point rules {path}: missing or bad {exc}") from None
        for _, action in thresholds:
            if action not in ACTIONS:
                raise ConfigError(f"point rules {path}: unknown action {action!r}; use {', '.join(ACTIONS)}")
        return rules

    def action_for(self, total: int) -> str:
        """The action of the highest threshold ``total`` reaches ("none" below all)."""
        reached = [a for p, a in self.thresholds if total >= p]
        return reached[-1] if reached else "none"


@dataclass(frozen=True)
class Standing:
    shop: str
    points: int  # within the window
    action: str  # of the highest threshold reached
    status: str | None  # the shop's status now
    penalties: list[dict[str, Any]]  # within the window, newest first

    def to_dict(self) -> dict[str, Any]:
        return {
            "shop": self.shop,
            "points": self.points,
            "action": self.action,
            "status": self.status,
            "penalties": self.penalties,
        }


def _window_points(
    store: Store, conn: Connection, shop: str, at_ms: int, rules: PointRules
) -> list[dict[str, Any]]:
    """The shop's penalties within the window ending at ``at_ms``, newest first."""
    return store.governance.penalties(shop, at_ms - rules.window_days * DAY_MS, at_ms, conn)


def standing(store: Store, shop: str, at_ms: int | None = None, rules: PointRules | None = None) -> Standing:
    """A shop's points within the window ending at ``at_ms`` (default now) and what they call for."""
    rules = rules or PointRules.default()
    at_ms = int(time.time() * 1000) if at_ms is None else at_ms
    with store.reading() as conn:
        _, status = store.catalogue.shop_status(shop, conn)
        entries = _window_points(store, conn, shop, at_ms, rules)
    total = sum(int(e["points"]) for e in entries)
    return Standing(shop, total, rules.action_for(total), status, entries)


def give_points(
    store: Store,
    shop: str,
    violation: str,
    *,
    reason: str,
    actor: str,
    points: int | None = None,
    subject_id: str | None = None,
    at_ms: int | None = None,
    rules: PointRules | None = None,
) -> Standing:
    """Give a shop points for a violation (the rule set's default points unless ``points`` is given),
    then take the action its window total reaches; all in one transaction, all audited."""
    rules = rules or PointRules.default()
    if not reason.strip():
        raise UserError("points: a reason is required")
    if points is None:
        if violation not in rules.violations:
            known = ", ".join(sorted(rules.violations))
            raise UserError(f"points: unknown violation {violation!r}; known: {known} (or give --points)")
        points = int(rules.violations[violation])
    if not 0 <= points <= MAX_PENALTY_POINTS:
        raise UserError(f"points: between 0 and {MAX_PENALTY_POINTS}, not {points}")
    at_ms = int(time.time() * 1000) if at_ms is None else at_ms
    with store.writing() as conn:
        known, status = store.catalogue.shop_status(shop, conn)
        if not known:
            raise NotFoundError(f"unknown shop {shop!r}")
        store.governance.add_penalty(
            conn,
            {
                "shop_id": shop,
                "at": at_ms,
                "violation": violation,
                "points": points,
                "subject_id": subject_id,
                "reason": reason,
                "actor": actor,
                "ruleset": rules.version,
            },
        )
        total = sum(int(e["points"]) for e in _window_points(store, conn, shop, at_ms, rules))
        store.append_audit(
            conn,
            actor=actor,
            action="points",
            subject_kind="shop",
            subject_id=shop,
            reason=reason,
            before=None,
            after={"violation": violation, "points": points, "window_total": total, "subject": subject_id},
            at_ms=at_ms,
        )
        action = rules.action_for(total)
        target = ACTIONS[action]
        if target is not None and _STATUS_RANK.get(target, 0) > _STATUS_RANK.get(status or "active", 0):
            store.catalogue.set_shop_status(conn, shop, target)
            store.append_audit(
                conn,
                actor=actor,
                action=action,
                subject_kind="shop",
                subject_id=shop,
                reason=f"{total} penalty points within {rules.window_days} days (rules {rules.version})",
                before={"status": status},
                after={"status": target},
                at_ms=at_ms,
            )
    return standing(store, shop, at_ms, rules)
