"""Ingestion: readers, validation with row-level errors, and idempotent import into the store."""

from xingqu.ingest.importer import FileReport, ImportReport, import_path, kind_from_name, plan_import

__all__ = ["FileReport", "ImportReport", "import_path", "kind_from_name", "plan_import"]
