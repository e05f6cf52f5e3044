"""Sparse helpers shared by item-item models: top-k neighbour matrices built in bounded row blocks,
and CSR matrices to and from named arrays."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

#: Items per block when computing item-item scores (bounds memory at CHUNK × catalogue floats).
CHUNK = 1024
#: Above this share of non-zero cells a block is cut dense.
DENSE_SHARE = 0.05


def top_k_rows(block: Callable[[int, int], sp.csr_matrix], n: int, k: int) -> sp.csr_matrix:
    """An n × n matrix keeping, per row, the ``k`` largest positive entries of ``block(lo, hi)``
    (rows lo…hi−1, sparse), the diagonal excluded; among equal entries, the lower column. A block
    denser than ``DENSE_SHARE`` is cut dense (a partition per row), a sparser one through its
    entries alone (a large catalogue's rows hold a few hundred of 100,000: densified, each block of
    1,024 rows cost a partition over 100 million cells). Memory stays at CHUNK × n."""
    k = min(k, max(n - 1, 1))
    parts = []
    for lo in range(0, n, CHUNK):
        hi = min(lo + CHUNK, n)
        b = sp.csr_matrix(block(lo, hi))
        if b.nnz > DENSE_SHARE * (hi - lo) * n:
            parts.append(_top_dense(b.toarray(), lo, k))
        else:
            parts.append(_top_sparse(b, lo, k))
    rows, cols, vals = (np.concatenate(x) for x in zip(*parts, strict=True))
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))


def _top_dense(b: np.ndarray, lo: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r, n = b.shape
    b[np.arange(r), np.arange(lo, lo + r)] = 0.0
    keep = b > 0
    if k < n:  # the k largest; of the entries equal to the k-th, the lowest columns
        kth = -np.partition(-b, k - 1, axis=1)[:, k - 1 : k]
        above = b > kth
        tie = b == kth
        room = k - above.sum(axis=1, keepdims=True)
        keep &= above | (tie & (np.cumsum(tie, axis=1) <= room))
    rows, cols = np.nonzero(keep)
    return rows + lo, cols, b[rows, cols]


def _top_sparse(b: sp.csr_matrix, lo: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = np.repeat(np.arange(b.shape[0]), np.diff(b.indptr))
    cols, vals = b.indices, b.data
    keep = (vals > 0) & (cols != rows + lo)
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    order = np.lexsort((cols, -vals, rows))  # by row, then value descending, then column
    rows, cols, vals = rows[order], cols[order], vals[order]
    starts = np.searchsorted(rows, rows, side="left")
    first = np.arange(len(rows)) - starts < k
    return rows[first] + lo, cols[first], vals[first]


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
