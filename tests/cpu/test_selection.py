"""sort/topk and index writes compiled by numba: values and gradients equal eager mode's (the
ops' own rows are in op_rows_more.py; this checks that the compositions lower with their
backward)."""

import numpy as np

import gradc
from tests.compile.steps import eager_then_compiled


def test_topk_and_sort_compile_with_their_gradients():
    w = gradc.tensor([3.0, 1.0], dtype=gradc.float64)

    def f(x):
        top = x.topk(2, dim=1).values
        low = x.sort(dim=1, descending=False).values[:, :2]
        return (top * w).sum() + (low**2).sum()

    rng = np.random.default_rng(0)
    x = gradc.tensor(rng.standard_normal((3, 5)), requires_grad=True)
    (value, want), (got, grad) = eager_then_compiled(f, x)
    np.testing.assert_allclose(got, value, rtol=1e-12)
    np.testing.assert_allclose(grad, want, rtol=1e-12)


def test_index_writes_compile_with_their_gradients():
    from tests.core.test_advanced_indexing import _writes

    x = gradc.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (value, want), (got, grad) = eager_then_compiled(_writes, x)
    assert got == value
    np.testing.assert_array_equal(grad, want)


def test_flip_diagonal_and_unfold_compile_with_their_gradients():
    w = gradc.tensor(np.arange(8.0).reshape(4, 2), dtype=gradc.float64)

    def f(x):
        y = x.flip(1, 2) * 2
        return (y.diagonal(0, 1, 2) ** 2).sum() + (y.unfold(2, 2, 1) * w[:3]).sum()

    x = gradc.tensor(np.random.default_rng(1).standard_normal((3, 4, 4)), requires_grad=True)
    (value, want), (got, grad) = eager_then_compiled(f, x)
    np.testing.assert_allclose(got, value, rtol=1e-12)
    np.testing.assert_allclose(grad, want, rtol=1e-12)
