"""The dtypes gradc knows and PyTorch's promotion rules between them.

uint8, int32 and float16 are storage types as much as compute types: ``from_numpy`` keeps them
(sharing memory) and ops give torch's result dtypes (int32 + int32 is int32, sums are int64).
"""

from __future__ import annotations

import numpy as np

from gradc.errors import DTypeError


class DType:
    """A tensor element type (``gradc.float32``...); ``short`` is the IR spelling."""

    __slots__ = ("name", "short", "np", "category")

    def __init__(self, name: str, short: str, np_dtype, category: int):
        self.name, self.short, self.np, self.category = name, short, np.dtype(np_dtype), category

    @property
    def is_floating_point(self) -> bool:
        return self.category == FLOAT

    def __repr__(self) -> str:
        return f"gradc.{self.name}"

    def __reduce__(self):
        return (as_dtype, (self.name,))


BOOL, INT, FLOAT = 0, 1, 2
bool_ = DType("bool", "b8", np.bool_, BOOL)
uint8 = DType("uint8", "u8", np.uint8, INT)
int32 = DType("int32", "i32", np.int32, INT)
int64 = DType("int64", "i64", np.int64, INT)
float16 = DType("float16", "f16", np.float16, FLOAT)
float32 = DType("float32", "f32", np.float32, FLOAT)
float64 = DType("float64", "f64", np.float64, FLOAT)
ALL = (bool_, uint8, int32, int64, float16, float32, float64)
_BY_NAME = {d.name: d for d in ALL} | {
    "float": float32,
    "double": float64,
    "half": float16,
    "long": int64,
    "int": int32,
}
_BY_NP = {d.np: d for d in ALL}
_default_float = float32


def as_dtype(x) -> DType:
    """Accept a DType, its name, a numpy dtype or a Python type."""
    if isinstance(x, DType):
        return x
    if isinstance(x, np.dtype) and x in _BY_NP:  # the hot path: an array's dtype
        return _BY_NP[x]
    if isinstance(x, str) and x in _BY_NAME:
        return _BY_NAME[x]
    if x is float:
        return _default_float
    if x is int:
        return int64
    if x is bool:
        return bool_
    try:
        npd = np.dtype(x)
    except TypeError:
        raise DTypeError(
            f"unknown dtype {x!r}; use one of {', '.join(d.name for d in ALL)}"
        ) from None
    if npd in _BY_NP:
        return _BY_NP[npd]
    if npd.kind == "f":  # e.g. longdouble
        return float64
    if npd.kind in "iu":
        return int64
    raise DTypeError(f"unsupported dtype {npd}; use one of {', '.join(d.name for d in ALL)}")


def get_default_dtype() -> DType:
    return _default_float


def set_default_dtype(d) -> None:
    """Set the dtype Python floats become (float32 unless changed), as torch does."""
    global _default_float
    d = as_dtype(d)
    if not d.is_floating_point:
        raise DTypeError(f"set_default_dtype: expected a floating dtype, got {d.name}")
    _default_float = d


def promote(*dtypes: DType) -> DType:
    """The result dtype of mixing tensors: the highest category, then the widest width (torch's
    rule for these dtypes: uint8 with int32 is int32, float16 with float32 is float32)."""
    return max(dtypes, key=lambda d: (d.category, d.np.itemsize))


def scalar_category(v) -> int:
    if isinstance(v, (bool, np.bool_)):
        return BOOL
    if isinstance(v, (int, np.integer)):
        return INT
    return FLOAT


def weak_scalar_dtype(v, other: DType | None) -> DType:
    """The dtype a Python scalar takes next to a tensor of dtype ``other`` (torch's weak types)."""
    cat = scalar_category(v)
    if other is not None and cat <= other.category:
        return other
    return {BOOL: bool_, INT: int64, FLOAT: _default_float}[cat]


def float_of(d: DType) -> DType:
    """The dtype a float-valued op (exp, div...) returns for input dtype ``d``."""
    return d if d.is_floating_point else _default_float
