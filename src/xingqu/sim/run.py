"""``simulate``: a seeded month of marketplace behaviour, written as importable files plus truth."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from xingqu.errors import UserError
from xingqu.sim.behaviour import EV, EVENT_TYPES, Behaviour, Events, MarketState
from xingqu.sim.config import SimConfig
from xingqu.sim.exposure import OrganicTraffic
from xingqu.sim.misconduct import brushing_events, plant
from xingqu.sim.world import World, generate_world
from xingqu.sim.writer import (
    PARQUET_OPTIONS,
    Ids,
    events_table,
    write_catalog,
    write_motion_truth,
    write_truth,
)

CALIBRATION_USERS = 50_000


@dataclass
class SimReport:
    """What a simulation wrote, and how fast."""

    out: str
    records: dict[str, int]
    events: int = 0
    events_by_type: dict[str, int] = field(default_factory=dict)
    paid_gmv_fen: int = 0
    refunded_fen: int = 0
    seconds: float = 0.0

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


class Market:
    """A world with its calibrated behaviour and organic traffic, ready to run day by day."""

    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.world: World = generate_world(cfg)
        self.behaviour = Behaviour(self.world)
        self.traffic = OrganicTraffic(self.world, self.behaviour.intent)
        self.state: MarketState = self.behaviour.initial_state()
        self.behaviour.intent.warm(self.state, np.random.default_rng([cfg.seed, 22]))
        #: Every organic visit (users, intents, start ms) when a list is set here (the truth files).
        self.visit_log: list[tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
        rng = np.random.default_rng([cfg.seed, 1])
        sample = np.arange(min(cfg.users, CALIBRATION_USERS))
        exposure = self.traffic.exposures(sample, 0, self.state, rng)
        self.behaviour.calibrate(exposure, self.state)
        # misconduct goes where a shop's expected volume lets monitoring see it
        paid = np.bincount(
            self.world.p_shop[exposure.products],
            weights=self.behaviour.paid_chance(exposure, self.state),
            minlength=len(self.world.s_type),
        )
        plant(self.world, paid * cfg.users / len(sample))

    def day_rng(self, day: int, stream: int = 2) -> np.random.Generator:
        return np.random.default_rng([self.cfg.seed, stream, day])

    def organic_day(self, day: int, state: MarketState | None = None) -> list[Events]:
        """One day of organic traffic, in user chunks; refunds due today come first."""
        state = state or self.state
        rng = self.day_rng(day)
        parts = state.pending.pop(day, [])
        for lo in range(0, self.cfg.users, self.cfg.chunk_users):
            users = np.arange(lo, min(lo + self.cfg.chunk_users, self.cfg.users))
            exp = self.traffic.exposures(users, day, state, rng)
            if self.visit_log is not None and self.traffic.last_visits is not None:
                self.visit_log.append(self.traffic.last_visits)
            parts.append(self.behaviour.respond(exp, day, state, rng))
        parts.extend(brushing_events(self.world, day, state, self.day_rng(day, stream=11)))
        state.sales *= 0.85  # popularity remembers about a week
        return parts


def prepare_out(out: Path) -> None:
    """Make ``out`` ready: create it, or clear an earlier simulation there; refuse any other folder."""
    if out.exists() and any(out.iterdir()):
        if not (out / "truth" / "summary.json").exists():
            raise UserError(f"{out} is not empty and holds no earlier simulation; choose an empty folder")
        for f in out.glob("*.parquet"):
            f.unlink()
        shutil.rmtree(out / "truth")
    out.mkdir(parents=True, exist_ok=True)


def simulate(
    cfg: SimConfig, out: Path | str, progress: Callable[[int, int], None] | None = None
) -> SimReport:
    """Generate the world and ``cfg.days`` days of events into ``out`` (catalog, events-*.parquet, truth/)."""
    start = time.perf_counter()
    out = Path(out)
    prepare_out(out)
    market = Market(cfg)
    ids = Ids(market.world)
    report = SimReport(str(out), write_catalog(market.world, ids, out))
    market.visit_log = []
    counts: Counter[str] = Counter()
    daily_gmv: list[int] = []
    for day in range(cfg.days):
        date = (datetime.fromisoformat(cfg.start) + timedelta(days=day)).date()
        path = out / f"events-{date.isoformat()}.parquet"
        writer: pq.ParquetWriter | None = None
        seq = 0
        gmv = 0
        for part in market.organic_day(day):
            if len(part) == 0:
                continue
            table = events_table(part, ids, day, seq)
            seq += table.num_rows
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, **PARQUET_OPTIONS)
            writer.write_table(table)
            types = np.bincount(part.etype, minlength=len(EVENT_TYPES))
            counts.update({EVENT_TYPES[i]: int(n) for i, n in enumerate(types) if n})
            gmv += int(part.amount[part.etype == EV["pay"]].sum())
            report.refunded_fen += int(part.amount[part.etype == EV["refund"]].sum())
        if writer is not None:
            writer.close()
        daily_gmv.append(gmv)
        report.paid_gmv_fen += gmv
        if progress is not None:
            progress(day + 1, cfg.days)
    report.events = sum(counts.values())
    report.events_by_type = dict(sorted(counts.items()))
    late = sum(len(e) for parts in market.state.pending.values() for e in parts)
    motion = write_motion_truth(market.world, market.behaviour.intent, ids, out / "truth", market.visit_log)
    write_truth(
        market.world,
        ids,
        out / "truth",
        {
            "records": report.records,
            "events": report.events,
            "events_by_type": report.events_by_type,
            "paid_gmv_fen": report.paid_gmv_fen,
            "refunded_fen": report.refunded_fen,
            "daily_paid_gmv_fen": daily_gmv,
            "refunds_after_window": late,
            "interest_in_motion": motion,
            "calibration": {
                "click_intercept": market.behaviour.a_click,
                "order_intercept": market.behaviour.a_order,
            },
        },
    )
    report.seconds = time.perf_counter() - start
    return report
