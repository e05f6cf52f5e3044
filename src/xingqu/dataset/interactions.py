"""Interactions: (user, item, weight, time) rows from the store's event log or from a plain file."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from xingqu.errors import UserError

#: How much each behaviour says about interest; a refund takes back what the purchase gave.
EVENT_WEIGHTS: dict[str, float] = {
    "click": 1.0,
    "add_to_cart": 2.0,
    "order": 3.0,
    "pay": 4.0,
    "refund": -4.0,
    "review": 1.0,
    "share": 1.5,
}


@dataclass(frozen=True)
class Interactions:
    """Parallel arrays, one row per observed interaction; ids are external strings."""

    users: np.ndarray  # object (str)
    items: np.ndarray  # object (str)
    weights: np.ndarray  # float32
    times: np.ndarray  # int64, seconds or ms — only the order matters

    def __len__(self) -> int:
        return len(self.users)

    def take(self, idx: np.ndarray) -> Interactions:
        return Interactions(self.users[idx], self.items[idx], self.weights[idx], self.times[idx])


def _clean(name: str) -> str:
    """RecBole atomic headers carry a type (``user_id:token``); the name is the part before it."""
    return name.split(":", 1)[0].strip()


def read_interactions(
    path: Path | str,
    *,
    user: str = "user",
    item: str = "item",
    time: str = "timestamp",
    weight: str | None = None,
    event: str | None = None,
    event_weights: dict[str, float] | None = None,
) -> Interactions:
    """Read a CSV/TSV (or RecBole ``.inter``) file with a header row.

    Column names may be given with or without RecBole's ``:type`` suffix. ``weight`` names a rating
    or weight column (else every row weighs 1); ``event`` names an event-type column weighted by
    ``event_weights`` (rows of other types are dropped).
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file")
    with path.open(encoding="utf-8", newline="") as fh:
        first = fh.readline()
    delimiter = "\t" if ("\t" in first or path.suffix in (".tsv", ".inter")) else ","
    header = next(csv.reader([first], delimiter=delimiter))
    names = {_clean(h): h for h in header}
    wanted = {"user": user, "item": item, "time": time, "weight": weight, "event": event}
    cols = {}
    for role, name in wanted.items():
        if name is None:
            continue
        if _clean(name) not in names:
            raise UserError(f"{path}: no column {name!r} for the {role}; columns: {', '.join(names)}")
        cols[role] = names[_clean(name)]
    table = pacsv.read_csv(
        path,
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(
            include_columns=list(cols.values()),
            column_types={cols["user"]: pa.string(), cols["item"]: pa.string()},
        ),
    )
    n = table.num_rows
    w = np.ones(n, dtype=np.float32)
    if "weight" in cols:
        w = table[cols["weight"]].to_numpy().astype(np.float32)
    if "event" in cols:
        weights = event_weights or EVENT_WEIGHTS
        ev = table[cols["event"]].to_numpy(zero_copy_only=False)
        w = w * np.array([weights.get(e, 0.0) for e in ev], dtype=np.float32)
    t = (
        pc.cast(table[cols["time"]], pa.int64()).to_numpy()
        if "time" in cols
        else np.arange(n, dtype=np.int64)
    )
    keep = w != 0
    return Interactions(
        table[cols["user"]].to_numpy(zero_copy_only=False)[keep],
        table[cols["item"]].to_numpy(zero_copy_only=False)[keep],
        w[keep],
        t[keep],
    )
