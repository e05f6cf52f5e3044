"""Test helpers: store snapshots for "nothing changed" checks, and file writers per format."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from xingqu.domain.records import KINDS
from xingqu.store import Store


def records(store: Store, kind: str) -> list[dict[str, Any]]:
    """Every record of a kind in key order, as Python values."""
    out: list[dict[str, Any]] = []
    for batch in store.iter_records(kind):
        out.extend(batch.to_pylist())
    return out


def snapshot(store: Store) -> dict[str, tuple[int, str]]:
    """Row count and content checksum of every table."""
    snap = {}
    for kind in KINDS:
        rows = records(store, kind)
        digest = hashlib.sha256(json.dumps(rows, default=str, ensure_ascii=False).encode()).hexdigest()
        snap[kind] = (len(rows), digest)
    return snap


def write_rows(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> Path:
    """Write rows as CSV, JSON Lines or Parquet (by suffix); None is an empty cell / null."""
    suffix = path.suffix
    if suffix in (".csv", ".tsv"):
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, delimiter="\t" if suffix == ".tsv" else ",")
            w.writerow(columns)
            for r in rows:
                w.writerow(["" if r.get(c) is None else _cell(r[c]) for c in columns])
    elif suffix == ".jsonl":
        with path.open("w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps({c: r.get(c) for c in columns}, ensure_ascii=False) + "\n")
    elif suffix == ".parquet":
        table = pa.table(
            {
                c: pa.array(
                    [_cell(r.get(c)) if r.get(c) is not None else None for r in rows], type=pa.string()
                )
                for c in columns
            }
        )
        pq.write_table(table, path)
    else:
        raise ValueError(suffix)
    return path


def _cell(v: Any) -> str:
    if isinstance(v, list):
        return "|".join(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)
