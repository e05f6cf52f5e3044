"""Every user's feed scored on Spark: users spread over the executors, each executor loading the model
version once and ranking its users through the same feed pipeline serving uses (``mapInPandas``),
each under their running experiments' arms as the API serves them; written as Parquet partitioned by
user bucket."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from xingqu.distributed.engine import SparkEngine

if TYPE_CHECKING:
    import pandas as pd

#: Buckets of the output (``bucket=NN`` folders), by a hash of the user id.
BUCKETS = 16
SCHEMA = "user_id string, rank int, product_id string"


def score_all_users(
    engine: SparkEngine,
    parts: dict[str, Any],
    users: list[str],
    out: str,
    n: int = 20,
    filters: dict[str, Any] | None = None,
) -> int:
    """Write the top ``n`` products of every one of ``users`` to ``out`` (a Parquet folder, one row per
    user and rank); ``parts`` are the runtime overrides (db, models_dir, events, the version) an
    executor opens the same store and model with. Returns the rows written."""
    spark = engine.spark
    filters = dict(filters or {})
    frame = spark.createDataFrame(pa.table({"user_id": pa.array(users, pa.string())}))
    frame = frame.repartition(max(spark.sparkContext.defaultParallelism, 1))
    opened = dict(parts)
    version = opened.pop("version", None)

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import pandas as pd

        from xingqu.runtime import Runtime
        from xingqu.services.batch import ranked

        runtime = Runtime(**opened)
        for pdf in batches:
            rows: dict[str, list[Any]] = {"user_id": [], "rank": [], "product_id": []}
            for served in ranked(runtime, pdf["user_id"].tolist(), n, version, filters):
                for k, item in enumerate(served.result.items, 1):
                    rows["user_id"].append(served.result.user)
                    rows["rank"].append(k)
                    rows["product_id"].append(item.product_id)
            yield pd.DataFrame(rows).astype({"rank": "int32"})

    from pyspark.sql import functions as F

    scored = frame.mapInPandas(score, SCHEMA).withColumn(
        "bucket", F.pmod(F.xxhash64("user_id"), F.lit(BUCKETS)).cast("int")
    )
    scored = scored.cache()
    scored.write.mode("overwrite").partitionBy("bucket").parquet(_spark_path(out))
    written = scored.count()
    scored.unpersist()
    return int(written)


def _spark_path(out: str) -> str:
    import os

    return out if "://" in out else "file://" + os.path.abspath(out)
