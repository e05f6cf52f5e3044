"""The event lake's upkeep as use cases: what it holds, and compaction (one file a day, each event once)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from xingqu.errors import UserError
from xingqu.runtime import Runtime
from xingqu.store.lake import LakeEventLog, sweep_temporary


def lake_of(runtime: Runtime) -> LakeEventLog:
    """The runtime's event lake, or a clear error when events are kept in the store."""
    lake = runtime.store.lake
    if lake is None:
        raise UserError("no event lake: set XINGQU_EVENTS or pass --events URL (a folder or a URI)")
    return lake


def describe(runtime: Runtime) -> dict[str, Any]:
    """Days, files and events in the lake (each event counted once)."""
    lake = lake_of(runtime)
    days = lake.days()
    files = {d: len(lake.files(d)) for d in days}
    span = lake.time_range()
    return {
        "lake": lake.url,
        "days": len(days),
        "first_day": days[0] if days else None,
        "last_day": days[-1] if days else None,
        "files": sum(files.values()),
        "days_with_several_files": sum(1 for n in files.values() if n > 1),
        "events": lake.count(),
        "first_event_ms": span[0] if span else None,
        "last_event_ms": span[1] if span else None,
    }


def compact(runtime: Runtime, days: list[str] | None = None) -> dict[str, Any]:
    """Rewrite every day (or ``days``) as one file without duplicates; remove temporary files that
    killed imports left behind more than a day ago."""
    lake = lake_of(runtime)
    known = set(lake.days())
    unknown = [d for d in days or [] if d not in known]
    if unknown:
        raise UserError(f"the lake has no day(s) {', '.join(unknown)} (days look like 2026-05-01)")
    report = lake.compact(days or None)
    return asdict(report) | {"temporary_removed": sweep_temporary(lake)}
