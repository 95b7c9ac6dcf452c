"""Tensor types (dtype + shape) and shape arithmetic that works on ints and sympy symbols alike."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import sympy

from gradc.dtypes import DType
from gradc.errors import IndexRangeError, ShapeError

Dim = int | sympy.Expr


def canon(d) -> Dim:
    """Ints stay ints; sympy expressions that are numbers become ints."""
    if isinstance(d, sympy.Basic):
        d = sympy.sympify(d)
        return int(d) if d.is_Integer else d
    return int(d)


def is_static(shape) -> bool:
    return all(isinstance(d, int) for d in shape)


def dim_str(d) -> str:
    return str(d).replace(" ", "")


def shape_str(shape) -> str:
    return "[" + ",".join(dim_str(d) for d in shape) + "]"


def prod(shape) -> Dim:
    return canon(math.prod(shape, start=sympy.Integer(1))) if shape else 1


@dataclass(frozen=True)
class TensorType:
    """What the op table's ``infer`` reads and returns: an abstract tensor."""

    dtype: DType
    shape: tuple

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(canon(d) for d in self.shape))

    @classmethod
    def of_array(cls, dtype: DType, shape: tuple) -> TensorType:
        """The type of a concrete array: its shape is ints already, so skip ``canon``
        (this runs for every input of every eager op)."""
        t = object.__new__(cls)
        object.__setattr__(t, "dtype", dtype)
        object.__setattr__(t, "shape", shape)
        return t

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __str__(self) -> str:
        return f"{self.dtype.short}{shape_str(self.shape)}"

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, TensorType)
            and self.dtype is other.dtype
            and len(self.shape) == len(other.shape)
            and all(same_dim(a, b) for a, b in zip(self.shape, other.shape))
        )

    def __hash__(self) -> int:
        return hash((self.dtype.name, self.shape))


def same_dim(a, b) -> bool:
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if a == b:  # the same expression
        return True
    return _same_expr(sympy.sympify(a), sympy.sympify(b))


@functools.lru_cache(maxsize=4096)
def _same_expr(a, b) -> bool:
    """``simplify(a - b) == 0``, once per pair: shape checks ask the same few pairs thousands of
    times while tracing LeNet's step (0.45 s of a warm first call, before this cache)."""
    d = a - b
    if d.is_Number:
        return d == 0
    if d.is_polynomial():  # exact, and without simplify's first-call imports (~0.4 s)
        return sympy.expand(d) == 0
    return sympy.simplify(d) == 0


def broadcast_shapes(*shapes) -> tuple:
    """numpy broadcasting; a symbolic dim broadcasts against 1 or an equal expression."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(ndim):
        d = 1
        for s in shapes:
            k = i - (ndim - len(s))
            if k < 0:
                continue
            e = s[k]
            if isinstance(e, int) and e == 1:
                continue
            if isinstance(d, int) and d == 1:
                d = e
            elif not same_dim(d, e):
                raise ShapeError(
                    "shapes " + " and ".join(shape_str(s) for s in shapes) + f" do not broadcast "
                    f"(dimension {i - ndim}: {dim_str(d)} vs {dim_str(e)})"
                )
        out.append(d)
    return tuple(out)


def norm_dim(dim: int, ndim: int, *, extra: int = 0) -> int:
    """Wrap a negative dim; ``extra`` allows one past the end (unsqueeze, stack)."""
    n = ndim + extra
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise ShapeError(f"dim must be an int, got {dim!r}")
    lo, hi = -max(n, 1), max(n, 1) - 1
    if not lo <= dim <= hi:
        raise IndexRangeError(
            f"dim {dim} is out of range for a tensor of {ndim} dims (expected {lo}..{hi})"
        )
    return dim % max(n, 1)


def norm_dims(dim, ndim: int) -> tuple:
    """None means all dims; an int or a sequence becomes a sorted tuple of distinct dims."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = tuple(sorted({norm_dim(d, ndim) for d in dims}))
    if len(out) != len(dims):
        raise ShapeError(f"dim {dim} repeats a dimension")
    return out


_NUMPY_NAMES = {"axis": "dim", "keepdims": "keepdim"}


def axis_alias(f):
    """Accept numpy's ``axis=`` for ``dim=`` and ``keepdims=`` for ``keepdim=``, as torch does
    for every function with those arguments (both spellings at once is a TypeError there too)."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        for numpy_name, name in _NUMPY_NAMES.items():
            if numpy_name in kwargs:
                if name in kwargs:
                    raise TypeError(f"{f.__name__}() got both {name}= and {numpy_name}=")
                kwargs[name] = kwargs.pop(numpy_name)
        return f(*args, **kwargs)

    return wrapper


def infer_reshape(old, new) -> tuple:
    """Resolve one -1 in ``new`` and check the element count matches ``old``."""
    new = tuple(canon(d) for d in new)
    n_old = prod(old)
    if sum(1 for d in new if isinstance(d, int) and d == -1) > 1:
        raise ShapeError(f"only one dimension can be -1, got {shape_str(new)}")
    if -1 in new:
        known = prod(d for d in new if not (isinstance(d, int) and d == -1))
        rest = canon(sympy.sympify(n_old) / known) if known != 0 else None
        if (
            rest is None
            or (isinstance(rest, sympy.Basic) and not _is_whole(rest))
            or (isinstance(rest, int) and rest * known != n_old)
        ):
            raise ShapeError(f"cannot view a tensor of shape {shape_str(old)} as {shape_str(new)}")
        if not isinstance(rest, int) and sympy.sympify(rest).is_Rational:
            raise ShapeError(f"cannot view a tensor of shape {shape_str(old)} as {shape_str(new)}")
        new = tuple(rest if (isinstance(d, int) and d == -1) else d for d in new)
    if any(isinstance(d, int) and d < 0 for d in new) or not same_dim(prod(new), n_old):
        raise ShapeError(
            f"cannot view a tensor of shape {shape_str(old)} ({dim_str(n_old)} elements) "
            f"as {shape_str(new)}"
        )
    return new


def _is_whole(e) -> bool:
    e = sympy.sympify(e)
    return not (e.is_Rational and not e.is_Integer)


def is_symbolic(v) -> bool:
    """Whether a value or an attr (tuples, dicts, slices inside) holds a shape symbol."""
    if isinstance(v, sympy.Basic):
        return bool(v.free_symbols)
    if isinstance(v, (tuple, list)):
        return any(is_symbolic(x) for x in v)
    if isinstance(v, dict):
        return any(is_symbolic(x) for x in v.values())
    if isinstance(v, slice):
        return is_symbolic((v.start, v.stop, v.step))
    return False
