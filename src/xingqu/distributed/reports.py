"""Reports recounted from the event lake in Spark SQL, row for row the figures the rollups hold."""

from __future__ import annotations

from xingqu.distributed import jobs
from xingqu.distributed.engine import SparkEngine
from xingqu.store import Store


def daily_event_totals(engine: SparkEngine, store: Store) -> list[tuple[int, str, int]]:
    """(marketplace day, event type, events), as ``xingqu.store.rollup_reads.daily_event_totals``."""
    spark = engine.spark
    counts = jobs.daily_counts(
        engine.events(store),
        jobs.catalogue_frame(spark, store, "products", ["product_id", "shop_id"]),
        jobs.catalogue_frame(spark, store, "creators", ["creator_id", "kind"]),
    )
    rows = counts.groupBy("day", "event_type").sum("n").collect()
    return sorted((int(r[0]), str(r[1]), int(r[2])) for r in rows)
