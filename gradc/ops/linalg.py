"""Batched matrix multiply (both operands at least 2-D; ``gradc.matmul`` handles 1-D)."""

from __future__ import annotations

import numpy as np

from gradc import dtypes
from gradc.errors import DTypeError, ShapeError
from gradc.ops.table import Op, register
from gradc.shapes import TensorType, broadcast_shapes, dim_str, same_dim


def _infer(a: TensorType, b: TensorType) -> TensorType:
    if a.dtype is not b.dtype:
        raise DTypeError(
            f"expected both operands to have the same dtype, got {a.dtype.name} and "
            f"{b.dtype.name}: convert one with .to()"
        )
    if a.dtype is dtypes.bool_:
        raise DTypeError("matmul is not defined for bool tensors")
    if a.ndim < 2 or b.ndim < 2:
        raise ShapeError("the matmul primitive takes operands of at least 2 dims")
    if not same_dim(a.shape[-1], b.shape[-2]):
        raise ShapeError(
            f"inner dimensions do not match: {a} @ {b} "
            f"({dim_str(a.shape[-1])} != {dim_str(b.shape[-2])})"
        )
    batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return TensorType(a.dtype, (*batch, a.shape[-2], b.shape[-1]))


def _vjp_a(ct, a, b, *, out):
    from gradc import functions as fn

    return fn.sum_to(fn.matmul(ct, fn.mT(b)), a.shape)


def _vjp_b(ct, a, b, *, out):
    from gradc import functions as fn

    return fn.sum_to(fn.matmul(fn.mT(a), ct), b.shape)


register(Op("matmul", _infer, np.matmul, (_vjp_a, _vjp_b), "matmul", doc="batched a @ b"))
