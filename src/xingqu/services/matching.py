"""Merchants' and creators' tools as use cases: portraits, audiences and lookalikes, creators for
goods, selection for creators — over indexes built once per model version (user embeddings from its
factor model) and kept by the runtime, with servability from the online state."""

from __future__ import annotations

from xingqu.features.market import MarketTables
from xingqu.pipelines.matching import Matching
from xingqu.runtime import Runtime
from xingqu.services.feed import feed_service


def matching(runtime: Runtime, version: str | None = None) -> Matching:
    """The matching indexes for a model version (the current one by default; with no trained model
    the user embeddings are fitted on the spot), built on first use, then shared."""
    runtime.store.require_ready()
    chosen = version or runtime.registry.current()

    def build() -> Matching:
        embedding = feed_service(runtime, chosen).serving().model.member("als") if chosen else None
        market = MarketTables.from_store(runtime.store)
        return Matching.build(
            market, runtime.online.servability.servable, embedding, runtime.settings.min_group_size
        )

    return runtime.shared(("matching", chosen), build)
