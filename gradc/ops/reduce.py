"""Reductions: sum, amax, amin (differentiable) and argmax, argmin (index results)."""

from __future__ import annotations

import numpy as np

from gradc import dtypes
from gradc.errors import ShapeError
from gradc.ops.table import Op, register
from gradc.shapes import TensorType, norm_dims


def _reduced_shape(shape, dim, keepdim):
    return tuple(
        (1 if keepdim else None) if i in dim else d
        for i, d in enumerate(shape)
        if keepdim or i not in dim
    )


def _check(t: TensorType, dim):
    norm = norm_dims(dim, t.ndim)
    if norm != tuple(dim):
        raise ShapeError(f"dim {dim} must be sorted, distinct and non-negative")
    return norm


def _sum_infer(t: TensorType, *, dim, keepdim=False) -> TensorType:
    _check(t, dim)
    dt = t.dtype if t.dtype.is_floating_point else dtypes.int64
    return TensorType(dt, _reduced_shape(t.shape, dim, keepdim))


def _minmax_infer(t: TensorType, *, dim, keepdim=False) -> TensorType:
    _check(t, dim)
    for i in dim:
        if t.shape[i] == 0:
            raise ShapeError(f"cannot reduce over dimension {i} of size 0")
    return TensorType(t.dtype, _reduced_shape(t.shape, dim, keepdim))


def _keep_shape(shape, dim):
    return tuple(1 if i in dim else d for i, d in enumerate(shape))


def _sum_vjp(ct, x, *, out, dim, keepdim=False):
    from gradc import functions as fn

    if not keepdim:
        ct = fn.reshape(ct, _keep_shape(x.shape, dim))
    return fn.expand(ct, x.shape)


def _minmax_vjp(ct, x, *, out, dim, keepdim=False):
    """Ties share the gradient equally, as torch's amax/amin do."""
    from gradc import functions as fn

    keep = _keep_shape(x.shape, dim)
    if not keepdim:
        ct, out = fn.reshape(ct, keep), fn.reshape(out, keep)
    mask = fn.cast(fn.eq(x, out), x.dtype)
    count = fn.sum(mask, dim, keepdim=True)
    return fn.div(fn.mul(mask, ct), count)


register(
    Op(
        "sum",
        _sum_infer,
        lambda a, *, dim, keepdim=False: np.sum(a, axis=dim, keepdims=keepdim),
        (_sum_vjp,),
        "reduce",
        doc="sum over dims",
    )
)
register(
    Op(
        "amax",
        _minmax_infer,
        lambda a, *, dim, keepdim=False: np.amax(a, axis=dim, keepdims=keepdim),
        (_minmax_vjp,),
        "reduce",
        doc="max over dims",
    )
)
register(
    Op(
        "amin",
        _minmax_infer,
        lambda a, *, dim, keepdim=False: np.amin(a, axis=dim, keepdims=keepdim),
        (_minmax_vjp,),
        "reduce",
        doc="min over dims",
    )
)


def _arg_infer(t: TensorType, *, dim=None, keepdim=False) -> TensorType:
    if dim is None:
        if t.ndim and any(isinstance(d, int) and d == 0 for d in t.shape):
            raise ShapeError("cannot take the arg-extreme of an empty tensor")
        return TensorType(dtypes.int64, (1,) * t.ndim if keepdim else ())
    _check(t, (dim,))
    return TensorType(dtypes.int64, _reduced_shape(t.shape, (dim,), keepdim))


def _arg_impl(fn):
    def impl(a, *, dim=None, keepdim=False):
        if dim is None:
            r = fn(a.reshape(-1))
            return np.reshape(r, (1,) * a.ndim) if keepdim else r
        return fn(a, axis=dim, keepdims=keepdim)

    return impl


register(Op("argmax", _arg_infer, _arg_impl(np.argmax), (), "reduce", doc="index of the max"))
register(Op("argmin", _arg_infer, _arg_impl(np.argmin), (), "reduce", doc="index of the min"))
