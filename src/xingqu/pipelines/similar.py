"""Similar products (co-behaviour blended with content) and products bought together (co-purchase lift)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from xingqu.errors import NotFoundError
from xingqu.training import TrainedModel

#: Which of some product ids may be shown now.
Servability = Callable[[list[str]], set[str]]

CO_BEHAVIOUR_WEIGHT = 0.6
CONTENT_WEIGHT = 0.4


@dataclass(frozen=True)
class Related:
    product_id: str
    score: float
    reason: str


def _index(model: TrainedModel, product_id: str) -> int:
    assert model.blend.items is not None
    i = model.blend.items.index.get(product_id)
    if i is None:
        raise NotFoundError(f"unknown product {product_id!r} (not in model {model.version})")
    return i


def _serve(
    model: TrainedModel,
    servable: Servability,
    order: np.ndarray,
    scores: np.ndarray,
    reasons: list[str],
    n: int,
    exclude: int,
) -> list[Related]:
    """The best ``n`` servable candidates, in order."""
    assert model.blend.items is not None
    ids = model.blend.items.ids
    cand = order[(order != exclude) & (scores[order] > 0)][: n * 4 + 20].tolist()
    ok = servable([ids[j] for j in cand])
    out = [Related(ids[j], float(scores[j]), reasons[k]) for k, j in enumerate(cand) if ids[j] in ok]
    return out[:n]


def similar_products(
    model: TrainedModel, servable: Servability, product_id: str, n: int = 10
) -> list[Related]:
    """Products like ``product_id``: item-kNN similarity (people who engage with one engage with the
    other), blended with content similarity (title words and attributes) so new products qualify too."""
    i = _index(model, product_id)
    n_items = model.history.shape[1]
    co = np.zeros(n_items, dtype=np.float32)
    knn = model.member("itemknn")
    if knn is not None:
        co = knn.neighbours(i)  # type: ignore[attr-defined]
        co = co / co.max() if co.max() > 0 else co
    content = model.member("content")
    ct = content.similar(i) if content is not None else np.zeros(n_items)  # type: ignore[attr-defined]
    score = CO_BEHAVIOUR_WEIGHT * co + CONTENT_WEIGHT * ct
    order = np.argsort(-score, kind="stable")
    reasons = [
        "co-behaviour" if CO_BEHAVIOUR_WEIGHT * co[j] >= CONTENT_WEIGHT * ct[j] else "content"
        for j in order[: n * 4 + 21]
    ]
    return _serve(model, servable, order, score, reasons, n, i)


def bought_together(
    model: TrainedModel, servable: Servability, product_id: str, n: int = 10
) -> list[Related]:
    """Products bought by the same people within a week of this one, by lift (support ≥ 2 buyers)."""
    i = _index(model, product_id)
    row = model.cobuy_lift[i].toarray().ravel()
    order = np.argsort(-row, kind="stable")
    return _serve(model, servable, order, row, ["bought together"] * len(order), n, i)
