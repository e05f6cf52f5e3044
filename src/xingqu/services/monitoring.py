"""Store monitoring as a use case: flags with evidence and experience scores for every shop, and,
when asked, the scores written to the shops (audited)."""

from __future__ import annotations

from dataclasses import dataclass

from xingqu.governance.monitoring import MonitorReport, MonitorSettings, check_stores, store_scores
from xingqu.runtime import Runtime


@dataclass
class StoreCheck:
    """A monitoring run: the report, its settings and how many scores were written."""

    report: MonitorReport
    settings: MonitorSettings
    scores_written: int = 0

    def to_dict(self) -> dict[str, object]:
        """The run as one JSON document (``xingqu stores check --json``)."""
        return {**self.report.to_dict(), "scores_written": self.scores_written}


def check(
    runtime: Runtime,
    window_days: int = MonitorSettings.window_days,
    update_scores: bool = False,
    actor: str = "cli",
) -> StoreCheck:
    """Flag refund spikes, order brushing and review collapses over ``window_days``-day windows, and
    score every shop's experience; with ``update_scores``, write the scores to the shops as ``actor``."""
    runtime.store.require_ready()
    settings = MonitorSettings(window_days=window_days)
    report = check_stores(runtime.store, settings)
    changed = store_scores(runtime.store, report, actor) if update_scores else 0
    return StoreCheck(report, settings, changed)
