"""Simulated users on a running server: ``xingqu sim live``. Each round, some users of the simulated
world ask the real API for their feed; the simulator's behaviour model decides what they do with the
list they got (impressions, clicks, orders, payments; refunds come later), and the app's events are
posted back through ``/v1/events`` with the response's ``request_id`` — the whole path of an online
experiment, end to end: assignment, serving, exposure log, logged impressions, attribution.

The world is regenerated from the same configuration the server's store was simulated from (same
preset, sizes and seed), so its user and product ids are the store's."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xingqu.client import Client
from xingqu.sim.behaviour import SURF, Events, Exposure
from xingqu.sim.config import SimConfig
from xingqu.sim.run import Market
from xingqu.sim.writer import Ids, events_table

#: Events per POST /v1/events.
BATCH = 1_000


@dataclass
class LiveReport:
    """What a live run sent and got."""

    experiment: str | None
    requests: int = 0
    events: int = 0
    users: int = 0
    arms: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {
            "experiment": self.experiment,
            "requests": self.requests,
            "events": self.events,
            "users": self.users,
            "responses_per_arm": dict(sorted(self.arms.items())),
            "seconds": round(self.seconds, 2),
        }


def _rows(
    table: pa.Table, run: str, first: int, ts_ms: int, request_of: dict[tuple[str, str], str]
) -> list[dict[str, Any]]:
    """Event rows for the API: fresh ids, the time of posting, and the request id of the list each
    event's product was in (None for events not about a listed product, e.g. later refunds)."""
    n = table.num_rows
    table = table.set_column(
        table.schema.get_field_index("event_id"),
        "event_id",
        pa.array([f"live-{run}-{first + k:08d}" for k in range(n)], type=pa.string()),
    )
    when = datetime.fromtimestamp(ts_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
    rows = []
    for row in table.to_pylist():
        clean = {k: v for k, v in row.items() if v is not None}
        clean["ts"] = when
        rid = request_of.get((row["user_id"], row.get("product_id") or ""))
        if rid is not None and row["event_type"] != "refund":
            clean["request_id"] = rid
        rows.append(clean)
    return rows


def run_live(
    client: Client,
    cfg: SimConfig,
    experiment: str | None = None,
    *,
    rounds: int = 3,
    users_per_round: int = 200,
    slots: int = 10,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> LiveReport:
    """``rounds`` of feed requests by ``users_per_round`` users each, their responses, and finally the
    refunds that came due; everything through ``client``."""
    t0 = time.perf_counter()
    market = Market(cfg)
    w = market.world
    ids = Ids(w)
    user_ids = ids.users.to_pylist()
    product_index = {p: i for i, p in enumerate(ids.products.to_pylist())}
    state = market.state
    rng = np.random.default_rng([seed, 77])
    run = uuid.uuid4().hex[:8]
    report = LiveReport(experiment)
    seen: set[int] = set()
    sent = 0

    def post(rows: list[dict[str, Any]]) -> None:
        nonlocal sent
        for lo in range(0, len(rows), BATCH):
            client.events(rows[lo : lo + BATCH])
        sent += len(rows)

    for r in range(rounds):
        active = rng.choice(w.n_users, size=min(users_per_round, w.n_users), replace=False)
        day = cfg.days + r
        base = w.start_ms + day * 86_400_000 + 20 * 3_600_000
        market.behaviour.intent.start_visits(state, active, base, day, rng)  # what each visit is after
        users, products, positions, request_of = [], [], [], {}
        for u in active.tolist():
            feed = client.recommend(user_ids[u], slots)
            report.requests += 1
            seen.add(u)
            for arm in feed.get("experiments", []):
                if experiment is None or arm["experiment"] == experiment:
                    report.arms[arm["arm"]] += 1
            listed = [product_index[i["product"]] for i in feed["items"] if i["product"] in product_index]
            for pos, p in enumerate(listed):
                users.append(u)
                products.append(p)
                positions.append(pos)
                request_of[(user_ids[u], ids.products[p].as_py())] = feed["request_id"]
        if not users:
            continue
        exp = Exposure(
            np.asarray(users, np.int64),
            np.asarray(products, np.int64),
            np.asarray(positions, np.int64),
            np.full(len(users), SURF["feed"], np.int8),
            np.full(len(users), -1, np.int64),
            base + np.asarray(positions, np.int64) * 20_000,
        )
        events = market.behaviour.respond(exp, day, state, market.day_rng(day, 6))
        state.sales *= 0.85
        table = events_table(events, ids, day)
        table = table.filter(pc.invert(pc.is_in(table["event_type"], pa.array(["review"]))))
        post(_rows(table, run, sent, int(time.time() * 1000), request_of))
        if progress is not None:
            progress(r + 1, rounds)
    later = Events.concat([e for parts in state.pending.values() for e in parts])
    state.pending.clear()
    if len(later):
        post(_rows(events_table(later, ids, cfg.days + rounds), run, sent, int(time.time() * 1000), {}))
    report.events = sent
    report.users = len(seen)
    report.seconds = time.perf_counter() - t0
    return report
