"""Selection along one dim by integer indices: ``gather`` and ``scatter_add`` (each the other's
vjp, so gradients of any order stay within the pair) and ``argsort`` (no gradient; ``sort`` and
``topk`` gather values with its indices).

As torch's: indices are int64 (or int32) and never wrap (``-1`` is out of range), ``index`` may
be smaller than ``input`` in every dim but ``dim``, and ``gather``'s result has its shape.
``scatter_add``'s ``src`` has the index's shape here (the public function slices a larger one).
"""

from __future__ import annotations

import numpy as np

from gradc import dtypes
from gradc.errors import DTypeError, IndexRangeError, ShapeError
from gradc.ops.table import Op, register
from gradc.shapes import TensorType, shape_str


def _check_index(op: str, t: TensorType, index: TensorType, dim: int, *, exact=()):
    """torch's checks: an integer index of ``t``'s rank, no larger than ``t`` outside ``dim``
    (and equal to the shapes in ``exact``)."""
    if index.dtype not in (dtypes.int64, dtypes.int32):  # torch 2.x takes int32 too
        raise DTypeError(f"{op}(): Expected dtype int64 for index, got {index.dtype.name}")
    if index.ndim != t.ndim and not (index.ndim <= 1 and t.ndim <= 1):
        raise ShapeError(
            f"{op}(): Index tensor must have the same number of dimensions as the input tensor "
            f"({index.ndim} vs {t.ndim})"
        )
    if not 0 <= dim < max(t.ndim, 1):
        raise IndexRangeError(f"{op}(): dim {dim} is out of range for {t.ndim} dims")
    for k, (a, b) in enumerate(zip(index.shape, t.shape)):
        if k != dim and isinstance(a, int) and isinstance(b, int) and a > b:
            raise ShapeError(
                f"{op}(): Size does not match at dimension {k}: expected index "
                f"{shape_str(index.shape)} to be no larger than self {shape_str(t.shape)} apart "
                f"from dimension {dim}"
            )
    for s in exact:
        if tuple(s.shape) != tuple(index.shape):
            raise ShapeError(f"{op}(): src {s} must have the index's shape {index}")


def _coords(index: np.ndarray, dim: int, size: int) -> tuple:
    """Full coordinates of every index entry, ``dim``'s taken from the index (range-checked:
    torch's indices never wrap). A 0-d input has ``size`` 1 and no coordinates."""
    if index.size and (index.min() < 0 or index.max() >= size):
        bad = index[(index < 0) | (index >= size)].flat[0]
        raise IndexRangeError(f"index {bad} is out of bounds for dimension {dim} with size {size}")
    if index.ndim == 0:
        return (index,)
    grid = list(np.indices(index.shape, sparse=True))
    grid[dim] = index
    return tuple(grid)


def _gather_infer(x: TensorType, index: TensorType, *, dim) -> TensorType:
    _check_index("gather", x, index, dim)
    return TensorType(x.dtype, index.shape)


def _gather_impl(x, index, *, dim):
    if x.ndim == 0:
        _coords(index, dim, 1)
        return np.broadcast_to(x, index.shape).copy()
    return x[_coords(index, dim, x.shape[dim])]


def _gather_vjp(ct, x, index, *, out, dim):
    from gradc import functions as fn
    from gradc.dispatch import apply

    return apply("scatter_add", fn.zeros_like(x, dtype=ct.dtype), index, ct, dim=dim)


register(
    Op(
        "gather",
        _gather_infer,
        _gather_impl,
        (_gather_vjp, None),
        "index",
        doc="out[i][j] = x[index[i][j]][j] for dim 0 (torch.gather)",
    )
)


def _scatter_add_infer(base: TensorType, index: TensorType, src: TensorType, *, dim):
    if base.dtype is not src.dtype:
        raise DTypeError(
            f"scatter_add(): Expected self.dtype to be equal to src.dtype, got "
            f"{base.dtype.name} and {src.dtype.name}"
        )
    _check_index("scatter_add", base, index, dim, exact=(src,))
    return TensorType(base.dtype, base.shape)


def _scatter_add_impl(base, index, src, *, dim):
    out = base.copy()
    if base.ndim == 0:
        _coords(index, dim, 1)
        out[...] += src.sum()
        return out
    np.add.at(out, _coords(index, dim, base.shape[dim]), src)
    return out


def _scatter_add_vjp_base(ct, base, index, src, *, out, dim):
    return ct


def _scatter_add_vjp_src(ct, base, index, src, *, out, dim):
    from gradc.dispatch import apply

    return apply("gather", ct, index, dim=dim)


register(
    Op(
        "scatter_add",
        _scatter_add_infer,
        _scatter_add_impl,
        (_scatter_add_vjp_base, None, _scatter_add_vjp_src),
        "index",
        doc="base with src[i][j] added at [index[i][j]][j] for dim 0 (torch.scatter_add)",
    )
)


def _argsort_infer(x: TensorType, *, dim, descending) -> TensorType:
    if not 0 <= dim < max(x.ndim, 1):
        raise IndexRangeError(f"argsort(): dim {dim} is out of range for {x.ndim} dims")
    return TensorType(dtypes.int64, x.shape)


def _argsort_impl(x, *, dim, descending):
    """Stable, nan largest (torch's order); descending keeps ties in their original order."""
    if x.ndim == 0:
        return np.zeros((), np.int64)
    if not descending:
        return np.argsort(x, axis=dim, kind="stable")
    n = x.shape[dim]
    rev = np.argsort(np.flip(x, dim), axis=dim, kind="stable")
    return n - 1 - np.flip(rev, dim)


register(
    Op(
        "argsort",
        _argsort_infer,
        _argsort_impl,
        (None,),
        "index",
        doc="the indices that sort x along dim (stable; nan sorts as the largest value)",
    )
)
