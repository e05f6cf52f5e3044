"""Trending: time-decayed interaction volume in a recent window, globally and per user segment
(consumer crowd, city tier or age band), so that a new user with only a profile gets their
segment's trends."""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from xingqu.dataset import Dataset
from xingqu.domain.units import DAY_MS
from xingqu.models.base import ModelConfig, ModelError, Recommender


class TrendingConfig(ModelConfig):
    half_life_days: float = Field(
        3.0, gt=0, description="an interaction's weight halves every this many days"
    )
    window_days: float = Field(14.0, gt=0, description="interactions older than this are ignored")
    segment: Literal["crowd", "city_tier", "age_band", "gender"] | None = Field(
        "crowd", description="user attribute whose own trends are mixed in (None: global only)"
    )
    segment_weight: float = Field(0.5, ge=0, le=1, description="share of the segment's trend in a score")


def _unit(v: np.ndarray) -> np.ndarray:
    m = v.max(axis=-1, keepdims=True) if v.size else 1.0
    return v / np.where(m > 0, m, 1.0)


class Trending(Recommender):
    kind = "trending"
    Config = TrendingConfig
    grid = tuple({"half_life_days": h, "segment": g} for h in (1.0, 3.0) for g in ("crowd", None))
    phrase = "trending with people like you"
    blend_rank = 5
    needs_features = True
    reads_weights = False

    def _fit_data(self, data: Dataset) -> None:
        self.__dict__.pop("_mixed_rows", None)
        if data.log is None:
            raise ModelError("trending: needs interaction times")
        log = data.log
        now = log.times.max() if len(log.times) else 0
        age = (now - log.times) / DAY_MS
        keep = (age <= self.config.window_days) & (log.weights > 0)
        w = (log.weights[keep] * np.power(0.5, age[keep] / self.config.half_life_days)).astype(np.float32)
        users, items = log.users[keep], log.items[keep]
        self.global_ = _unit(np.bincount(items, weights=w, minlength=data.n_items).astype(np.float32))
        seg = self.config.segment
        if seg and data.user_features is not None:
            values = np.array([str(v) for v in data.user_features.segment(seg)], dtype=object)
            names, user_seg = np.unique(values, return_inverse=True)
            m = sp.csr_matrix((w, (user_seg[users], items)), shape=(len(names), data.n_items)).toarray()
            self.segments = _unit(m.astype(np.float32))
            self.segment_names = names.astype(str)
            self.user_segment = user_seg.astype(np.int64)
        else:
            self.segments = np.zeros((0, data.n_items), np.float32)
            self.segment_names = np.zeros(0, dtype=str)
            self.user_segment = np.full(data.n_users, -1, np.int64)

    def user_segments(self, users: np.ndarray) -> np.ndarray:
        """Each user's segment index (−1: scored by the global trend alone); a user's scores are
        their segment's."""
        users = np.asarray(users, dtype=np.int64)
        if not len(self.segments):
            return np.full(len(users), -1, np.int64)
        return np.where(users >= 0, self.user_segment[np.maximum(users, 0)], -1)

    def _scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        if not len(self.segments):
            return np.broadcast_to(self.global_, (len(users), len(self.global_))).astype(np.float32)
        seg = np.where(users >= 0, self.user_segment[np.maximum(users, 0)], -1)
        return self._rows()[seg]  # −1, no segment: the last row, the global trend

    def _rows(self) -> np.ndarray:
        """Every segment's mixed scores, then the global trend: a batch of users is one gather of these
        rows, not a mix computed again for every user (tuning scores thousands against every product)."""
        rows = self.__dict__.get("_mixed_rows")
        if rows is None:
            sw = self.config.segment_weight
            mixed = (1 - sw) * self.global_.astype(np.float32) + sw * self.segments
            rows = np.vstack([mixed, self.global_[None, :]]).astype(np.float32)
            self.__dict__["_mixed_rows"] = rows
        return rows

    def candidate_scores(self, users: np.ndarray, history: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        out = self.global_[items].astype(np.float32)
        if len(self.segments):
            users = np.asarray(users)
            seg = np.where(users >= 0, self.user_segment[np.maximum(users, 0)], -1)
            has = seg >= 0
            sw = self.config.segment_weight
            out[has] = (1 - sw) * out[has] + sw * self.segments[seg[has][:, None], items[has]]
        return out

    def segment_scores(self, segment: str | None) -> np.ndarray:
        """Trend of every item for a user of ``segment`` (a value of the configured attribute): how a
        user the model never saw, known only by a profile, is served."""
        hit = np.flatnonzero(self.segment_names == str(segment)) if segment is not None else []
        if not len(hit):
            return self.global_.copy()
        sw = self.config.segment_weight
        return (1 - sw) * self.global_ + sw * self.segments[hit[0]]

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "global": self.global_,
            "segments": self.segments,
            "segment_names": self.segment_names,
            "user_segment": self.user_segment,
        }

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.__dict__.pop("_mixed_rows", None)
        self.global_, self.segments = arrays["global"], arrays["segments"]
        self.segment_names, self.user_segment = arrays["segment_names"], arrays["user_segment"]
