"""The lowered embedding checks its indices as the interpreter does: one outside the table is
an ``IndexRangeError`` (a ``GradcError`` and an ``IndexError``), not a read past the array."""

import numpy as np
import pytest

import gradc
from gradc.dispatch import apply
from tests.compile.steps import eager_then_compiled


@pytest.mark.parametrize("bad", [5, -6])
def test_an_index_outside_the_table_raises(bad):
    spec = [gradc.TensorSpec((5, 2), gradc.float64), gradc.TensorSpec((3,), gradc.int64)]
    g = gradc.trace(lambda w, i: apply("embedding", w, i), *spec)
    prog = gradc.lower(g, optimize=False)
    w = np.arange(10.0).reshape(5, 2)
    np.testing.assert_array_equal(prog(w, np.array([0, -1, 4]))[0], w[[0, -1, 4]])
    with pytest.raises(gradc.errors.IndexRangeError, match="out of range"):
        prog(w, np.array([0, bad, 1]))


def test_integer_array_indexing_compiles_with_its_gradient():
    """``x[:, idx]`` is an embedding of the indexed dim: the numba program and its backward
    (duplicates accumulate) agree with eager mode."""
    idx = gradc.tensor([2, 0, 2])
    w = gradc.tensor(np.arange(6.0).reshape(3, 2), dtype=gradc.float64)

    def f(x):
        return (x[:, idx] ** 2 * w).sum()

    x = gradc.tensor(np.random.default_rng(0).standard_normal((2, 4, 2)), requires_grad=True)
    (value, want), (got, grad) = eager_then_compiled(f, x)
    np.testing.assert_allclose(got, value)
    np.testing.assert_allclose(grad, want)
