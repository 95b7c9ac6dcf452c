"""gradc/selection.py: gather, scatter_add, argsort, sort, topk — values against torch, errors
as torch raises them, gradients of sort's and topk's values by gradcheck (gather and scatter_add
have rows in the op table)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradc
from gradc.testing import gradcheck
from tests.core.op_cases import _distinct

nan = float("nan")


def test_values():
    x = gradc.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    assert x.sort().values.tolist() == [[1.0, 2.0, 3.0], [0.0, 4.0, 5.0]]
    assert x.sort(0, descending=True).indices.tolist() == [[0, 1, 1], [1, 0, 0]]
    assert x.argsort(dim=1).tolist() == [[1, 2, 0], [0, 2, 1]]
    values, indices = x.topk(2)
    assert values.tolist() == [[3.0, 2.0], [5.0, 4.0]] and indices.tolist() == [[0, 2], [1, 2]]
    assert x.topk(1, dim=0, largest=False).values.tolist() == [[0.0, 1.0, 2.0]]
    assert x.gather(1, gradc.tensor([[2, 2], [0, 1]])).tolist() == [[2.0, 2.0], [0.0, 5.0]]
    out = gradc.zeros(3).scatter_add(0, gradc.tensor([0, 2, 0]), gradc.tensor([1.0, 2.0, 3.0]))
    assert out.tolist() == [4.0, 0.0, 2.0]  # duplicates accumulate
    assert gradc.tensor([nan, 1.0, 0.0]).sort().indices.tolist() == [2, 1, 0]  # nan largest
    assert gradc.tensor([nan, 1.0, 0.0]).sort(descending=True).indices.tolist() == [0, 1, 2]
    assert type(x.sort()).__name__ == "sort" and type(x.topk(1)).__name__ == "topk"
    assert gradc.tensor(3.0).sort().values.item() == 3.0


def test_scatter_add_in_place_and_larger_src():
    x = gradc.zeros(2, 3)
    src = gradc.ones(2, 4)  # larger than the index: only the covered part is used (torch)
    x.scatter_add_(1, gradc.tensor([[0, 0], [2, 1]]), src)
    assert x.tolist() == [[2.0, 0.0, 0.0], [0.0, 1.0, 1.0]]


def test_errors():
    x = gradc.ones(2, 3)
    with pytest.raises(IndexError, match="out of bounds"):
        x.gather(1, gradc.tensor([[3]]))
    with pytest.raises(RuntimeError, match="out of bounds"):  # no wrapping, as torch
        x.gather(1, gradc.tensor([[-1]]))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.gather(1, gradc.tensor([0]))
    with pytest.raises(RuntimeError, match="no larger than"):
        x.gather(1, gradc.tensor([[0], [0], [0]]))
    with pytest.raises(TypeError, match="int64"):
        x.gather(1, gradc.tensor([[0.0]]))
    with pytest.raises(RuntimeError, match="dtype"):
        x.scatter_add(1, gradc.tensor([[0]]), gradc.ones(1, 1, dtype=gradc.float64))
    with pytest.raises(RuntimeError, match="k out of range"):
        x.topk(4)


def test_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, (3, 5)).astype(float)  # ties: stable order
    a[0, 1] = a[2, 3] = nan
    x, t = gradc.tensor(a), torch.tensor(a)
    for dim in (0, 1, -1):
        for down in (False, True):
            ours, theirs = x.sort(dim, down), t.sort(dim=dim, descending=down, stable=True)
            np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
            np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    b = rng.standard_normal((3, 5))
    x, t = gradc.tensor(b), torch.tensor(b)
    for k, dim, largest in [(2, 1, True), (3, 0, False), (0, 1, True), (5, -1, True)]:
        ours, theirs = x.topk(k, dim, largest), t.topk(k, dim, largest)
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    idx = rng.integers(0, 3, (2, 4))
    src = rng.standard_normal((2, 4))
    np.testing.assert_array_equal(
        gradc.gather(x, 0, gradc.tensor(idx)).numpy(), torch.gather(t, 0, torch.tensor(idx))
    )
    np.testing.assert_allclose(
        x.scatter_add(0, gradc.tensor(idx), gradc.tensor(src)).numpy(),
        t.scatter_add(0, torch.tensor(idx), torch.tensor(src)).numpy(),
    )
    xg, tg = gradc.tensor(b, requires_grad=True), torch.tensor(b, requires_grad=True)
    (xg.topk(2).values * 2).sum().backward()
    (tg.topk(2).values * 2).sum().backward()
    np.testing.assert_array_equal(xg.grad.numpy(), tg.grad.numpy())


@st.composite
def _cases(draw):
    shape = draw(st.sampled_from([(4,), (2, 3), (3, 2, 2)]))
    x = _distinct(draw, shape)  # no ties: the order is locally constant
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    weights = gradc.arange(float(np.prod(shape))).reshape(shape).double()
    if draw(st.booleans()):
        down = draw(st.booleans())
        return (lambda x: x.sort(dim, down).values * weights), x
    k = draw(st.integers(0, shape[dim]))
    largest = draw(st.booleans())
    return (lambda x: x.topk(k, dim, largest).values ** 2), x


@given(_cases())
def test_gradients_match_finite_differences(case):
    fn, x = case
    assert gradcheck(fn, x)


def test_sort_traces_and_differentiates():
    x = gradc.tensor([[3.0, 1.0, 2.0]], requires_grad=True)
    f = gradc.compile(
        lambda x: x.sort(descending=True).values * gradc.tensor([1.0, 2.0, 3.0]),
        backend="interpret",
    )
    f(x).sum().backward()
    assert x.grad.tolist() == [[1.0, 3.0, 2.0]]
