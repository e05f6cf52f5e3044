"""The canonical Arrow schema of each record kind: what ingest produces and export writes."""

from __future__ import annotations

from functools import cache

import pyarrow as pa

from xingqu.domain.records import FieldType, kind_spec

TIMESTAMP_TYPE = pa.timestamp("ms", tz="UTC")

_ARROW_TYPES: dict[FieldType, pa.DataType] = {
    FieldType.ID: pa.string(),
    FieldType.TEXT: pa.string(),
    FieldType.INT: pa.int64(),
    FieldType.MONEY: pa.int64(),
    FieldType.FLOAT: pa.float64(),
    FieldType.BOOL: pa.bool_(),
    FieldType.TIMESTAMP: TIMESTAMP_TYPE,
    FieldType.ENUM: pa.string(),
    FieldType.TAGS: pa.list_(pa.string()),
}


def arrow_type(ftype: FieldType) -> pa.DataType:
    """Arrow type that carries values of a field type."""
    return _ARROW_TYPES[ftype]


@cache
def arrow_schema(kind: str) -> pa.Schema:
    """Schema of a kind's records, field order as declared; key and required fields not nullable."""
    spec = kind_spec(kind)
    return pa.schema(
        [
            pa.field(f.name, _ARROW_TYPES[f.type], nullable=not (f.required or f.name in spec.key))
            for f in spec.fields
        ]
    )
