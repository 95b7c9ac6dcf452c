"""gradc/advanced_indexing.py: integer-tensor, list and bool-mask indexing and item assignment,
shapes and values against torch, gradients by gradcheck and against torch's IndexBackward."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradc
from gradc.testing import gradcheck
from tests.compile.steps import eager_then_compiled

A = np.arange(24.0).reshape(2, 3, 4)

# each reads (x, make_tensor): the same index for gradc and torch
READS = [
    lambda x, m: x[[1, 0, 1]],
    lambda x, m: x[0, :, [0, 1]],  # ints are basic indexing first, as in torch (numpy differs)
    lambda x, m: x[:, [0, 2], [1, 3]],
    lambda x, m: x[[0, 1], :, [1, 3]],  # split by a slice: the indexed dims go first
    lambda x, m: x[[[0], [1]], 1:, [1, -3]],  # broadcast indices, negative ones wrap
    lambda x, m: x[m(1)],
    lambda x, m: x[None, [0, 1]],
    lambda x, m: x[[0, 1], None],
    lambda x, m: x[x > 5],
    lambda x, m: x[m([True, False])],
    lambda x, m: x[:, m([True, False, True])],
    lambda x, m: x[..., [1, -1]],
    lambda x, m: x[1, m([[True, False, True, True]] * 3)],
    lambda x, m: x[m([[0, 1], [1, 1]]), 1],
    lambda x, m: x[[0, 1], 0, [1, 2]],
    lambda x, m: x[[]],
]


@pytest.mark.parametrize("k", range(len(READS)))
def test_reads_match_torch(k):
    torch = pytest.importorskip("torch")
    ours, theirs = READS[k](gradc.tensor(A), gradc.tensor), READS[k](torch.tensor(A), torch.tensor)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def _weights(n):
    return np.random.default_rng(n).standard_normal(n)


@pytest.mark.parametrize("k", [0, 2, 4, 8, 12, 14])
def test_gradients_match_torch_duplicates_accumulating(k):
    torch = pytest.importorskip("torch")
    x, t = gradc.tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    ours, theirs = READS[k](x, gradc.tensor), READS[k](t, torch.tensor)
    w = _weights(ours.numel()).reshape(tuple(ours.shape))
    (ours * gradc.tensor(w)).sum().backward()
    (theirs * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())


WRITES = [
    lambda x, m: x.__setitem__(x > 5, 0.0),
    lambda x, m: x.__setitem__(([0, 1], slice(None), [1, 3]), 7.0),
    lambda x, m: x.__setitem__([1], m(np.full((3, 4), 5.0))),
    lambda x, m: x.__setitem__((slice(None), [2, 0]), m(np.arange(8.0).reshape(2, 1, 4))),
    lambda x, m: x.__setitem__(([0, 0], [1, 1], [2, 2]), m(np.array([3.0, 4.0]))),  # last wins
    lambda x, m: x.__setitem__(x < 3, m(9.0)),  # through a mask, a float32 value is cast
]


@pytest.mark.parametrize("k", range(len(WRITES)))
def test_writes_match_torch(k):
    torch = pytest.importorskip("torch")
    x, t = gradc.tensor(A.copy()), torch.tensor(A.copy())
    WRITES[k](x, gradc.tensor)
    WRITES[k](t, torch.tensor)
    np.testing.assert_array_equal(x.numpy(), t.numpy())


def test_write_gradients_match_torch():
    torch = pytest.importorskip("torch")
    w = _weights(24).reshape(2, 3, 4)

    def run(lib, mk):
        x, v = mk(A, requires_grad=True), mk(np.full(2, 3.0), requires_grad=True)
        y = x * 1
        y[[0, 1], [0, 2], [1, 1]] = v * 2
        y[y > 20] = 0.0
        (y * mk(w)).sum().backward()
        return x.grad.numpy(), v.grad.numpy()

    for a, b in zip(run(gradc, gradc.tensor), run(torch, torch.tensor)):
        np.testing.assert_allclose(a, b)


def test_errors_are_torchs():
    x = gradc.tensor(A)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 2"):
        x[[5]]
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 1"):
        x[[0], [3]]
    with pytest.raises(IndexError, match="shape of the mask"):
        x[gradc.tensor([True, False, True])]
    with pytest.raises(IndexError, match="long, int, byte or bool"):
        x[gradc.tensor([0.5])]
    with pytest.raises(RuntimeError, match="dtypes match"):
        x[[0]] = gradc.tensor(1.0)  # float32 into float64 through integer indices


def test_a_mask_cannot_be_traced_but_an_integer_index_can():
    idx = gradc.tensor([2, 0, 2])
    f = gradc.compile(lambda x: x[:, idx] * 2, backend="interpret")
    x = gradc.tensor(A, requires_grad=True)
    f(x).sum().backward()
    assert f(x).shape == (2, 3, 4)  # dim 1 picked: [2, 0, 2]
    assert x.grad[0, :, 0].tolist() == [2.0, 0.0, 4.0]
    g = gradc.compile(lambda x: x[x > 0], backend="interpret")
    with pytest.raises(RuntimeError, match="bool mask"):
        g(x)


@st.composite
def _cases(draw):
    shape = draw(st.sampled_from([(4,), (3, 2), (2, 3, 2)]))
    x = draw(st.lists(st.floats(-3, 3), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
    x = gradc.tensor(np.reshape(x, shape), dtype=gradc.float64, requires_grad=True)
    dims = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=2, unique=True))
    ishape = draw(st.sampled_from([(), (3,), (2, 2)]))
    idx = [slice(None)] * len(shape)
    for d in dims:
        n = shape[d]
        vals = draw(st.lists(st.integers(-n, n - 1), min_size=int(np.prod(ishape)), max_size=4))
        idx[d] = gradc.tensor(np.reshape(vals[: int(np.prod(ishape))], ishape), dtype=gradc.int64)
    if draw(st.booleans()):
        return (lambda x: x[tuple(idx)] ** 2), x
    mask = gradc.tensor(draw(st.lists(st.booleans(), min_size=shape[0], max_size=shape[0])))
    return (lambda x: x[mask] ** 2), x


@given(_cases())
def test_gradients_match_finite_differences(case):
    fn, x = case
    assert gradcheck(fn, x)


def test_index_select_and_masked_select_match_torch():
    torch = pytest.importorskip("torch")
    x, t = gradc.tensor(A), torch.tensor(A)
    pairs = [
        (x.index_select(2, gradc.tensor([3, 0, 3])), t.index_select(2, torch.tensor([3, 0, 3]))),
        (gradc.index_select(x, -3, gradc.tensor(1)), torch.index_select(t, -3, torch.tensor(1))),
        (
            x.masked_select(gradc.tensor([True, False, True, False])),
            t.masked_select(torch.tensor([True, False, True, False])),
        ),
    ]
    for ours, theirs in pairs:
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def _writes(x):
    y = x * 1
    y[:, gradc.tensor([0, 2])] = 0.0
    y[0, [1]] = gradc.tensor([5.0], dtype=gradc.float64)
    return (y**2).sum()


def test_writes_trace_with_a_symbolic_batch():
    x = gradc.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (value, want), (got, grad) = eager_then_compiled(_writes, x, "interpret")
    assert got == value
    np.testing.assert_array_equal(grad, want)


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put_matches_torch_values_and_gradients(accumulate):
    torch = pytest.importorskip("torch")
    a, w = np.arange(12.0).reshape(3, 4), _weights(12).reshape(3, 4)

    def run(lib):
        x, v = lib.tensor(a, requires_grad=True), lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        v64 = v.double() * 2
        index = (lib.tensor([0, 0, 2]), lib.tensor([1, 1, 3]))  # a duplicate position
        out = x.index_put(index, v64, accumulate=accumulate) if accumulate else None
        if out is None:  # without accumulate torch leaves duplicates' order open: none here
            out = x.index_put((lib.tensor([0, 2]), lib.tensor([1, 3])), v64[1:])
        y = x.detach().clone()
        y.index_put_((lib.tensor([1]),), lib.tensor([5.0]).double(), accumulate=accumulate)
        (out * lib.tensor(w)).sum().backward()
        return out.detach().numpy(), y.numpy(), x.grad.numpy(), v.grad.numpy()

    for ours, theirs in zip(run(gradc), run(torch)):
        np.testing.assert_allclose(ours, theirs)
