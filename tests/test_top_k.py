"""The item-item models' neighbour cut (``models.sparse.top_k_rows``): per row, the k largest positive
entries, the diagonal left out, the lower column first among equal ones — the same whether a block
is cut dense or through its entries."""

from __future__ import annotations

from unittest.mock import patch

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from xingqu.models import sparse


def _expected(m: np.ndarray, k: int) -> dict[tuple[int, int], float]:
    n = m.shape[0]
    out = {}
    for r in range(n):
        ranked = sorted((c for c in range(n) if c != r and m[r, c] > 0), key=lambda c: (-m[r, c], c))
        out.update({(r, c): float(m[r, c]) for c in ranked[: min(k, max(n - 1, 1))]})
    return out


@given(
    cells=st.lists(st.integers(0, 3), min_size=1, max_size=400),
    k=st.integers(1, 8),
    chunk=st.integers(1, 7),
    dense=st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_top_k_rows_keeps_the_largest_with_ties_to_the_lower_column(
    cells: list[int], k: int, chunk: int, dense: bool
) -> None:
    n = int(np.sqrt(len(cells)))
    m = np.array(cells[: n * n], dtype=np.float32).reshape(n, n) if n else np.zeros((1, 1), np.float32)
    n = m.shape[0]
    matrix = sp.csr_matrix(m)
    with patch.object(sparse, "CHUNK", chunk), patch.object(sparse, "DENSE_SHARE", -1.0 if dense else 2.0):
        got = sparse.top_k_rows(lambda lo, hi: matrix[lo:hi], n, k).tocoo()
    kept = {(int(r), int(c)): float(v) for r, c, v in zip(got.row, got.col, got.data, strict=True)}
    assert kept == _expected(m, k)
