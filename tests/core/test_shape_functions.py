"""gradc/shape_functions.py: chunk, split, repeat, tile, repeat_interleave, roll, tril, triu,
unflatten, diag, diagonal, flip, unfold — values written out, gradients by gradcheck, torch as a
second oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradc
from gradc.testing import gradcheck
from gradc.testing.strategies import tensors

f64 = gradc.float64


def m34():
    return gradc.arange(12.0).reshape(3, 4)


def test_values():
    x = m34()
    assert [c.shape for c in x.chunk(3, 1)] == [(3, 2), (3, 2)]  # torch: fewer chunks
    assert [c.shape for c in x.split([1, 3], 1)] == [(3, 1), (3, 3)]
    assert [c.shape[0] for c in gradc.split(x, 2)] == [2, 1]
    assert gradc.tensor([1, 2]).repeat(2, 2).tolist() == [[1, 2, 1, 2], [1, 2, 1, 2]]
    assert gradc.tensor([[1, 2]]).tile((2,)).tolist() == [[1, 2, 1, 2]]
    assert gradc.tensor([[1, 2]]).tile(2, 1).tolist() == [[1, 2], [1, 2]]  # ints, as torch takes
    assert gradc.tensor([1, 2]).repeat_interleave(2).tolist() == [1, 1, 2, 2]
    assert gradc.tensor([[1, 2], [3, 4]]).repeat_interleave(2, 0).tolist() == [
        [1, 2],
        [1, 2],
        [3, 4],
        [3, 4],
    ]
    assert gradc.tensor([1, 2, 3, 4]).roll(1).tolist() == [4, 1, 2, 3]
    assert gradc.tensor([[1, 2], [3, 4]]).roll((1, -1), (0, 1)).tolist() == [[4, 3], [2, 1]]
    assert gradc.ones(3, 3).tril().tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert gradc.ones(2, 3).triu(1).tolist() == [[0, 1, 1], [0, 0, 1]]
    assert gradc.tensor([[True, True], [True, True]]).tril().dtype is gradc.bool
    assert x.unflatten(1, (2, -1)).shape == (3, 2, 2)
    assert gradc.diag(gradc.tensor([1, 2])).tolist() == [[1, 0], [0, 2]]
    assert gradc.diag(gradc.tensor([1, 2]), 1).tolist() == [[0, 1, 0], [0, 0, 2], [0, 0, 0]]
    assert x.diag().tolist() == [0.0, 5.0, 10.0] and x.diag(-1).tolist() == [4.0, 9.0]
    assert x.diag(4).tolist() == []
    assert gradc.tensor([True, False]).flip([]).dtype is gradc.bool  # a copy, not x * 1
    assert gradc.tensor(2).flip(0).tolist() == 2


def test_errors():
    with pytest.raises(RuntimeError, match="sum exactly"):
        m34().split([1, 1], 1)
    with pytest.raises(RuntimeError, match="smaller than number of dimensions"):
        m34().repeat(2)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        gradc.ones(3).tril()
    with pytest.raises(RuntimeError, match="multiply up"):
        m34().unflatten(1, (3, 2))
    with pytest.raises(RuntimeError, match="1D or 2D"):
        gradc.ones(1, 1, 1).diag()
    with pytest.raises(RuntimeError, match="cannot be identical"):
        m34().diagonal(0, 1, -1)
    with pytest.raises(RuntimeError, match="maximum size for tensor at dimension 1 is 4"):
        m34().unfold(1, 5, 1)
    with pytest.raises(RuntimeError, match="step is 0"):
        m34().unfold(1, 2, 0)
    with pytest.raises(RuntimeError, match="duplicates"):
        m34().flip(0, -2)


@st.composite
def _cases(draw):
    shape = draw(st.sampled_from([(3,), (2, 3), (3, 2, 2), (4, 4)]))
    x = draw(tensors(f64, shape=shape, elements=st.floats(-3, 3), requires_grad=True))
    nd = len(shape)
    dim = draw(st.integers(-nd, nd - 1))
    kind = draw(
        st.sampled_from(
            [
                "chunk",
                "split",
                "repeat",
                "tile",
                "interleave",
                "roll",
                "tril",
                "triu",
                "diag",
                "diagonal",
                "unfold",
            ]
        )
    )
    if kind == "chunk":
        k = draw(st.integers(1, 4))
        return (lambda x: gradc.cat([c * (i + 1) for i, c in enumerate(x.chunk(k, dim))], dim)), x
    if kind == "split":
        return (lambda x: x.split(2, dim)[0].sum() * x.split(2, dim)[-1].sum()), x
    if kind == "repeat":
        reps = [draw(st.integers(1, 2)) for _ in range(nd + draw(st.integers(0, 1)))]
        return (
            lambda x: (
                x.repeat(*reps)
                * gradc.arange(float(np.prod(reps) * x.numel()))
                .reshape(*[r * s for r, s in zip(reps, (1,) * (len(reps) - nd) + shape)])
                .double()
            )
        ), x
    if kind == "tile":
        return (lambda x: x.tile((2,)) ** 2), x
    if kind == "interleave":
        return (lambda x: x.repeat_interleave(3, dim) ** 2), x
    if kind == "roll":
        s = draw(st.integers(-4, 4))
        return (
            lambda x: x.roll(s, dim) * gradc.arange(float(x.numel())).reshape(shape).double()
        ), x
    if kind in ("tril", "triu"):
        if nd < 2:
            x = draw(tensors(f64, shape=(3, 3), requires_grad=True, elements=st.floats(-3, 3)))
        k = draw(st.integers(-2, 2))
        return (lambda x: getattr(x, kind)(k) ** 2), x
    if kind == "unfold":
        size = draw(st.integers(1, shape[dim]))
        step = draw(st.integers(1, 3))
        return (lambda x: x.unfold(dim, size, step) ** 2), x
    if kind == "diagonal":
        if nd < 2:
            x = draw(tensors(f64, shape=(3, 4), requires_grad=True, elements=st.floats(-3, 3)))
        d1, d2 = draw(st.permutations(range(x.ndim)))[:2]
        k = draw(st.integers(-3, 3))
        return (lambda x: x.diagonal(k, d1, d2) ** 2), x
    k = draw(st.integers(-2, 2))
    if nd > 2:
        x = draw(tensors(f64, shape=(3, 4), requires_grad=True, elements=st.floats(-3, 3)))
    return (lambda x: gradc.diag(x, k) ** 2), x


@given(_cases())
def test_gradients_match_finite_differences(case):
    fn, x = case
    assert gradcheck(fn, x)


def test_against_torch():
    torch = pytest.importorskip("torch")
    a = np.arange(24.0).reshape(2, 3, 4)
    x, t = gradc.tensor(a), torch.tensor(a)
    pairs = [
        (x.chunk(2, -1), t.chunk(2, -1)),
        (x.split([1, 2], 1), t.split([1, 2], 1)),
        (x.repeat(1, 2, 1, 3), t.repeat(1, 2, 1, 3)),
        (x.tile((2, 1)), t.tile((2, 1))),
        (x.repeat_interleave(2, 1), t.repeat_interleave(2, 1)),
        (x.roll((1, 2), (0, 2)), t.roll((1, 2), (0, 2))),
        (x.roll(-7), t.roll(-7)),
        (x.tril(1), t.tril(1)),
        (x.triu(-1), t.triu(-1)),
        (x.unflatten(2, (2, 2)), t.unflatten(2, (2, 2))),
        (x[0].diag(1), t[0].diag(1)),
        (gradc.diag(x[0, 0], -2), torch.diag(t[0, 0], -2)),
        (x.flip(0, 2), t.flip((0, 2))),
        (gradc.flip(x, -1), torch.flip(t, (-1,))),
        (x[0].fliplr(), t[0].fliplr()),
        (x.flipud(), t.flipud()),
        (x.diagonal(), t.diagonal()),
        (x.diagonal(1, 2, 0), t.diagonal(1, 2, 0)),
        (gradc.diagonal(x, offset=-2, dim1=-1, dim2=1), torch.diagonal(t, -2, -1, 1)),
        (x.diagonal(9), t.diagonal(9)),
        (x.unfold(1, 2, 1), t.unfold(1, 2, 1)),
        (x.unfold(-1, 3, 2), t.unfold(-1, 3, 2)),
        (x.unfold(2, 0, 2), t.unfold(2, 0, 2)),
        (x[0, 0, 0].unfold(0, 1, 1), t[0, 0, 0].unfold(0, 1, 1)),
    ]
    for ours, theirs in pairs:
        ours = ours if isinstance(ours, tuple) else (ours,)
        theirs = theirs if isinstance(theirs, tuple) else (theirs,)
        assert len(ours) == len(theirs)
        for o, h in zip(ours, theirs):
            np.testing.assert_array_equal(o.numpy(), h.numpy())


def test_repeat_interleave_takes_a_count_per_element():
    x = gradc.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=gradc.float64, requires_grad=True)
    y = x.repeat_interleave(gradc.tensor([1, 2]), dim=0)
    assert y.tolist() == [[1.0, 2.0], [3.0, 4.0], [3.0, 4.0]]
    (y * gradc.arange(6.0, dtype=gradc.float64).reshape(3, 2)).sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0], [6.0, 8.0]]  # torch 2.13's values
    assert gradc.tensor([1, 2, 3]).repeat_interleave(gradc.tensor(2)).tolist() == [1, 1, 2, 2, 3, 3]
    with pytest.raises(gradc.ShapeError, match="same size"):
        x.repeat_interleave(gradc.tensor([1, 2, 3]), dim=0)
    with pytest.raises(gradc.TraceError):  # the length depends on the counts' values
        gradc.trace(lambda t, r: t.repeat_interleave(r), gradc.zeros(3), gradc.tensor([1, 1, 1]))


def test_cat_skips_1d_empty_tensors_as_torch_does():
    """Fuzzer finding: torch's legacy rule lets a tensor of shape (0,) join any cat (skipped),
    and a list of only such tensors is one whatever the dim; gradc raised a dim error."""
    assert gradc.cat([gradc.zeros(0), gradc.zeros(0)], 1).shape == (0,)
    a = gradc.zeros(0, dtype=gradc.float64, requires_grad=True)
    b = gradc.ones(2, 3, dtype=gradc.float64, requires_grad=True)
    y = gradc.cat([a, -b * 0, b], 0)
    assert y.shape == (4, 3) and str(y[0, 0].item()) == "-0.0"  # values untouched, -0.0 too
    y.sum().backward()
    assert a.grad.shape == (0,) and b.grad.tolist() == [[1.0] * 3] * 2
    assert gradc.cat([gradc.zeros(0), gradc.ones(2, 3)], 1).shape == (2, 3)
    with pytest.raises(IndexError):  # the dim is checked against the tensors that are joined
        gradc.cat([gradc.zeros(0), gradc.ones(2, 3)], 5)
