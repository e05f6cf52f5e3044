"""Interactions: (user, item, weight, time) rows from the store's event log or from a plain file."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from xingqu.domain.records import MAX_RECORD_BYTES
from xingqu.errors import NotFoundError, UserError

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
        raise NotFoundError(f"{path}: no such file")
    if not path.is_file():
        raise UserError(f"{path}: not a file")
    with path.open("rb") as raw:
        head = raw.readline(MAX_RECORD_BYTES + 1)
    try:
        first = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"{path}, line 1: not valid UTF-8 at byte {exc.start}; is it a CSV/TSV file?"
        ) from None
    if not first.strip() or len(head) > MAX_RECORD_BYTES:
        raise UserError(f"{path}: no header row (the first line names the columns)")
    delimiter = "\t" if ("\t" in first or path.suffix in (".tsv", ".inter")) else ","
    header = next(csv.reader([first.rstrip("\r\n")], delimiter=delimiter))
    names = {_clean(h): h for h in header}
    wanted = {"user": user, "item": item, "time": time, "weight": weight, "event": event}
    cols = {}
    for role, name in wanted.items():
        if name is None:
            continue
        if _clean(name) not in names:
            raise UserError(f"{path}: no column {name!r} for the {role}; columns: {', '.join(names)}")
        cols[role] = names[_clean(name)]
    types = {cols["user"]: pa.string(), cols["item"]: pa.string()}
    if "event" in cols:
        types[cols["event"]] = pa.string()
    try:
        table = pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(include_columns=list(cols.values()), column_types=types),
        )
    except (pa.ArrowException, OSError) as exc:
        raise UserError(f"{path}: cannot be read as a table: {exc}") from None
    if table.num_rows == 0:
        raise UserError(f"{path}: the header has no rows under it")
    for role in ("user", "item", "time", "weight", "event"):
        if role in cols and table[cols[role]].null_count:
            raise UserError(f"{path}: column {cols[role]!r} ({role}) has empty cells")
    n = table.num_rows
    w = np.ones(n, dtype=np.float32)
    if "weight" in cols:
        w = _numbers(path, table[cols["weight"]], cols["weight"], np.float32)
    if "event" in cols:
        weights = event_weights or EVENT_WEIGHTS
        ev = table[cols["event"]].to_numpy(zero_copy_only=False)
        w = w * np.array([weights.get(e, 0.0) for e in ev], dtype=np.float32)
    t = (
        _numbers(path, table[cols["time"]], cols["time"], np.int64)
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


def _numbers(path: Path, column: pa.ChunkedArray, name: str, dtype: type[np.generic]) -> np.ndarray:
    """A numeric column as ``dtype``; a column of other values, of non-finite numbers or (for whole
    numbers) of fractions or values beyond 64 bits is refused, naming it."""
    t = column.type
    if not (pa.types.is_integer(t) or pa.types.is_floating(t)):
        raise UserError(f"{path}: column {name!r} must hold numbers, it holds {t}")
    if pa.types.is_floating(t) and pc.any(pc.invert(pc.is_finite(column))).as_py():
        raise UserError(f"{path}: column {name!r} holds NaN or infinite values")
    if dtype is np.int64:
        try:
            return pc.cast(column, pa.int64()).to_numpy()
        except pa.ArrowInvalid as exc:
            raise UserError(f"{path}: column {name!r} must hold whole numbers ({exc})") from None
    values = column.to_numpy().astype(np.float64)
    if np.abs(values).max(initial=0) > 1e30:
        raise UserError(f"{path}: column {name!r} holds numbers too large to weigh")
    return values.astype(dtype)
