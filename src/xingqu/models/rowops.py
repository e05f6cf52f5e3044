"""Sparse algebra for the few rows of one request, on the CSR arrays themselves.

scipy builds, checks and converts a new matrix object at every step (a slice, a transpose, a product):
tens of microseconds each, a hundred per feed request. A request has one user; these kernels read the
rows it needs straight from ``indptr`` / ``indices`` / ``data`` with a handful of numpy calls, and give
the same numbers as the matrix expressions they replace (accumulated in float64, stored as float32)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: Above this many rows a request is a batch: scipy's vectorised products win over a loop of rows.
MAX_LOOP_ROWS = 16


def spans(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``indices`` / ``data`` of the entries of ``rows`` (in order), and the index in
    ``rows`` each entry belongs to."""
    rows = np.asarray(rows, dtype=np.int64)
    starts = indptr[rows].astype(np.int64)
    lengths = indptr[rows + 1].astype(np.int64) - starts
    seg = np.repeat(np.arange(len(rows)), lengths)
    offsets = np.cumsum(lengths) - lengths
    pos = np.arange(int(lengths.sum()), dtype=np.int64) - offsets[seg] + starts[seg]
    return pos, seg


def rows_dot(m: sp.csr_matrix, rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """``m[rows] @ vector`` for a dense ``vector``: the dot product of each listed row with it."""
    pos, seg = spans(m.indptr, rows)
    vals = m.data[pos].astype(np.float64) * vector[m.indices[pos]]
    return np.bincount(seg, vals, minlength=len(rows)).astype(np.float32)


#: Up to this many rows are read as contiguous slices (copies) rather than gathered by position.
MAX_SLICED_ROWS = 64


def vector_times(idx: np.ndarray, weights: np.ndarray, m: sp.csr_matrix) -> np.ndarray:
    """The dense row ``v @ m`` of a sparse vector ``v`` (``idx`` / ``weights``) times a CSR matrix."""
    if len(idx) <= MAX_SLICED_ROWS:  # a few long rows: slices are copies, far cheaper than a gather
        bounds = [(int(m.indptr[i]), int(m.indptr[i + 1])) for i in np.asarray(idx).tolist()]
        if not bounds:
            return np.zeros(m.shape[1], np.float32)
        cols = np.concatenate([m.indices[lo:hi] for lo, hi in bounds])
        lengths = [hi - lo for lo, hi in bounds]
        vals = np.concatenate([m.data[lo:hi] for lo, hi in bounds]).astype(np.float64)
        vals *= np.repeat(np.asarray(weights, np.float64), lengths)
        return np.bincount(cols, vals, minlength=m.shape[1]).astype(np.float32)
    pos, seg = spans(m.indptr, idx)
    vals = m.data[pos].astype(np.float64) * np.asarray(weights, np.float64)[seg]
    return np.bincount(m.indices[pos], vals, minlength=m.shape[1]).astype(np.float32)


def dense_row(h: sp.csr_matrix, b: int, width: int | None = None) -> np.ndarray:
    """Row ``b`` of a CSR matrix as a dense float64 vector."""
    out = np.zeros(width or h.shape[1], np.float64)
    lo, hi = h.indptr[b], h.indptr[b + 1]
    np.add.at(out, h.indices[lo:hi], h.data[lo:hi])
    return out


def csr(data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """A CSR matrix over arrays this module built (well formed, one index dtype), without scipy's
    checks and conversions (~30 µs each, several per request); scipy's own constructor wherever the
    shortcut does not hold (mixed or other index dtypes, or a scipy whose internals differ)."""
    indptr = np.asarray(indptr, dtype=indices.dtype) if indices.dtype in _INDEX_DTYPES else indptr
    if not _FAST_CSR or indices.dtype not in _INDEX_DTYPES or indptr.dtype != indices.dtype:
        return sp.csr_matrix((data, indices, indptr), shape=shape)
    out = sp.csr_matrix.__new__(sp.csr_matrix)
    out.data, out.indices, out.indptr = data, indices, indptr
    out._shape, out.maxprint = (int(shape[0]), int(shape[1])), _MAXPRINT
    return out


_INDEX_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))
_MAXPRINT = sp.csr_matrix((1, 1)).maxprint


def _fast_csr_holds() -> bool:
    """Whether the shortcut of ``csr`` gives what scipy's constructor gives (checked once, at import)."""
    data, indices = np.array([1.0, 2.0, 3.0], np.float32), np.array([2, 0, 1], np.int32)
    indptr = np.array([0, 2, 2, 3], np.int32)
    try:
        fast = sp.csr_matrix.__new__(sp.csr_matrix)
        fast.data, fast.indices, fast.indptr = data, indices, indptr
        fast._shape, fast.maxprint = (3, 4), _MAXPRINT
        slow = sp.csr_matrix((data, indices, indptr), shape=(3, 4))
        twice = (fast @ fast.T).toarray(), (slow @ slow.T).toarray()
        return bool(
            np.array_equal(fast.toarray(), slow.toarray())
            and np.array_equal(*twice)
            and fast.has_sorted_indices == slow.has_sorted_indices
            and np.array_equal((fast + slow)[[2, 0]].toarray(), 2 * slow[[2, 0]].toarray())
        )
    except Exception:  # any change of scipy's internals: its constructor everywhere
        return False


_FAST_CSR = _fast_csr_holds()


def csr_rows(m: sp.spmatrix) -> sp.csr_matrix:
    """``m`` as CSR without a copy when it already is one."""
    return m if isinstance(m, sp.csr_matrix) else sp.csr_matrix(m)


def pair_dot(a: sp.csr_matrix, b: sp.csr_matrix, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
    """For each pair k: ``a[rows[k]] · b[items[k]]``, one dense row of ``a`` per distinct user."""
    out = np.zeros(len(rows), np.float32)
    for u in np.unique(rows):
        at = np.flatnonzero(rows == u)
        out[at] = rows_dot(b, items[at], dense_row(a, int(u), b.shape[1]))
    return out


def pair_get(m: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``m[rows[k], cols[k]]`` for each pair k, one dense row of ``m`` per distinct row."""
    out = np.zeros(len(rows), np.float32)
    for u in np.unique(rows):
        at = np.flatnonzero(rows == u)
        out[at] = dense_row(m, int(u))[cols[at]]
    return out


def take_rows(m: sp.csr_matrix, rows: np.ndarray) -> sp.csr_matrix:
    """``m[rows]`` as one new CSR matrix built from the rows' slices of the arrays."""
    pos, seg = spans(m.indptr, rows)
    indptr = np.zeros(len(rows) + 1, dtype=m.indptr.dtype)
    np.cumsum(np.bincount(seg, minlength=len(rows)), out=indptr[1:])
    return csr(m.data[pos], m.indices[pos], indptr, (len(rows), m.shape[1]))
