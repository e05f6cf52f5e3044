"""``--engine spark``: the parts of training that grow with the event log, run as Spark jobs over the
lake, handed to ``xingqu.training.train`` so that it writes the same model version as on one machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from xingqu.dataset import Dataset, Vocabulary
from xingqu.distributed import jobs
from xingqu.distributed.session import DEFAULT_MASTER, check_master, spark_session
from xingqu.errors import UserError
from xingqu.features.profiles import Catalogue, EventSums
from xingqu.feed_training import Impressions
from xingqu.store import Store
from xingqu.store.lake import LakeEventLog

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from xingqu.models.factors import ALSConfig


@dataclass
class SparkEngine:
    """Training's heavy parts on Spark (``master``: ``local[2]``, ``spark://…``, ``yarn``)."""

    master: str = DEFAULT_MASTER
    name: str = "spark"
    _events: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        check_master(self.master)

    @property
    def spark(self) -> SparkSession:
        return spark_session(self.master)

    @staticmethod
    def lake(store: Store) -> LakeEventLog:
        """The store's event lake, which every Spark job reads; a clear error without one."""
        if store.lake is None:
            raise UserError("the Spark engine reads the event lake: set XINGQU_EVENTS or pass --events URL")
        return store.lake

    def events(self, store: Store) -> DataFrame:
        """The store's event lake as a DataFrame (cached for the engine's life)."""
        lake = self.lake(store)
        if lake.url not in self._events:
            self._events[lake.url] = jobs.events_frame(self.spark, lake).cache()
        return self._events[lake.url]  # type: ignore[no-any-return]

    def matrix(
        self, store: Store, users: Vocabulary, items: Vocabulary, half_life_days: float | None = None
    ) -> sp.csr_matrix:
        """The weighted user × product matrix (``Dataset.build``'s), summed on Spark."""
        pairs = jobs.weighted_interactions(self.events(store), half_life_days=half_life_days)
        return jobs.pairs_matrix(pairs, users, items)

    def bought_together(
        self, store: Store, data: Dataset, min_support: int = 2
    ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """(lift, support) of products paid for by one user within 7 days, counted on Spark."""
        rows, buyers = jobs.bought_together(self.events(store), min_support)
        return jobs.cobuy_matrices(rows, buyers, data.items)

    def event_sums(
        self, store: Store, users: Vocabulary, cat: Catalogue, before_ms: int | None = None
    ) -> EventSums:
        """The event sums behind user profiles and product statistics (``event_sums``'s), summed on
        Spark over the events before ``before_ms`` (all by default)."""
        from pyspark.sql import functions as F

        events = self.events(store)
        if before_ms is not None:
            events = events.where(F.col("ts_ms") < F.lit(int(before_ms)))
        now = jobs.last_event_ms(events)
        known = self.spark.createDataFrame(pa.table({"user_id": pa.array(users.ids, pa.string())}))
        items = self.spark.createDataFrame(
            pa.table({"product_id": pa.array(cat.items.ids, pa.string()), "level1": cat.level1})
        )
        repurchase = jobs.repurchase_days(events, known, items)
        return jobs.profile_sums(
            jobs.profile_pairs(events, now), repurchase, now, users, cat, self.lake(store)
        )

    def labelled_impressions(
        self, store: Store, users: Vocabulary, items: Vocabulary, since_ms: int
    ) -> Impressions:
        """The ranker's labelled impressions (``labelled_impressions``'s), the events at or after
        ``since_ms`` joined and labelled on Spark, grouped on the driver."""
        lake = self.lake(store)
        shown, kept = jobs.impression_frames(self.events(store), users, items, since_ms)
        kept = kept.persist()  # the label week's kept pays: fetched, then joined, computed once
        try:
            paid = jobs.fetch(kept.select("paid"), lake)
            return jobs.impressions_of(jobs.fetch(shown, lake), paid)
        finally:
            kept.unpersist()

    def als(self, matrix: sp.csr_matrix, config: ALSConfig) -> tuple[np.ndarray, np.ndarray]:
        """ALS factors from ``pyspark.ml``. Spark scales the L2 penalty by each row's interactions
        (ALS-WR), the one-machine solver does not: the penalty is divided by the mean row count."""
        per_row = matrix.nnz / max(int((np.diff(matrix.indptr) > 0).sum()), 1)
        return jobs.als_factors(
            self.spark,
            matrix,
            config.factors,
            config.reg / max(per_row, 1.0),
            config.alpha,
            config.iterations,
            config.seed,
        )
