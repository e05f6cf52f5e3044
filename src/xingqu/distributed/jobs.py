"""Spark jobs over the event lake, each the twin of a one-machine computation and equal to it: weighted
interactions (refunds subtract, time decay), popularity, bought-together co-occurrence, the daily
rollups, the event sums behind user profiles and product statistics, the ranker's labelled
impressions, and ALS factors through ``pyspark.ml``. Results too large to collect come back to the
driver through Parquet files (``fetch``)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import scipy.sparse as sp

from xingqu.dataset import Vocabulary
from xingqu.dataset.interactions import EVENT_WEIGHTS
from xingqu.domain.arrow import arrow_schema
from xingqu.errors import UserError
from xingqu.features.profiles import (
    ENGAGED_EVENTS,
    INTEREST_HALF_LIFE_DAYS,
    PRICE_WEIGHTS,
    SHOWN_DAYS,
    TREND_BASE_DAYS,
    TREND_RECENT_DAYS,
    Catalogue,
    EventSums,
    pair_matrix,
)
from xingqu.feed_training import Impressions, grouped_impressions, impression_labels
from xingqu.store import Store
from xingqu.store.lake import DAY_MS, LakeEventLog

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

#: Marketplace time (UTC+8) for the daily rollups, as ``xingqu.store.rollups`` counts days.
MARKET_UTC_OFFSET_MS = 8 * 3_600_000
SELF_KINDS = ("shop_official", "shop_channel")
COBUY_WINDOW_MS = 7 * 86_400_000
#: The lake's folder (beside ``events/``) where Spark leaves results too large to collect.
SCRATCH_DIR = "scratch"


def lake_path(lake: LakeEventLog) -> str:
    """The lake's events folder as a Spark path (``file://…`` for a local folder)."""
    if "://" not in lake.url:
        return "file://" + lake.events_root
    return lake.url.rstrip("/") + "/events"


@contextlib.contextmanager
def scratch(frame: DataFrame, lake: LakeEventLog) -> Iterator[ds.Dataset]:
    """A frame written as Parquet to the lake's scratch folder, open as a pyarrow dataset on the driver
    (read it by the columns and rows needed), removed afterwards. Collecting the rows instead
    (``toArrow``) holds every task's result in the driver's Java heap at once, which tens of millions
    of rows do not fit beside the cached events."""
    name = f"{SCRATCH_DIR}/{uuid.uuid4().hex}"
    root = f"{lake.root.rstrip('/')}/{name}"
    spark_path = "file://" + root if "://" not in lake.url else f"{lake.url.rstrip('/')}/{name}"
    try:
        frame.write.mode("overwrite").parquet(spark_path)
        yield ds.dataset(root, filesystem=lake.fs, format="parquet")
    finally:
        with contextlib.suppress(OSError, FileNotFoundError):
            lake.fs.delete_dir(root)


def fetch(frame: DataFrame, lake: LakeEventLog) -> pa.Table:
    """A frame's rows on the driver as an Arrow table, through ``scratch``."""
    with scratch(frame, lake) as data:
        return data.to_table()


def indexed(frame: DataFrame, column: str, vocab: Vocabulary, name: str) -> DataFrame:
    """``frame`` with ``name``, the int32 index of its ``column`` in ``vocab`` (-1: unknown or null),
    instead of the id: joined on Spark, so that ids never reach the driver."""
    from pyspark.sql import functions as F

    spark = frame.sparkSession
    table = pa.table(
        {column: pa.array(vocab.ids, pa.string()), name: pa.array(np.arange(len(vocab), dtype=np.int32))}
    )
    joined = frame.join(F.broadcast(spark.createDataFrame(table)), column, "left").drop(column)
    return joined.withColumn(name, F.coalesce(F.col(name), F.lit(-1)))


def events_frame(spark: SparkSession, lake: LakeEventLog, columns: Sequence[str] | None = None) -> DataFrame:
    """The lake's events, each once (deduplicated by ``event_id``), with ``ts_ms`` (UTC milliseconds)
    beside ``ts``; ``columns`` only (and those two) when given."""
    from pyspark.sql import functions as F

    files = [len(lake.files(d)) for d in lake.days()]
    if not any(files):
        raise UserError(f"the event lake {lake.url} holds no events; import some first")
    path = lake_path(lake)
    df = spark.read.option("basePath", path).parquet(path).drop("date")
    if columns is not None:
        df = df.select(*dict.fromkeys(["event_id", "ts", *columns]))
    if max(files) > 1:  # one file holds each event once: only days of several files need the shuffle
        df = df.dropDuplicates(["event_id"])
    return df.withColumn("ts_ms", F.unix_millis(F.col("ts")))


def weighted_interactions(
    events: DataFrame, weights: dict[str, float] | None = None, half_life_days: float | None = None
) -> DataFrame:
    """(user_id, product_id, weight): summed event weights per pair (a refund's weight is negative),
    each decayed by its age before the latest interaction when ``half_life_days`` is given, pairs at
    or below zero dropped — ``Dataset.build``'s matrix."""
    from pyspark.sql import functions as F

    weights = weights or EVENT_WEIGHTS
    kinds = [k for k, w in weights.items() if w != 0]
    table = F.create_map(*[F.lit(x) for k in kinds for x in (k, float(weights[k]))])
    e = events.where(F.col("product_id").isNotNull() & F.col("event_type").isin(kinds))
    e = e.withColumn("w", table[F.col("event_type")])
    if half_life_days:
        latest = e.agg(F.max("ts_ms")).first()[0]
        if latest is not None:
            age = (F.lit(int(latest)) - F.col("ts_ms")) / F.lit(float(DAY_MS))
            e = e.withColumn("w", F.col("w") * F.pow(F.lit(0.5), age / F.lit(float(half_life_days))))
    pairs = e.groupBy("user_id", "product_id").agg(F.sum("w").alias("weight"))
    return pairs.where(F.col("weight") > 0)


def popularity(pairs: DataFrame) -> DataFrame:
    """(product_id, users): how many users have a positive weight with each product (``popular``)."""
    from pyspark.sql import functions as F

    return pairs.groupBy("product_id").agg(F.countDistinct("user_id").alias("users"))


def popularity_by_segment(
    pairs: DataFrame, users: DataFrame, segment: str = "consumption_level"
) -> DataFrame:
    """(segment, product_id, users, rank): popularity within each user segment, ranked (1 = most)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    joined = pairs.join(
        users.select("user_id", F.coalesce(F.col(segment), F.lit("")).alias("segment")), "user_id"
    )
    counted = joined.groupBy("segment", "product_id").agg(F.countDistinct("user_id").alias("users"))
    order = Window.partitionBy("segment").orderBy(F.desc("users"), F.asc("product_id"))
    return counted.withColumn("rank", F.row_number().over(order))


def bought_together(events: DataFrame, min_support: int = 2) -> tuple[DataFrame, int]:
    """((a, b, support, buyers_a, buyers_b), buyers): pay events of one user within 7 days of each other
    counted per ordered product pair, kept at ``min_support`` or more, with each product's pay count;
    ``buyers`` is how many users paid at all — ``xingqu.training.bought_together``'s inputs to lift."""
    from pyspark.sql import functions as F

    p = events.where((F.col("event_type") == "pay") & F.col("product_id").isNotNull()).select(
        "event_id", "user_id", "product_id", "ts_ms"
    )
    a, b = p.alias("a"), p.alias("b")
    pairs = a.join(
        b,
        (F.col("a.user_id") == F.col("b.user_id"))
        & (F.col("a.event_id") < F.col("b.event_id"))
        & (F.abs(F.col("a.ts_ms") - F.col("b.ts_ms")) <= COBUY_WINDOW_MS)
        & (F.col("a.product_id") != F.col("b.product_id")),
    )
    one = pairs.select(F.col("a.product_id").alias("a"), F.col("b.product_id").alias("b"))
    both = one.unionAll(one.select(F.col("b").alias("a"), F.col("a").alias("b")))
    support = both.groupBy("a", "b").agg(F.count("*").alias("support")).where(F.col("support") >= min_support)
    paid = p.groupBy("product_id").agg(F.count("*").alias("n"))
    out = support.join(paid.select(F.col("product_id").alias("a"), F.col("n").alias("buyers_a")), "a").join(
        paid.select(F.col("product_id").alias("b"), F.col("n").alias("buyers_b")), "b"
    )
    buyers = p.select("user_id").distinct().count()
    return out, int(buyers)


def last_event_ms(events: DataFrame) -> int:
    """The latest event's time (UTC ms), 0 for no events: the "now" that profile ages count back from."""
    from pyspark.sql import functions as F

    latest = events.agg(F.max("ts_ms")).first()[0]
    return int(latest) if latest is not None else 0


def _kept_pays(events: DataFrame) -> DataFrame:
    """The events, each with ``kept``: a pay whose order was never refunded by any refund of the log
    (``kept_pays``; filter after, not before, or the refunds are gone)."""
    from pyspark.sql import functions as F

    refunded = (
        events.where((F.col("event_type") == "refund") & F.col("order_id").isNotNull())
        .select("order_id")
        .distinct()
        .withColumn("refunded", F.lit(True))
    )
    joined = events.join(refunded, "order_id", "left")
    return joined.withColumn("kept", (F.col("event_type") == "pay") & F.col("refunded").isNull())


def profile_pairs(events: DataFrame, now_ms: int) -> DataFrame:
    """Per (user_id, product_id), the sums ``xingqu.features.profiles.event_sums`` takes from the log:
    ``interest`` (EVENT_WEIGHTS, a refund 0, halved every INTEREST_HALF_LIFE_DAYS before ``now_ms``),
    ``price`` (PRICE_WEIGHTS), ``recent`` and ``base`` (undecayed weights of the trend windows),
    ``last_pay_ms`` (latest kept pay), ``shown`` and ``engaged`` (impressions and engaging events of
    the last SHOWN_DAYS), ``pays`` and ``refunds``; a null ``user_id`` is a pair too."""
    from pyspark.sql import functions as F

    def table(weights: dict[str, float]) -> Any:
        kinds = [k for k, v in weights.items() if v > 0]
        m = F.create_map(*[F.lit(x) for k in kinds for x in (k, float(weights[k]))])
        return F.coalesce(m[F.col("event_type")], F.lit(0.0))

    e = _kept_pays(events).where(F.col("product_id").isNotNull())
    kind = F.col("event_type")
    raw = table(EVENT_WEIGHTS)
    age = (F.lit(now_ms) - F.col("ts_ms")) / F.lit(float(DAY_MS))
    window = F.col("ts_ms") >= F.lit(now_ms - SHOWN_DAYS * DAY_MS)
    return e.groupBy("user_id", "product_id").agg(
        F.sum(raw * F.pow(F.lit(0.5), age / F.lit(INTEREST_HALF_LIFE_DAYS))).alias("interest"),
        F.sum(table(PRICE_WEIGHTS)).alias("price"),
        F.sum(F.when(age < F.lit(TREND_RECENT_DAYS), raw).otherwise(0.0)).alias("recent"),
        F.sum(F.when(age < F.lit(TREND_BASE_DAYS), raw).otherwise(0.0)).alias("base"),
        F.max(F.when(F.col("kept"), F.col("ts_ms"))).alias("last_pay_ms"),
        F.count(F.when(window & (kind == "impression"), 1)).alias("shown"),
        F.count(F.when(window & kind.isin(*ENGAGED_EVENTS), 1)).alias("engaged"),
        F.count(F.when(kind == "pay", 1)).alias("pays"),
        F.count(F.when(kind == "refund", 1)).alias("refunds"),
    )


def repurchase_days(events: DataFrame, users: DataFrame, items: DataFrame) -> DataFrame:
    """(level1, days): per level-1 category (``items``: product_id, level1), the median days between
    two consecutive kept purchases of one product by one user (of ``users``: user_id), a day or more
    apart — ``_repurchase_days``'s median, interpolated as numpy's."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    kept = _kept_pays(events).where(F.col("kept") & F.col("product_id").isNotNull())
    kept = kept.join(users, "user_id", "left_semi").join(items, "product_id")
    order = Window.partitionBy("user_id", "product_id").orderBy("ts_ms")
    gap = (F.col("ts_ms") - F.lag("ts_ms").over(order)) / F.lit(float(DAY_MS))
    gaps = kept.select("level1", gap.alias("gap")).where((F.col("gap") >= 1.0) & (F.col("level1") >= 0))
    return gaps.groupBy("level1").agg(F.percentile("gap", F.lit(0.5)).alias("days"))


def profile_sums(
    pairs: DataFrame,
    repurchase: DataFrame,
    now_ms: int,
    users: Vocabulary,
    cat: Catalogue,
    lake: LakeEventLog,
) -> EventSums:
    """``EventSums`` of ``profile_pairs`` and ``repurchase_days``, aligned with ``users`` and
    ``cat.items`` (unknown ids dropped, but from the pay and refund counts only unknown products). The
    pairs come back with their indices through ``scratch``; each matrix reads only its own rows (most
    pairs are impressions alone, in no matrix but ``shown``) and the per-product sums are added up
    batch by batch: dyadic weights and counts, so in any order exactly."""
    from pyspark.sql import functions as F

    n = len(cat.items)
    shape = (len(users), n)
    frame = indexed(indexed(pairs, "product_id", cat.items, "i"), "user_id", users, "u")
    sums = {k: np.zeros(n) for k in ("recent", "base", "pays", "refunds")}
    with scratch(frame.where(F.col("i") >= 0), lake) as data:
        ok = ds.field("u") >= 0

        def part(columns: list[str], where: ds.Expression) -> pa.Table:
            return data.to_table(columns=["u", "i", *columns], filter=ok & where)

        def arrays(t: pa.Table, name: str, dtype: type = np.float64) -> tuple[np.ndarray, ...]:
            return tuple(
                np.asarray(t[c].to_numpy(zero_copy_only=False), d)
                for c, d in (("u", np.int64), ("i", np.int64), (name, dtype))
            )

        t = part(["interest", "price"], (ds.field("interest") != 0) | (ds.field("price") != 0))
        u, i, interest = arrays(t, "interest")
        interest_m = pair_matrix(u, i, interest, shape)
        price_m = pair_matrix(u, i, arrays(t, "price")[2], shape)
        del t, u, i, interest
        u, i, last = arrays(
            part(["last_pay_ms"], ds.field("last_pay_ms").is_valid()), "last_pay_ms", np.int64
        )
        bought = sp.csr_matrix((last / DAY_MS, (u, i)), shape=shape)
        u, i, shown = arrays(
            part(["shown"], (ds.field("shown") > 0) & (ds.field("engaged") == 0)), "shown", np.float32
        )
        ignored = sp.csr_matrix((shown, (u, i)), shape=shape)
        for batch in data.to_batches(columns=["u", "i", "recent", "base", "pays", "refunds"]):
            u = np.asarray(batch["u"].to_numpy(zero_copy_only=False), np.int64)
            i = np.asarray(batch["i"].to_numpy(zero_copy_only=False), np.int64)
            known = u >= 0
            for name in sums:
                w = np.asarray(batch[name].to_numpy(zero_copy_only=False), np.float64)
                at = known if name in ("recent", "base") else slice(None)
                sums[name] += np.bincount(i[at], weights=w[at], minlength=n)
    days = np.full(len(cat.categories), np.inf)
    for r in repurchase.collect():
        days[int(r["level1"])] = float(r["days"])
    return EventSums(
        now_ms,
        interest_m,
        price_m,
        bought,
        ignored,
        sums["recent"],
        sums["base"],
        sums["pays"],
        sums["refunds"],
        days,
    )


def impression_frames(
    events: DataFrame, users: Vocabulary, items: Vocabulary, since_ms: int
) -> tuple[DataFrame, DataFrame]:
    """(impressions, kept) of the events at or after ``since_ms`` by known users of known products (as
    indices ``u`` and ``i``), as ``labelled_impressions`` reads them: every impression (event_id, u,
    i, day, ts_ms, position) with ``acted`` (clicked, carted, ordered or paid for that day) and
    ``paid`` (the amount of the last kept pay of that day, by event id; null when none); and per (u,
    i, day) bought and kept, ``paid``. A pay is kept unless a refund at or after ``since_ms`` takes
    its order back."""
    from pyspark.sql import functions as F

    e = events.where((F.col("ts_ms") >= F.lit(int(since_ms))) & F.col("product_id").isNotNull())
    e = indexed(indexed(_kept_pays(e), "user_id", users, "u"), "product_id", items, "i")
    e = e.where((F.col("u") >= 0) & (F.col("i") >= 0))
    e = e.withColumn("day", F.floor(F.col("ts_ms") / F.lit(DAY_MS)))
    key = ["u", "i", "day"]
    acted = (
        e.where(F.col("event_type").isin("click", "add_to_cart", "order", "pay"))
        .select(*key)
        .distinct()
        .withColumn("acted", F.lit(True))
    )
    kept = (
        e.where(F.col("kept"))
        .groupBy(*key)
        .agg(F.max_by(F.coalesce(F.col("amount").cast("double"), F.lit(0.0)), "event_id").alias("paid"))
    )
    shown = e.where(F.col("event_type") == "impression").select(
        "event_id", *key, "ts_ms", F.col("position").cast("double").alias("position")
    )
    labelled = shown.join(acted, key, "left").join(kept, key, "left")
    return labelled.withColumn("acted", F.coalesce(F.col("acted"), F.lit(False))), kept


def impressions_of(impressions: pa.Table, kept: pa.Table) -> Impressions:
    """``Impressions`` of ``impression_frames``'s two tables (fetched to the driver), put in log
    (event-id) order and grouped as the one-machine path groups them."""
    t = impressions.take(pc.sort_indices(impressions["event_id"])) if impressions.num_rows else impressions

    def col(table: pa.Table, name: str, dtype: type = float) -> np.ndarray:
        return np.asarray(table[name].to_numpy(zero_copy_only=False), dtype=dtype)

    label = impression_labels(col(t, "acted", bool), col(t, "paid"), col(kept, "paid"))
    return grouped_impressions(
        col(t, "u", np.int64),
        col(t, "i", np.int64),
        col(t, "day", np.int64),
        label,
        np.nan_to_num(col(t, "position")),
        col(t, "ts_ms", np.int64),
    )


def daily_counts(events: DataFrame, products: DataFrame, creators: DataFrame) -> DataFrame:
    """The ``daily_counts`` rollup (shop, marketplace day, surface, channel, event type → events) in
    Spark SQL: the shop from the catalogue, else the event's own, else ""."""
    spark = events.sparkSession
    events.createOrReplaceTempView("xq_events")
    products.select("product_id", "shop_id").createOrReplaceTempView("xq_products")
    creators.select("creator_id", "kind").createOrReplaceTempView("xq_creators")
    kinds = ", ".join(f"'{k}'" for k in SELF_KINDS)
    return spark.sql(
        f"""
        SELECT coalesce(p.shop_id, e.shop_id, '') AS shop_id,
               CAST(floor((e.ts_ms + {MARKET_UTC_OFFSET_MS}) / {DAY_MS}) AS INT) AS day,
               coalesce(e.surface, '') AS surface,
               CASE WHEN c.kind IN ({kinds}) THEN 'self'
                    WHEN e.creator_id IS NOT NULL THEN 'creator' ELSE 'other' END AS channel,
               e.event_type AS event_type,
               count(*) AS n
        FROM xq_events e
        LEFT JOIN xq_products p ON p.product_id = e.product_id
        LEFT JOIN xq_creators c ON c.creator_id = e.creator_id
        GROUP BY 1, 2, 3, 4, 5
        """
    )


def daily_totals(counts: DataFrame) -> DataFrame:
    """The ``daily_totals`` rollup: ``daily_counts`` over the whole marketplace."""
    from pyspark.sql import functions as F

    return counts.groupBy("day", "surface", "channel", "event_type").agg(F.sum("n").cast("long").alias("n"))


def frame_of(spark: SparkSession, table: pa.Table) -> DataFrame:
    """A Spark DataFrame of an Arrow table (a catalogue kind read on the driver)."""
    return spark.createDataFrame(table)


def catalogue_frame(spark: SparkSession, store: Store, kind: str, columns: Sequence[str]) -> DataFrame:
    """``columns`` of a catalogue kind (products, users, creators…), read from the store."""
    schema = arrow_schema(kind)
    sub = pa.schema([schema.field(c) for c in columns])
    return spark.createDataFrame(pa.Table.from_batches(list(store.iter_records(kind, columns=columns)), sub))


def pairs_matrix(
    pairs: DataFrame, users: Vocabulary, items: Vocabulary, value: str = "weight"
) -> sp.csr_matrix:
    """A (user_id, product_id, value) frame as a users × items matrix (unknown ids dropped)."""
    t = pairs.select("user_id", "product_id", value).toArrow()
    u = users.lookup(t.column("user_id").to_numpy(zero_copy_only=False))
    i = items.lookup(t.column("product_id").to_numpy(zero_copy_only=False))
    ok = (u >= 0) & (i >= 0)
    v = t.column(value).to_numpy().astype(np.float32)
    m = sp.csr_matrix((v[ok], (u[ok], i[ok])), shape=(len(users), len(items)))
    m.sum_duplicates()
    return m


def cobuy_matrices(rows: DataFrame, buyers: int, items: Vocabulary) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(lift, support) as ``xingqu.training.bought_together`` returns them, from ``bought_together``."""
    t = rows.toArrow()
    a = items.lookup(t.column("a").to_numpy(zero_copy_only=False))
    b = items.lookup(t.column("b").to_numpy(zero_copy_only=False))
    ok = (a >= 0) & (b >= 0)
    support = t.column("support").to_numpy()[ok].astype(np.float32)
    ba = t.column("buyers_a").to_numpy()[ok].astype(np.float64)
    bb = t.column("buyers_b").to_numpy()[ok].astype(np.float64)
    n = len(items)
    lift = support * max(buyers, 1) / (ba * bb)
    s = sp.csr_matrix((support, (a[ok], b[ok])), shape=(n, n))
    ll = sp.csr_matrix((lift.astype(np.float32), (a[ok], b[ok])), shape=(n, n))
    return ll, s


def als_factors(
    spark: SparkSession,
    matrix: sp.csr_matrix,
    factors: int,
    reg: float,
    alpha: float,
    iterations: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """User and item factors of implicit-feedback ALS (``pyspark.ml.recommendation.ALS``) on a
    users × items weight matrix; rows without interactions stay zero."""
    from pyspark.ml.recommendation import ALS

    coo = matrix.tocoo()
    table = pa.table(
        {
            "u": pa.array(coo.row.astype(np.int32)),
            "i": pa.array(coo.col.astype(np.int32)),
            "r": pa.array(coo.data.astype(np.float32)),
        }
    )
    df = spark.createDataFrame(table)
    model = ALS(
        rank=factors,
        maxIter=iterations,
        regParam=reg,
        alpha=alpha,
        implicitPrefs=True,
        userCol="u",
        itemCol="i",
        ratingCol="r",
        seed=seed,
        numUserBlocks=2,
        numItemBlocks=2,
        coldStartStrategy="drop",
    ).fit(df)

    def dense(frame: DataFrame, n: int) -> np.ndarray:
        t = frame.toArrow()
        out = np.zeros((n, factors), np.float32)
        ids = t.column("id").to_numpy()
        if len(ids):
            flat = t.column("features").combine_chunks().flatten().to_numpy(zero_copy_only=False)
            out[ids] = np.asarray(flat, np.float32).reshape(len(ids), factors)
        return out

    return dense(model.userFactors, matrix.shape[0]), dense(model.itemFactors, matrix.shape[1])
