"""Ranking metrics over the full catalogue (training items excluded), averaged over test users.

For a user with held-out items T and a ranked list R (best first):
- Recall@k = |R[:k] ∩ T| / |T|                          (as RecBole computes it)
- NDCG@k   = Σ_{i<k, R_i∈T} 1/log2(i+2) / Σ_{i<min(k,|T|)} 1/log2(i+2)
- HitRate@k = 1 if R[:k] ∩ T ≠ ∅
- MRR      = 1 / (rank of the first hit in R), 0 without a hit in the list
- coverage@k = distinct items in all users' R[:k] / catalogue size
- novelty@k  = mean over recommended items of −log2(share of training users who had the item)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

K_LIST = (10, 20)


def ranking_metrics(
    recs: np.ndarray, truth: sp.csr_matrix, item_popularity: np.ndarray, n_train_users: int
) -> dict[str, float]:
    """Metrics of ``recs`` (users × L item indices) against ``truth`` (users × items, non-zero = relevant)."""
    n_users, length = recs.shape
    if n_users == 0 or truth.nnz == 0:
        raise ValueError("no test user has a held-out item the model could recommend")
    rows = np.arange(n_users)[:, None]
    hits = np.asarray(truth[rows, recs].todense() > 0) if n_users else np.zeros((0, length), bool)
    n_true = np.diff(truth.indptr)
    ok = n_true > 0
    hits, n_true, recs_ok = hits[ok], n_true[ok], recs[ok]
    discount = 1.0 / np.log2(np.arange(2, length + 2))
    out: dict[str, float] = {}
    for k in K_LIST:
        h = hits[:, :k]
        out[f"recall@{k}"] = float((h.sum(axis=1) / n_true).mean())
        dcg = (h * discount[:k]).sum(axis=1)
        ideal = np.cumsum(discount[:k])[np.minimum(n_true, k) - 1]
        out[f"ndcg@{k}"] = float((dcg / ideal).mean())
    out["hitrate@10"] = float(hits[:, :10].any(axis=1).mean()) if len(hits) else 0.0
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)
    out["mrr"] = float(np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0).mean())
    top = recs_ok[:, :20]
    out["coverage@20"] = float(len(np.unique(top)) / len(item_popularity))
    share = np.maximum(item_popularity[top], 1.0) / max(n_train_users, 1)
    out["novelty@20"] = float((-np.log2(share)).mean())
    out["users"] = float(ok.sum())
    return out
