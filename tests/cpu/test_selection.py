"""sort/topk and index writes compiled by numba: values and gradients equal eager mode's (the
ops' own rows are in op_rows_more.py; this checks that the compositions lower with their
backward)."""

import numpy as np

import gradc


def test_topk_and_sort_compile_with_their_gradients():
    w = gradc.tensor([3.0, 1.0], dtype=gradc.float64)

    def f(x):
        top = x.topk(2, dim=1).values
        low = x.sort(dim=1, descending=False).values[:, :2]
        return (top * w).sum() + (low**2).sum()

    rng = np.random.default_rng(0)
    x = gradc.tensor(rng.standard_normal((3, 5)), requires_grad=True)
    eager = f(x)
    eager.backward()
    want = x.grad.numpy().copy()
    x.grad = None
    compiled = gradc.compile(f, backend="numba")(x)
    compiled.backward()
    np.testing.assert_allclose(compiled.item(), eager.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)


def test_index_writes_compile_with_their_gradients():
    from tests.core.test_advanced_indexing import _writes

    x = gradc.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    eager = _writes(x)
    eager.backward()
    want, x.grad = x.grad.numpy().copy(), None
    compiled = gradc.compile(_writes, backend="numba")(x)
    compiled.backward()
    assert compiled.item() == eager.item()
    np.testing.assert_array_equal(x.grad.numpy(), want)


def test_flip_diagonal_and_unfold_compile_with_their_gradients():
    w = gradc.tensor(np.arange(8.0).reshape(4, 2), dtype=gradc.float64)

    def f(x):
        y = x.flip(1, 2) * 2
        return (y.diagonal(0, 1, 2) ** 2).sum() + (y.unfold(2, 2, 1) * w[:3]).sum()

    x = gradc.tensor(np.random.default_rng(1).standard_normal((3, 4, 4)), requires_grad=True)
    eager = f(x)
    eager.backward()
    want, x.grad = x.grad.numpy().copy(), None
    compiled = gradc.compile(f, backend="numba")(x)
    compiled.backward()
    np.testing.assert_allclose(compiled.item(), eager.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)
