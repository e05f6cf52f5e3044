"""Sparse helpers shared by item-item models: top-k neighbour matrices built in bounded row blocks,
and CSR matrices to and from named arrays."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

#: Items per block when computing item-item scores (bounds memory at CHUNK × catalogue floats).
CHUNK = 1024


def top_k_rows(block: Callable[[int, int], np.ndarray], n: int, k: int) -> sp.csr_matrix:
    """An n × n matrix keeping, per row, the ``k`` largest positive entries of ``block(lo, hi)``
    (dense rows lo…hi−1), the diagonal excluded. Memory stays at CHUNK × n."""
    k = min(k, max(n - 1, 1))
    rows, cols, vals = [], [], []
    for lo in range(0, n, CHUNK):
        hi = min(lo + CHUNK, n)
        b = block(lo, hi)
        b[np.arange(hi - lo), np.arange(lo, hi)] = 0.0
        top = np.argpartition(-b, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (hi - lo, 1))
        v = np.take_along_axis(b, top, axis=1)
        keep = v > 0
        rows.append(np.repeat(np.arange(lo, hi), top.shape[1])[keep.ravel()])
        cols.append(top[keep])
        vals.append(v[keep])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))


def csr_arrays(m: sp.csr_matrix, prefix: str = "") -> dict[str, np.ndarray]:
    return {
        f"{prefix}data": m.data,
        f"{prefix}indices": m.indices,
        f"{prefix}indptr": m.indptr,
        f"{prefix}shape": np.array(m.shape),
    }


def csr_from(arrays: dict[str, np.ndarray], prefix: str = "") -> sp.csr_matrix:
    return sp.csr_matrix(
        (arrays[f"{prefix}data"], arrays[f"{prefix}indices"], arrays[f"{prefix}indptr"]),
        shape=tuple(arrays[f"{prefix}shape"]),
    )
