"""The one-request sparse kernels give the numbers of the scipy expressions they replace."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from xingqu.features.ranking import _gather, _rowdot
from xingqu.models import rowops
from xingqu.models.base import item_matrix_scores, top_n, top_of


def matrix(seed: int, rows: int, cols: int, density: float) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.random(rows, cols, density=density, format="csr", dtype=np.float32, random_state=rng)


shapes = st.tuples(
    st.integers(0, 10_000),  # seed
    st.integers(1, rowops.MAX_LOOP_ROWS),  # users of the request
    st.integers(1, 60),  # items
    st.floats(0.0, 0.5),  # density
)


@settings(max_examples=60, deadline=None)
@given(shapes)
def test_item_matrix_scores_equal_the_sparse_product(shape: tuple[int, int, int, float]) -> None:
    seed, users, n, density = shape
    history = matrix(seed, users, n, density)
    sim = matrix(seed + 1, n, n, density)
    items = np.random.default_rng(seed).integers(0, n, size=(users, min(n, 7)))
    expected = np.take_along_axis((history @ sim).toarray(), items, axis=1)
    for transposed in (None, sp.csr_matrix(sim.T)):
        got = item_matrix_scores(history, sim, items, transposed)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    dense = item_matrix_scores(history, sim.toarray(), items)
    np.testing.assert_allclose(dense, expected, rtol=1e-5, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(shapes)
def test_pairwise_dot_and_gather_equal_fancy_indexing(shape: tuple[int, int, int, float]) -> None:
    seed, users, n, density = shape
    a = matrix(seed, users, 9, density)
    b = matrix(seed + 2, n, 9, density)
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, users, size=25)
    items = rng.integers(0, n, size=25)
    expected = np.asarray(a[rows].multiply(b[items]).sum(axis=1)).ravel()
    if a.nnz and b.nnz:
        np.testing.assert_allclose(_rowdot(a, b, rows, items), expected, rtol=1e-5, atol=1e-6)
    cols = rng.integers(0, 9, size=25)
    if a.nnz:
        np.testing.assert_allclose(_gather(a, rows, cols), np.asarray(a[rows, cols]).ravel(), rtol=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 3 * rowops.MAX_SLICED_ROWS), st.floats(0.0, 0.5))
def test_vector_times_is_the_row_product(seed: int, terms: int, density: float) -> None:
    """Both ways of reading the rows (slices for a few, a gather for many) give the product."""
    m = matrix(seed, 400, 30, density)
    rng = np.random.default_rng(seed)
    idx = rng.choice(400, size=terms, replace=False)
    w = rng.uniform(-2, 2, size=terms).astype(np.float32)
    v = sp.csr_matrix((w, (np.zeros(terms, int), idx)), shape=(1, 400))
    got = rowops.vector_times(idx, w, m)
    assert got.shape == (30,) and got.dtype == np.float32
    np.testing.assert_allclose(got, (v @ m).toarray().ravel(), rtol=1e-5, atol=1e-6)
    assert rowops.spans(m.indptr, np.array([], np.int64))[0].size == 0


def test_take_rows_is_fancy_row_indexing() -> None:
    m = matrix(5, 30, 12, 0.3)
    rows = np.array([4, 0, 4, 29])
    got = rowops.take_rows(m, rows)
    assert got.shape == (4, 12)
    np.testing.assert_array_equal(got.toarray(), m[rows].toarray())


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 300), st.integers(1, 40), st.integers(1, 8))
def test_top_of_a_sparse_row_is_the_dense_top_with_ties_by_index(
    seed: int, nnz: int, depth: int, levels: int
) -> None:
    """The partition-and-sort top list equals ``top_n`` of the dense row (few distinct values make
    ties at the cut, which go to the lower index)."""
    rng = np.random.default_rng(seed)
    depth = min(depth, nnz)
    idx = rng.choice(1_000, size=nnz, replace=False)  # unsorted, as a sparse product leaves them
    val = (rng.integers(1, levels + 1, size=nnz) / levels).astype(np.float32)
    dense = np.full(1_000, -1.0, np.float32)
    dense[idx] = val
    np.testing.assert_array_equal(top_of(idx, val, depth), top_n(dense[None, :], depth)[0])


@settings(max_examples=60, deadline=None)
@given(shapes, st.sampled_from([np.int32, np.int64]), st.booleans())
def test_csr_without_checks_is_the_matrix_scipy_builds(
    shape: tuple[int, int, int, float], index: type, fast: bool
) -> None:
    """The checked-once shortcut and scipy's constructor give the same matrix, in products, sums and
    slices too; with the shortcut off (another scipy), scipy's constructor is used."""
    seed, rows, n, density = shape
    m = matrix(seed, rows, n, density)
    indices, indptr = m.indices.astype(index), m.indptr.astype(np.int64)  # indptr as a cumsum gives it
    saved = rowops._FAST_CSR
    rowops._FAST_CSR = fast
    try:
        got = rowops.csr(m.data, indices, indptr, m.shape)
    finally:
        rowops._FAST_CSR = saved
    other = matrix(seed + 1, n, rows, density)
    np.testing.assert_array_equal(got.toarray(), m.toarray())
    np.testing.assert_array_equal((got @ other).toarray(), (m @ other).toarray())
    np.testing.assert_array_equal((got + m).toarray(), 2 * m.toarray())
    picked = np.arange(rows)[::-1]
    np.testing.assert_array_equal(got[picked].toarray(), m[picked].toarray())
    assert got.has_sorted_indices == m.has_sorted_indices and got.nnz == m.nnz


def test_the_csr_shortcut_holds_on_this_scipy() -> None:
    assert rowops._fast_csr_holds()


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.floats(0, 10, allow_nan=False)), max_size=25),
    st.lists(st.integers(0, 35), max_size=20),
)
def test_values_at_reads_a_sparse_row_as_a_dict_of_it_does(
    row: list[tuple[int, float]], items: list[int]
) -> None:
    from xingqu.pipelines.feed.rules import _values_at

    idx = np.array([i for i, _ in row], np.int64)
    values = np.array([v for _, v in row], np.float32)
    as_dict = dict(zip(idx.tolist(), values.tolist(), strict=True))  # a repeated index: its last value
    got = _values_at(idx, values, np.array(items, np.int64))
    assert got.tolist() == [as_dict.get(j, 0.0) for j in items]
