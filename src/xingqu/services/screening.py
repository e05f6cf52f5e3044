"""Listing screening as use cases: screen listings against the store's shops, brands, listings and
prices (queueing those that need a person), import records with products screened before they are
written, and read the review queue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import Progress

from xingqu.governance import Decision, Screener, review
from xingqu.governance.context import ScreeningContext
from xingqu.ingest import ImportReport, import_path
from xingqu.runtime import Runtime


@dataclass
class ScreeningSession:
    """One stream of listings screened in order (each later listing compared with the earlier ones);
    with ``queue``, the listings decided "review" are queued when the session is finished."""

    runtime: Runtime
    screener: Screener
    context: ScreeningContext
    queue: bool = False
    held: list[tuple[Decision, dict[str, Any]]] = field(default_factory=list)

    def screen(self, listing: dict[str, Any]) -> Decision:
        """Decide one listing (approve, review or reject, with reasons)."""
        decision = self.context.screen(listing)
        if self.queue and decision.decision == "review":
            self.held.append((decision, listing))
        return decision

    def finish(self) -> ScreeningSummary:
        """Queue what was held for review (creating the schema if needed) and sum the decisions up."""
        queued = None
        if self.queue:
            self.runtime.store.init()
            queued = review.enqueue(self.runtime.store, self.held)
            self.held = []
        return ScreeningSummary(self.screener.version, dict(self.context.counts), queued)


@dataclass(frozen=True)
class ScreeningSummary:
    """A finished screening session: the rule set, decisions per kind, listings queued (None: not asked)."""

    ruleset: str
    counts: dict[str, int]
    queued: int | None

    def to_dict(self) -> dict[str, object]:
        return {"ruleset": self.ruleset, "counts": self.counts, "queued": self.queued}


def start_screening(runtime: Runtime, rules: Path | None = None, queue: bool = False) -> ScreeningSession:
    """A screening session with the built-in rules (or those of the TOML file ``rules``), over what the
    store knows (nothing, when it has no schema yet)."""
    screener = Screener.from_file(rules) if rules else Screener.default()
    return ScreeningSession(runtime, screener, ScreeningContext.from_store(runtime.store, screener), queue)


def screen_listings(
    runtime: Runtime, listings: Iterable[dict[str, Any]], rules: Path | None = None, queue: bool = False
) -> tuple[list[Decision], ScreeningSummary]:
    """Screen a batch of listings in order: their decisions and the session's summary."""
    session = start_screening(runtime, rules, queue)
    decisions = [session.screen(listing) for listing in listings]
    return decisions, session.finish()


def import_records(
    runtime: Runtime,
    path: Path | str,
    *,
    kind: str | None = None,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
    progress: Progress | None = None,
    screen: bool = False,
) -> ImportReport:
    """Import a file or folder in one transaction (``xingqu.ingest.import_path``) with the runtime's
    settings; with ``screen``, products are screened by the built-in rules before they are written."""
    return import_path(
        runtime.store,
        path,
        kind=kind,
        skip_invalid=skip_invalid,
        rejects_path=rejects_path,
        progress=progress,
        settings=runtime.settings,
        screener=Screener.default() if screen else None,
    )


def review_queue(runtime: Runtime, status: str | None = "open", limit: int = 100) -> list[dict[str, Any]]:
    """Review queue entries, oldest first (of one status, or all with None), reasons as a list."""
    runtime.store.require_ready()
    return review.entries(runtime.store, status, limit)
