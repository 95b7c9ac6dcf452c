"""The dtypes, their spellings and the promotion rules the op table reads."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import gradc
from gradc import dtypes
from gradc.dtypes import bool_, float32, float64, int64
from gradc.ops.pointwise import result_dtype
from gradc.shapes import TensorType


@pytest.mark.parametrize(
    "spelling, want",
    [
        (gradc.float32, float32),
        ("float32", float32),
        ("float", float32),
        ("double", float64),
        ("long", int64),
        ("bool", bool_),
        (float, float32),
        (int, int64),
        (bool, bool_),
        (np.float64, float64),
        (np.dtype("int32"), dtypes.int32),
        (np.float16, dtypes.float16),
        (np.uint8, dtypes.uint8),
        (np.int16, int64),  # other integer widths compute as int64
        ("int", dtypes.int32),  # torch.int is int32
        ("half", dtypes.float16),
        (np.bool_, bool_),
    ],
)
def test_as_dtype_spellings(spelling, want):
    assert dtypes.as_dtype(spelling) is want


@pytest.mark.parametrize("bad", ["float8", "complex64", np.complex128, object])
def test_unknown_dtypes_raise_dtype_error(bad):
    with pytest.raises(gradc.DTypeError, match="dtype"):
        dtypes.as_dtype(bad)


def test_dtype_attributes_and_pickling():
    assert [d.short for d in dtypes.ALL] == ["b8", "u8", "i32", "i64", "f16", "f32", "f64"]
    assert repr(float64) == "gradc.float64" and gradc.bool is bool_
    assert float32.is_floating_point and not int64.is_floating_point
    assert pickle.loads(pickle.dumps(float64)) is float64


@pytest.mark.parametrize(
    "ins, want",
    [
        ((float32, float64), float64),
        ((int64, float32), float32),
        ((bool_, int64), int64),
        ((bool_, bool_), bool_),
        ((int64, bool_, float64), float64),
        ((dtypes.uint8, bool_), dtypes.uint8),
        ((dtypes.uint8, dtypes.int32), dtypes.int32),
        ((dtypes.int32, int64), int64),
        ((dtypes.int32, dtypes.float16), dtypes.float16),
        ((dtypes.float16, float32), float32),
    ],
)
def test_promote(ins, want):
    assert dtypes.promote(*ins) is want


@pytest.mark.parametrize(
    "value, other, want",
    [
        (1.5, float64, float64),  # weak: the tensor's dtype wins within a category
        (1.5, int64, float32),  # a float scalar lifts an int tensor to the default float
        (2, float32, float32),
        (2, bool_, int64),
        (True, int64, int64),
        (True, None, bool_),
        (3, None, int64),
        (np.float64(1.0), float32, float32),
    ],
)
def test_weak_scalar_dtype(value, other, want):
    assert dtypes.weak_scalar_dtype(value, other) is want


@pytest.mark.parametrize(
    "types, want",
    [
        ([(float32, (3,)), (float64, ())], float32),  # a 0-d tensor of the same category loses
        ([(int64, (3,)), (float64, ())], float64),  # a higher category wins
        ([(bool_, (2,)), (int64, ())], int64),
        ([(float32, ()), (float64, ())], float64),  # all 0-d: plain promotion
        ([(float32, (2,)), (float64, (2,))], float64),
    ],
)
def test_result_dtype_zero_dim_rule(types, want):
    assert result_dtype([TensorType(d, s) for d, s in types]) is want


def test_float_of_and_default_dtype():
    assert dtypes.float_of(int64) is float32 and dtypes.float_of(float64) is float64
    gradc.set_default_dtype(gradc.float64)
    try:
        assert dtypes.float_of(bool_) is float64 and gradc.get_default_dtype() is float64
    finally:
        gradc.set_default_dtype(gradc.float32)
    with pytest.raises(gradc.DTypeError, match="floating"):
        gradc.set_default_dtype(gradc.int64)
    assert gradc.get_default_dtype() is float32


# ---- int32, uint8, float16: storage kept, torch's result dtypes -----------------------------
def test_from_numpy_keeps_the_dtype_and_shares_memory():
    for np_dtype, dt in [
        (np.int32, dtypes.int32),
        (np.uint8, dtypes.uint8),
        (np.float16, dtypes.float16),
    ]:
        a = np.arange(3, dtype=np_dtype)
        t = gradc.from_numpy(a)
        a[0] = 7
        assert t.dtype is dt and t.tolist()[0] == 7


@pytest.mark.parametrize(
    "expr, dtype, values",
    [
        (lambda i, u, h: i + i, dtypes.int32, [2, 4]),
        (lambda i, u, h: i * 2, dtypes.int32, [2, 4]),  # a Python int is weak
        (lambda i, u, h: i + gradc.tensor([1, 1]), int64, [2, 3]),
        (lambda i, u, h: i / 2, float32, [0.5, 1.0]),
        (lambda i, u, h: i // 2, dtypes.int32, [0, 1]),
        (lambda i, u, h: i.sum(), int64, 3),
        (lambda i, u, h: u + 10, dtypes.uint8, [4, 20]),  # wraps around, as torch
        (lambda i, u, h: u + i, dtypes.int32, [251, 12]),
        (lambda i, u, h: u.float(), float32, [250.0, 10.0]),
        (lambda i, u, h: h * 2, dtypes.float16, [3.0, 5.0]),
        (lambda i, u, h: h + 1.0, dtypes.float16, [2.5, 3.5]),
        (lambda i, u, h: h + gradc.tensor([1.0, 1.0]), float32, [2.5, 3.5]),
        (lambda i, u, h: i + h, dtypes.float16, [2.5, 4.5]),
        (lambda i, u, h: u.sqrt(), float32, [250**0.5, 10**0.5]),
    ],
)
def test_result_dtypes_follow_torch(expr, dtype, values):
    i = gradc.tensor([1, 2], dtype=gradc.int32)
    u = gradc.tensor([250, 10], dtype=gradc.uint8)
    h = gradc.tensor([1.5, 2.5], dtype=gradc.float16)
    out = expr(i, u, h)
    assert out.dtype is dtype
    np.testing.assert_allclose(out.tolist(), values, rtol=1e-6)


def test_conversion_methods_and_printing():
    x = gradc.tensor([1.7, -2.2])
    assert x.int().dtype is dtypes.int32 and x.int().tolist() == [1, -2]
    assert x.half().dtype is dtypes.float16 and x.byte().dtype is dtypes.uint8
    assert repr(x.int()) == "tensor([ 1, -2], dtype=gradc.int32)"
    assert gradc.int is dtypes.int32 and gradc.half is dtypes.float16 and gradc.uint8.short == "u8"


def test_float16_takes_gradients_and_uint8_exp_computes_wide():
    h = gradc.tensor([0.5, 1.0], dtype=gradc.float16, requires_grad=True)
    (h * h).sum().backward()
    assert h.grad.dtype is dtypes.float16 and h.grad.tolist() == [1.0, 2.0]
    e = gradc.tensor([10], dtype=gradc.uint8).exp()  # numpy would compute this in float16
    assert e.dtype is float32 and abs(e.item() - 22026.4658) < 0.01


def test_against_torch():
    torch = pytest.importorskip("torch")
    for ours, theirs in [
        (gradc.tensor([200], dtype=gradc.uint8) * 2, torch.tensor([200], dtype=torch.uint8) * 2),
        (gradc.tensor([7], dtype=gradc.int32) % 3, torch.tensor([7], dtype=torch.int32) % 3),
        (
            gradc.tensor([1.0], dtype=gradc.float16) / 3,
            torch.tensor([1.0], dtype=torch.float16) / 3,
        ),
    ]:
        assert ours.dtype.name == str(theirs.dtype).split(".")[1]
        assert ours.tolist() == theirs.tolist()
