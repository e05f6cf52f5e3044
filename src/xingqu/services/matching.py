"""Merchants' and creators' tools as use cases: portraits, audiences and lookalikes, creators for
goods, selection for creators — over indexes built once per model version (user embeddings from its
factor model) and kept by the runtime, with servability from the online state."""

from __future__ import annotations

from xingqu.features.market import MarketTables
from xingqu.pipelines.matching import Matching
from xingqu.runtime import Runtime
from xingqu.services.feed import feed_service


def matching(runtime: Runtime, version: str | None = None) -> Matching:
    """The matching indexes for the serving model version (built on first use, then shared)."""
    model = feed_service(runtime, version).serving().model

    def build() -> Matching:
        market = MarketTables.from_store(runtime.store)
        return Matching.build(market, runtime.online.servability.servable, model.member("als"))

    return runtime.shared(("matching", model.version), build)
