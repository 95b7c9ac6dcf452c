"""The four dtypes, their spellings and the promotion rules the op table reads."""

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
        (np.dtype("int32"), int64),
        (np.float16, float32),
        (np.uint8, int64),
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
    assert [d.short for d in dtypes.ALL] == ["b8", "i64", "f32", "f64"]
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
