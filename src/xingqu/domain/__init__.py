"""The vocabulary of the marketplace: record kinds, their fields, enumerations and units."""

from xingqu.domain.records import IMPORT_ORDER, KINDS, FieldSpec, FieldType, KindSpec, kind_spec
from xingqu.domain.vocab import EventType, ProductStatus, Surface

__all__ = [
    "IMPORT_ORDER",
    "KINDS",
    "EventType",
    "FieldSpec",
    "FieldType",
    "KindSpec",
    "ProductStatus",
    "Surface",
    "kind_spec",
]
