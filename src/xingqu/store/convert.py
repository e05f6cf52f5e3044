"""Between the canonical Arrow form of records and their storage form (ints for times, JSON for tags)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from xingqu.domain.arrow import TIMESTAMP_TYPE, arrow_schema
from xingqu.domain.records import FieldType, kind_spec


def _tags_to_json(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    return pa.array(
        [None if v is None else json.dumps(v, ensure_ascii=False) for v in col.to_pylist()],
        type=pa.string(),
    )


def to_storage(kind: str, table: pa.Table) -> pa.Table:
    """Canonical records → columns as the store keeps them (timestamps as int ms, tags as JSON text)."""
    spec = kind_spec(kind)
    cols: list[pa.Array | pa.ChunkedArray] = []
    for f in spec.fields:
        col = table.column(f.name)
        if f.type is FieldType.TIMESTAMP:
            col = pc.cast(col, pa.int64())
        elif f.type is FieldType.TAGS:
            col = _tags_to_json(col)
        cols.append(col)
    return pa.table(cols, names=list(spec.columns))


def from_storage_rows(
    kind: str, rows: Sequence[Sequence[Any]], columns: Sequence[str] | None = None
) -> pa.RecordBatch:
    """Rows read from the store (columns in declared order, or ``columns`` in that order) → a canonical
    record batch of those columns."""
    spec = kind_spec(kind)
    schema = arrow_schema(kind)
    fields = spec.fields if columns is None else [spec.field(c) for c in columns]
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns])
    values_of = list(zip(*rows, strict=True)) if rows else [() for _ in fields]
    arrays: list[pa.Array] = []
    for f, values in zip(fields, values_of, strict=True):
        if f.type is FieldType.TIMESTAMP:
            arr = pc.cast(pa.array(values, type=pa.int64()), TIMESTAMP_TYPE)
        elif f.type is FieldType.TAGS:
            arr = pa.array([None if v is None else json.loads(v) for v in values], type=pa.list_(pa.string()))
        elif f.type is FieldType.BOOL:
            arr = pa.array([None if v is None else bool(v) for v in values], type=pa.bool_())
        else:
            arr = pa.array(values, type=schema.field(f.name).type)
        arrays.append(arr)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
