"""Content model: TF-IDF over product titles (jieba words, normalised) and attributes — category,
brand, shop, style, function, price band — so that new products and thin histories can be matched."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from xingqu.dataset import Dataset
from xingqu.models import rowops
from xingqu.models.base import ModelConfig, ModelError, Recommender, item_matrix_scores, transposed_csr
from xingqu.models.sparse import csr_arrays, csr_from
from xingqu.text import tokens


class ContentConfig(ModelConfig):
    title_weight: float = Field(1.0, ge=0, description="weight of title words against attributes")
    attribute_weight: float = Field(1.0, ge=0)
    min_df: int = Field(1, ge=1, description="features used by fewer products are dropped")


def item_tokens(data: Dataset, i: int) -> tuple[list[str], list[str]]:
    """Title words and attribute tokens of item ``i``."""
    f = data.item_features
    assert f is not None
    title = tokens(f.title[i]) if f.title[i] else []
    attrs: list[str] = []
    if f.category[i]:
        parts = f.category[i].split(">")
        attrs += [f"l1:{parts[0]}", f"cat:{f.category[i]}"]
    if f.brand[i]:
        attrs.append(f"brand:{f.brand[i]}")
    if f.shop[i]:
        attrs.append(f"shop:{f.shop[i]}")
    attrs += [f"style:{s}" for s in f.styles[i]] + [f"func:{x}" for x in f.functions[i]]
    if not math.isnan(f.price[i]) and f.price[i] > 0:
        attrs.append(f"price:{round(math.log2(f.price[i] / 100.0 + 1) * 2)}")  # half-octave bands
    return title, attrs


class ContentModel(Recommender):
    kind = "content"
    Config = ContentConfig
    grid = tuple({"title_weight": t} for t in (0.5, 1.0))
    phrase = "matches what you looked at"
    blend_rank = 4
    needs_features = True

    def _fit_data(self, data: Dataset) -> None:
        if data.item_features is None:
            raise ModelError(
                "content: needs product attributes; train it on the store, not a plain interactions file"
            )
        docs = []
        for i in range(data.n_items):
            title, attrs = item_tokens(data, i)
            doc = Counter({f"w:{t}": self.config.title_weight for t in title})
            doc.update({a: self.config.attribute_weight for a in attrs})
            docs.append(doc)
        df = Counter(k for d in docs for k in d)
        vocab = sorted(k for k, n in df.items() if n >= self.config.min_df)
        col = {k: j for j, k in enumerate(vocab)}
        idf = np.array([math.log((1 + len(docs)) / (1 + df[k])) + 1 for k in vocab], dtype=np.float32)
        rows, cols, vals = [], [], []
        for i, d in enumerate(docs):
            for k, v in d.items():
                j = col.get(k)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
                    vals.append(v * idf[j])
        f = sp.csr_matrix((np.array(vals, np.float32), (rows, cols)), shape=(len(docs), len(vocab)))
        norms = np.sqrt(np.asarray(f.multiply(f).sum(axis=1)).ravel())
        self.features = sp.csr_matrix(sp.diags(1 / np.where(norms > 0, norms, 1)) @ f)
        self.feature_names = np.array(vocab, dtype=str)

    def profile_row(self, history: sp.csr_matrix, b: int) -> np.ndarray:
        """Row ``b`` of ``history`` as a unit-length dense profile over the content features. A request's
        sources and scores ask it of the same history several times: the last history's rows are kept
        (the history object itself is held, so it cannot be another that reuses its identity)."""
        last = self.__dict__.get("_last_profiles")
        if last is not None and last[0] is history and b in last[1]:
            return last[1][b]
        if last is None or last[0] is not history:
            last = (history, {})
            self.__dict__["_last_profiles"] = last  # one assignment: another thread sees old or new
        row = self._profile_row(history, b)
        last[1][b] = row
        return row

    def _profile_row(self, history: sp.csr_matrix, b: int) -> np.ndarray:
        h = rowops.csr_rows(history)
        lo, hi = h.indptr[b], h.indptr[b + 1]
        v = rowops.vector_times(h.indices[lo:hi], h.data[lo:hi], self.features).astype(np.float64)
        norm = math.sqrt(float(v @ v))
        return v / norm if norm > 0 else v

    def sparse_scores(self, users: np.ndarray, history: sp.csr_matrix) -> sp.csr_matrix:
        """Cosine of each item to the user's profile, sparse: items sharing no term score zero."""
        if history.shape[0] <= rowops.MAX_LOOP_ROWS:  # a request's rows: through the term postings
            postings = transposed_csr(self, "features")
            cols, vals, indptr = [], [], [0]
            for b in range(history.shape[0]):
                p = self.profile_row(history, b)
                terms = np.flatnonzero(p != 0)
                row = rowops.vector_times(terms, p[terms], postings)
                nz = np.flatnonzero(row != 0)
                cols.append(nz)
                vals.append(row[nz])
                indptr.append(indptr[-1] + len(nz))
            shape = (history.shape[0], self.features.shape[0])
            return rowops.csr(np.concatenate(vals), np.concatenate(cols), np.asarray(indptr), shape)
        profile = history @ self.features
        norms = np.sqrt(np.asarray(profile.multiply(profile).sum(axis=1)).ravel())
        profile = sp.diags(1 / np.where(norms > 0, norms, 1)) @ profile
        return sp.csr_matrix(profile @ transposed_csr(self, "features"))

    def _scores(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        return self.sparse_scores(users, history).toarray()

    def candidate_scores(self, users: np.ndarray, history: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
        if history.shape[0] <= rowops.MAX_LOOP_ROWS:
            out = np.empty(items.shape, np.float32)
            for b in range(history.shape[0]):
                out[b] = rowops.rows_dot(self.features, items[b], self.profile_row(history, b))
            return out
        profile = history @ self.features
        norms = np.sqrt(np.asarray(profile.multiply(profile).sum(axis=1)).ravel())
        profile = sp.csr_matrix(sp.diags(1 / np.where(norms > 0, norms, 1)) @ profile)
        return item_matrix_scores(profile, self.features.T, items, self.features)

    def similar(self, item: int) -> np.ndarray:
        """Cosine similarity of every item to ``item``."""
        return (self.features @ self.features[item].T).toarray().ravel()

    def _arrays(self) -> dict[str, np.ndarray]:
        return {**csr_arrays(self.features), "feature_names": self.feature_names}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.features = csr_from(arrays)
        self.feature_names = arrays["feature_names"]
