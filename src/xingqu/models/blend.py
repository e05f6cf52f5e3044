"""The default blend: several retrievers' scores, standardised per user and mixed with learned weights."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from xingqu.dataset import Dataset
from xingqu.models.base import REGISTRY, ModelConfig, Recommender


class Member(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    config: dict[str, Any] = Field(default_factory=dict)
    weight: float = 1.0


class BlendConfig(ModelConfig):
    members: tuple[Member, ...] = Field(
        default=(
            Member(kind="ease", weight=1.0),
            Member(kind="als", weight=0.3),
            Member(kind="itemknn", weight=0.3),
            Member(kind="popular", weight=0.05),
        ),
        description="retrievers and their weights (weights are fitted on a validation split by evaluate)",
    )
    history_half_life: float | None = Field(
        None, gt=0, description="score from histories whose weights halve every this many newer interactions"
    )


def standardise(scores: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Per-row z-scores, so that retrievers on different scales can be added; with ``mask``, each row's
    mean and spread are those of its entries where the mask is true (padding does not count)."""
    if mask is None:
        mean = scores.mean(axis=1, keepdims=True)
        sd = scores.std(axis=1, keepdims=True)
    else:
        n = np.maximum(mask.sum(axis=1, keepdims=True), 1)
        mean = np.where(mask, scores, 0).sum(axis=1, keepdims=True) / n
        sd = np.sqrt(np.where(mask, (scores - mean) ** 2, 0).sum(axis=1, keepdims=True) / n)
    return (scores - mean) / np.where(sd > 0, sd, 1.0)


class Blend(Recommender):
    kind = "blend"
    Config = BlendConfig

    def __init__(self, config: ModelConfig | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.members = [REGISTRY[m.kind](REGISTRY[m.kind].Config(**m.config)) for m in self.config.members]

    @property
    def history_half_life(self) -> float | None:
        return self.config.history_half_life

    @classmethod
    def of(
        cls, fitted: list[Recommender], weights: list[float], history_half_life: float | None = None
    ) -> Blend:
        """A blend of already-fitted models (sharing one dataset), with the given weights."""
        members = tuple(
            Member(kind=m.kind, config=m.config.model_dump(), weight=w)
            for m, w in zip(fitted, weights, strict=True)
        )
        blend = cls(BlendConfig(members=members, history_half_life=history_half_life))
        blend.members = list(fitted)
        blend.users, blend.items = fitted[0].users, fitted[0].items
        return blend

    def _fit_data(self, data: Dataset) -> None:
        for m in self.members:
            m.fit(data)

    def _scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        total = np.zeros((len(users), len(self.items or ())), dtype=np.float32)
        for member, spec in zip(self.members, self.config.members, strict=True):
            if spec.weight:
                total += spec.weight * standardise(member._scores(users, history).astype(np.float32))
        return total

    def explain(self, users: np.ndarray, history: sp.csr_matrix, items: np.ndarray) -> list[list[str]]:
        """For each user's items (rows of ``items``), the retriever that contributed most to the score."""
        contrib = []
        for member, spec in zip(self.members, self.config.members, strict=True):
            z = standardise(member.scores(users, history).astype(np.float32))
            contrib.append(spec.weight * np.take_along_axis(z, items, axis=1))
        best = np.argmax(np.stack(contrib), axis=0)
        kinds = [m.kind for m in self.members]
        return [[kinds[k] for k in row] for row in best]

    def _arrays(self) -> dict[str, np.ndarray]:
        return {f"{i}__{k}": v for i, m in enumerate(self.members) for k, v in m._arrays().items()}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        for i, m in enumerate(self.members):
            prefix = f"{i}__"
            m.users, m.items = self.users, self.items
            m._load_arrays({k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})
