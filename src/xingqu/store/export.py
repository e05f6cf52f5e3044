"""Export records to Parquet in their canonical schema, so that importing the files again is lossless."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pyarrow.parquet as pq

from xingqu.domain.arrow import arrow_schema
from xingqu.domain.records import IMPORT_ORDER, kind_spec
from xingqu.outputs import OutputPathError, check_output_folder, replacing
from xingqu.store.store import Store


def export_parquet(
    store: Store,
    out_dir: Path | str,
    kinds: Iterable[str] | None = None,
    *,
    batch_rows: int = 100_000,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Write ``<kind>.parquet`` per kind into ``out_dir``, streamed in batches; returns rows per kind."""
    out = check_output_folder(Path(out_dir), "--out")
    for kind in kinds or IMPORT_ORDER:
        kind_spec(kind)
    try:
        out.mkdir(exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
    written: dict[str, int] = {}
    for kind in kinds or IMPORT_ORDER:
        rows = 0
        with (
            replacing(out / f"{kind}.parquet") as path,
            pq.ParquetWriter(path, arrow_schema(kind), compression="zstd") as writer,
        ):
            for batch in store.iter_records(kind, batch_rows):
                writer.write_batch(batch)
                rows += batch.num_rows
                if progress is not None:
                    progress(kind, rows)
        written[kind] = rows
    return written
