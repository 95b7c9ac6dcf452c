"""conv2d and pooling ops: numpy impls against a direct loop reference, torch's tie rule,
second derivatives through the gradient ops, and symbolic shapes.

First derivatives of every one of these ops are property-tested with the rest of the op table
(rows in tests/core/op_cases.py, run by tests/core/test_ops_vjp.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

import gradc
import gradc.nn.functional as F
from gradc.dispatch import apply
from gradc.ops import get_op
from gradc.shapes import TensorType
from gradc.testing import gradgradcheck
from tests.core.op_cases import CASES

WINDOW_OPS = [
    "conv2d",
    "conv2d_input_grad",
    "conv2d_weight_grad",
    "max_pool2d",
    "max_pool2d_backward",
    "max_pool2d_select",
    "avg_pool2d",
    "avg_pool2d_backward",
]


def _reference(x, kernel, stride, padding, dilation, reduce_window):
    """Loop over every output pixel: the definition, with padding as ``None`` entries."""
    n, c, h, w = x.shape
    oh = (h + 2 * padding[0] - dilation[0] * (kernel[0] - 1) - 1) // stride[0] + 1
    ow = (w + 2 * padding[1] - dilation[1] * (kernel[1] - 1) - 1) // stride[1] + 1
    out = np.zeros((n, oh, ow), dtype=object)
    for b in range(n):
        for i in range(oh):
            for j in range(ow):
                window = []
                for di in range(kernel[0]):
                    for dj in range(kernel[1]):
                        r = i * stride[0] - padding[0] + di * dilation[0]
                        q = j * stride[1] - padding[1] + dj * dilation[1]
                        inside = 0 <= r < h and 0 <= q < w
                        window.append(x[b, :, r, q] if inside else None)
                out[b, i, j] = reduce_window(window)
    return np.stack([np.stack(list(row)) for row in out.reshape(-1)]).reshape(n, oh, ow, -1)


@st.composite
def windows(draw, dilation=True, pool=False):
    """Pools take padding up to half the kernel (torch's limit); conv2d up to half the window."""
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    eff = [dd * (kk - 1) + 1 for kk, dd in zip(k, d)]
    p = tuple(draw(st.integers(0, (kk if pool else e) // 2)) for e, kk in zip(eff, k))
    hw = tuple(draw(st.integers(e, e + 4)) for e in eff)
    return k, s, p, d, hw


@given(windows(), st.integers(1, 2), st.integers(1, 2), st.integers(1, 2), st.booleans())
def test_conv2d_matches_the_definition(win, groups, cg, og, bias):
    k, s, p, d, hw = win
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, groups * cg, *hw))
    w = rng.standard_normal((groups * og, cg, *k))
    b = rng.standard_normal(groups * og) if bias else None

    def conv(window):
        taps = [np.zeros(groups * cg) if v is None else v for v in window]
        cols = np.stack(taps, axis=1).reshape(groups, cg, -1)  # [g, cg, kh*kw]
        out = np.einsum("gck,gock->go", cols, w.reshape(groups, og, cg, -1)).reshape(-1)
        return out if b is None else out + b

    expected = _reference(x, k, s, p, d, conv).transpose(0, 3, 1, 2)
    args = [gradc.tensor(x), gradc.tensor(w)] + ([gradc.tensor(b)] if bias else [])
    got = F.conv2d(*args, stride=s, padding=p, dilation=d, groups=groups).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@given(windows(pool=True), st.booleans())
def test_max_pool2d_matches_the_definition_with_ties(win, ties):
    k, s, p, d, hw = win
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, (2, 2, *hw)).astype(float) if ties else rng.standard_normal((2, 2, *hw))
    expected = _reference(x, k, s, p, d, lambda ws: np.max([v for v in ws if v is not None], 0))
    got = F.max_pool2d(gradc.tensor(x), k, s, p, d).numpy()
    np.testing.assert_array_equal(got, expected.transpose(0, 3, 1, 2))


@given(windows(dilation=False, pool=True), st.booleans())
def test_avg_pool2d_matches_the_definition(win, count_include_pad):
    k, s, p, _, hw = win
    x = np.random.default_rng(2).standard_normal((1, 3, *hw))

    def mean(ws):
        real = [v for v in ws if v is not None]
        return np.sum(real, 0) / (len(ws) if count_include_pad else len(real))

    expected = _reference(x, k, s, p, (1, 1), mean).transpose(0, 3, 1, 2)
    got = F.avg_pool2d(gradc.tensor(x), k, s, p, count_include_pad=count_include_pad).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_max_pool2d_gradient_goes_to_the_first_max_like_torch():
    x = gradc.tensor([[[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0], [2.0, 3.0, 1.0]]]], requires_grad=True)
    F.max_pool2d(x, 2, stride=1).sum().backward()
    # windows (row-major scan): the first 3 of each wins, as in torch's CPU kernel
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[0, 2, 0], [1, 0, 1], [0, 0, 0]])


def test_max_pool2d_gradient_with_overlap_and_padding():
    x = gradc.tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    F.max_pool2d(x, 3, stride=1, padding=1).sum().backward()
    grad = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            grad[min(i + 1, 3), min(j + 1, 3)] += 1  # the bottom-right of each window wins
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], grad)


@pytest.mark.parametrize("name", WINDOW_OPS)
def test_second_derivatives(name):
    """The vjp of each op is again one of these ops, so second derivatives must be right."""

    @given(CASES[name](small=True))
    def check(case):
        fn, inputs = case
        assert gradgradcheck(fn, *inputs)

    check()


def test_vjps_are_ops_of_the_table():
    x = gradc.randn(2, 3, 6, 6, requires_grad=True)
    w = gradc.randn(4, 3, 3, 3, requires_grad=True)
    y = F.max_pool2d(F.conv2d(x, w, stride=1), 2)
    (gx, gw) = gradc.autograd.grad((y * y).sum(), [x, w], create_graph=True)
    assert gx.grad_fn.op.name == "conv2d_input_grad"
    assert gw.grad_fn.op.name == "conv2d_weight_grad"
    names = [type(n).__name__ for n, _ in gx.grad_fn.next_functions]
    assert names == ["MaxPool2dScatterBackward0", "AccumulateGrad"]
    (ggx,) = gradc.autograd.grad(gx.sum(), [w])
    assert ggx.shape == w.shape
    z = F.avg_pool2d(x, 2)
    (gz,) = gradc.autograd.grad(z.sum(), [x], create_graph=True)
    assert gz.grad_fn is None or gz.grad_fn.op.name == "avg_pool2d_backward"


def test_infer_keeps_the_batch_symbolic():
    n = sympy.Symbol("N", integer=True, positive=True)
    h = sympy.Symbol("H", integer=True, positive=True)
    x = TensorType(gradc.float32, (n, 3, h, 32))
    w = TensorType(gradc.float32, (8, 3, 5, 5))
    conv = dict(stride=(2, 1), padding=(1, 0), dilation=(1, 1), groups=1)
    out = get_op("conv2d").infer(x, w, **conv)
    assert out.shape[0] == n and out.shape[1] == 8 and out.shape[3] == 28
    assert sympy.simplify(out.shape[2] - (sympy.floor((h - 3) / 2) + 1)) == 0
    back = get_op("conv2d_input_grad").infer(out, w, input_size=(h, 32), **conv)
    assert back.shape == (n, 3, h, 32)
    wg = get_op("conv2d_weight_grad").infer(x, out, kernel_size=(5, 5), **conv)
    assert wg.shape == (8, 3, 5, 5)
    pool = dict(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1))
    p = get_op("max_pool2d").infer(TensorType(gradc.float32, (n, 6, 28, 28)), **pool)
    assert p.shape == (n, 6, 14, 14)


def test_gradient_ops_check_their_inputs():
    ct, w = gradc.randn(1, 4, 5, 5), gradc.randn(4, 3, 3, 3)
    attrs = dict(stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1)
    assert apply("conv2d_input_grad", ct, w, input_size=(7, 7), **attrs).shape == (1, 3, 7, 7)
    with pytest.raises(gradc.ShapeError, match=r"spatial size \[5,5\]"):
        apply("conv2d_input_grad", ct, w, input_size=(8, 8), **attrs)
    with pytest.raises(gradc.ShapeError, match="disagree on out_channels"):
        apply("conv2d_input_grad", gradc.randn(1, 5, 5, 5), w, input_size=(7, 7), **attrs)
    pool = dict(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1))
    with pytest.raises(gradc.ShapeError, match="does not match max_pool2d's output"):
        apply("max_pool2d_backward", gradc.randn(1, 1, 3, 3), gradc.randn(1, 1, 4, 4), **pool)
    with pytest.raises(gradc.DTypeError, match="floating point"):
        F.max_pool2d(gradc.ones(1, 1, 4, 4, dtype=gradc.int64), 2)


@pytest.mark.parametrize("pool", [F.max_pool2d, F.avg_pool2d])
def test_pools_refuse_an_empty_image_but_not_an_empty_batch(pool):
    """Fuzzer finding: torch refuses a 0 channel or spatial dim (only the batch may be 0)."""
    assert pool(gradc.zeros(0, 3, 4, 4), 2).shape == (0, 3, 2, 2)
    for shape in [(2, 0, 4, 4), (2, 3, 0, 4), (3, 4, 0)]:
        with pytest.raises(RuntimeError, match="optional 0 dim batch size"):
            pool(gradc.zeros(*shape), 2)
