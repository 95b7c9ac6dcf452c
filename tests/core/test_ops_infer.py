"""``infer`` (what tracing and codegen believe) against ``impl`` (what numpy computes), per op.

Table-driven over ``op_cases.CASES``; then dtype promotion against torch's rules, written as
literals (torch is not a dependency).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import gradc
from gradc.dtypes import as_dtype
from gradc.shapes import TensorType
from tests.core import op_cases_more  # noqa: F401  (its rows join CASES)
from tests.core.op_cases import CASES


def _as(t, dtype):
    a = t.detach().numpy()
    return a.astype(dtype.np) if a.dtype.kind == "f" else a


@pytest.mark.parametrize("name", sorted(CASES))
def test_infer_matches_impl(name):
    @given(CASES[name]())
    def check(case):
        fn, inputs = case
        out = fn(*inputs)
        node = out.grad_fn
        assert node.op.name == name
        # the eager result has exactly the inferred type
        assert out.type == node.op.infer(*(t.type for t in node.saved), **node.attrs)
        for dtype in (gradc.float64, gradc.float32):  # impl must compute in the inferred dtype
            arrays = [_as(t, dtype) for t in node.saved]
            types = [TensorType(as_dtype(a.dtype), a.shape) for a in arrays]
            want = node.op.infer(*types, **node.attrs)
            got = np.asarray(node.op.impl(*arrays, **node.attrs))
            assert got.shape == tuple(want.shape), (name, dtype, got.shape, want)
            assert got.dtype == want.dtype.np, (name, dtype, got.dtype, want)

    check()


# ---- dtype promotion, as torch does it --------------------------------------------------------
f32 = gradc.ones(2)
f64 = gradc.ones(2, dtype=gradc.float64)
i64 = gradc.tensor([1, 2])
b8 = gradc.tensor([True, False])


@pytest.mark.parametrize(
    "fn, want",
    [
        (lambda: f32 + f64, gradc.float64),
        (lambda: f64 * f32, gradc.float64),
        (lambda: f32 + 1.5, gradc.float32),  # Python numbers are weak
        (lambda: f64 + 1.5, gradc.float64),
        (lambda: 1.5 * f32, gradc.float32),
        (lambda: i64 + 1.5, gradc.float32),  # int tensor + float scalar: the default float
        (lambda: i64 + 2, gradc.int64),
        (lambda: i64 * True, gradc.int64),
        (lambda: b8 + True, gradc.bool),
        (lambda: b8 + 1, gradc.int64),
        (lambda: b8 * 2.5, gradc.float32),
        (lambda: b8 + i64, gradc.int64),
        (lambda: b8 + f64, gradc.float64),
        (lambda: i64 + f32, gradc.float32),
        (lambda: i64 / i64, gradc.float32),  # true division of ints gives float
        (lambda: i64 / 2, gradc.float32),
        (lambda: 2 / i64, gradc.float32),
        (lambda: b8 / b8, gradc.float32),
        (lambda: i64**2, gradc.int64),
        (lambda: i64**0.5, gradc.float32),
        (lambda: gradc.exp(i64), gradc.float32),
        (lambda: gradc.sqrt(b8), gradc.float32),
        (lambda: gradc.abs(i64), gradc.int64),
        (lambda: gradc.relu(i64), gradc.int64),
        (lambda: f32 < f64, gradc.bool),
        (lambda: i64 == 1.5, gradc.bool),
        (lambda: gradc.maximum(i64, f32), gradc.float32),
        (lambda: gradc.where(b8, i64, 2.5), gradc.float32),
        (lambda: gradc.where(b8, 1.0, 0), gradc.float32),
        (lambda: gradc.where(b8, f32, f64), gradc.float64),
        # 0-d tensors only win with a higher category (torch.result_type)
        (lambda: f32 * gradc.tensor(2.0, dtype=gradc.float64), gradc.float32),
        (lambda: i64 * gradc.tensor(2.0, dtype=gradc.float64), gradc.float64),
        (lambda: i64 * gradc.tensor(2.0), gradc.float32),
        (lambda: b8 + gradc.tensor(3), gradc.int64),
        (lambda: gradc.tensor(1.0) + gradc.tensor(1.0, dtype=gradc.float64), gradc.float64),
        (lambda: gradc.sum(i64), gradc.int64),
        (lambda: gradc.sum(b8), gradc.int64),
        (lambda: gradc.amax(i64), gradc.int64),
        (lambda: i64.mean(dtype=gradc.float64), gradc.float64),
        (lambda: gradc.cat([i64, f32]), gradc.float32),
        (lambda: f32.double(), gradc.float64),
        (lambda: i64.float(), gradc.float32),
        (lambda: f32.long(), gradc.int64),
        (lambda: f32.argmax(), gradc.int64),
    ],
)
def test_dtype_promotion_matches_torch(fn, want):
    out = fn()
    assert out.dtype is want
    assert out.numpy().dtype == want.np  # and the data really has that dtype


def test_default_dtype_decides_python_floats():
    gradc.set_default_dtype(gradc.float64)
    try:
        assert gradc.tensor([1.5]).dtype is gradc.float64
        assert (i64 + 1.5).dtype is gradc.float64
        assert (f32 + 1.5).dtype is gradc.float32
    finally:
        gradc.set_default_dtype(gradc.float32)
    assert gradc.tensor([1.5]).dtype is gradc.float32


def test_values_follow_the_promoted_dtype():
    # int division is exact true division, not floor division
    np.testing.assert_allclose((gradc.tensor([1, 3]) / 2).numpy(), [0.5, 1.5])
    # bools compute as numbers: exp(True) is e to float32 precision (numpy would use float16)
    assert abs(gradc.exp(gradc.tensor(True)).item() - np.e) < 1e-6
    assert (gradc.tensor([True, True]) + gradc.tensor([True, False])).tolist() == [True, True]
