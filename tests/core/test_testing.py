"""``gradc.testing`` itself: gradcheck must catch wrong gradients, strategies must keep promises."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradc
from gradc.dispatch import apply
from gradc.ops import OPS, Op, register
from gradc.shapes import norm_dims
from gradc.testing import GradcheckError, gradcheck, gradgradcheck
from gradc.testing import strategies as gst

_ids = itertools.count()


@pytest.fixture
def test_op():
    """Register a throwaway op (unique name) and take it out of the table afterwards."""
    names = []

    def make(impl, vjp):
        name = f"testing_op_{next(_ids)}"
        names.append(name)
        return register(Op(name, lambda t: t, impl, (vjp,), "opaque", doc="test only"))

    yield make
    for name in names:
        OPS.pop(name, None)


def _double_wrong(ct, x, *, out):
    return ct * 3  # d(2x)/dx is 2, not 3


def x64(values):
    return gradc.tensor(values, dtype=gradc.float64, requires_grad=True)


def test_gradcheck_accepts_a_right_gradient(test_op):
    op = test_op(lambda a: 2 * a, lambda ct, x, *, out: ct * 2)
    assert gradcheck(lambda x: apply(op, x), x64([[1.0, -2.0], [0.5, 3.0]])) is True
    assert gradcheck(lambda x, y: (x * y).tanh().sum(0), x64([[1.0, 2.0]]), x64([0.3, -0.1]))


def test_gradcheck_reports_index_analytic_and_numeric(test_op):
    op = test_op(lambda a: 2 * a, _double_wrong)
    x = x64([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]])
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: apply(op, x), x)
    msg = str(info.value)
    m = re.search(r"input 0 at index \((\d+), (\d+)\): analytic (\S+), numeric (\S+) \(atol=", msg)
    assert m, msg
    i, j, analytic, numeric = int(m[1]), int(m[2]), float(m[3]), float(m[4])
    assert 0 <= i < 2 and 0 <= j < 3
    assert analytic == pytest.approx(1.5 * numeric, rel=1e-6)  # 3v against 2v
    assert "test_testing.py" in msg  # the caller's line, as every GradcError
    assert gradcheck(lambda x: apply(op, x), x, raise_exception=False) is False


def test_gradcheck_catches_a_missing_gradient(test_op):
    op = test_op(lambda a: a * a, lambda ct, x, *, out: gradc.zeros_like(x))
    with pytest.raises(GradcheckError, match="analytic 0.0"):
        gradcheck(lambda x: apply(op, x), x64([1.0, 2.0]))


def test_gradgradcheck_catches_a_wrong_second_derivative(test_op):
    # right first derivative (2x), but built from a detached x: its own derivative is lost
    op = test_op(lambda a: a * a, lambda ct, x, *, out: ct * 2 * x.detach())
    x = x64([1.0, -0.5])
    assert gradcheck(lambda x: apply(op, x), x)
    with pytest.raises(GradcheckError):
        gradgradcheck(lambda x: apply(op, x), x)
    assert gradgradcheck(lambda x: x * x, x)


def test_gradcheck_rejects_float32_and_no_grad_inputs():
    with pytest.raises(gradc.DTypeError, match="float64"):
        gradcheck(gradc.tanh, gradc.tensor([1.0], requires_grad=True))
    with pytest.raises(gradc.GradcError, match="no input requires grad"):
        gradcheck(gradc.tanh, gradc.tensor([1.0], dtype=gradc.float64))


def test_gradcheck_handles_several_outputs_and_constants():
    c = gradc.tensor([2.0, 3.0], dtype=gradc.float64)  # needs no grad
    assert gradcheck(lambda x: (x * c, (x + c).exp()), x64([0.1, 0.2]))


# ---- strategies --------------------------------------------------------------------------------
@given(gst.shapes(min_dims=1, max_dims=3, min_side=2, max_side=4))
def test_shapes_stay_in_bounds(shape):
    assert isinstance(shape, tuple) and 1 <= len(shape) <= 3
    assert all(2 <= d <= 4 for d in shape)


@given(st.data())
def test_broadcastable_shapes_broadcast(data):
    shape = data.draw(gst.shapes(max_dims=3))
    other = data.draw(gst.broadcastable_shapes(shape, max_dims=4))
    out = np.broadcast_shapes(shape, other)
    t = gradc.zeros(*shape) + gradc.zeros(*other)
    assert tuple(t.shape) == out


@given(gst.mutually_broadcastable_shapes(3, max_dims=3, max_side=3))
def test_mutually_broadcastable_shapes_have_the_stated_result(b):
    assert len(b.input_shapes) == 3
    assert np.broadcast_shapes(*b.input_shapes) == b.result_shape
    assert all(len(s) <= 3 and all(d <= 3 for d in s) for s in b.input_shapes)


@given(
    gst.tensors(gradc.float32, shape=(2, 3), elements=st.floats(-1, 1, width=32)),
    gst.tensors(gradc.int64, shape=gst.shapes(max_dims=2)),
    gst.tensors(requires_grad=True),
)
def test_tensors_have_the_dtype_shape_and_elements_asked_for(a, i, g):
    assert a.dtype is gradc.float32 and tuple(a.shape) == (2, 3)
    assert np.all(np.abs(a.numpy()) <= 1)
    assert i.dtype is gradc.int64 and i.ndim <= 2 and np.all(np.abs(i.numpy()) <= 10)
    assert g.dtype is gradc.float64 and g.requires_grad and g.is_leaf
    assert np.all(np.isfinite(g.detach().numpy())) and np.all(np.abs(g.detach().numpy()) <= 3)


@given(st.data())
def test_dims_are_valid_for_the_rank(data):
    ndim = data.draw(st.integers(0, 4))
    d = data.draw(gst.dims(ndim, allow_none=True))
    dims = norm_dims(d, ndim)  # raises on an invalid dim
    assert all(0 <= k < max(ndim, 1) for k in dims)
    if d is not None and ndim:
        gradc.zeros(*([2] * ndim)).sum(d)  # and the API accepts it
