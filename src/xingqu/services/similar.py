"""Similar products and products bought together, from the serving model version, with servability
asked of the online state (governance wins from the next request)."""

from __future__ import annotations

from dataclasses import dataclass

from xingqu.pipelines.similar import Related, bought_together, similar_products
from xingqu.runtime import Runtime
from xingqu.services.feed import feed_service


@dataclass
class RelatedProducts:
    """What goes with one product, and the model version that found it."""

    product: str
    version: str
    similar: list[Related]
    bought_together: list[Related]


def related(runtime: Runtime, product_id: str, n: int = 10, version: str | None = None) -> RelatedProducts:
    """Products like ``product_id`` and products bought with it (an unknown product is not found)."""
    model = feed_service(runtime, version).serving().model
    servable = runtime.online.servability.servable
    return RelatedProducts(
        product_id,
        model.version,
        similar_products(model, servable, product_id, n),
        bought_together(model, servable, product_id, n),
    )
