"""``embedding``: rows of a table picked by integer indices, and its vjp ``embedding_backward``
(the gradient rows scattered back and summed). Each is the other's vjp, so gradients of any
order stay within the pair. ``padding_idx`` names a row that never gets a gradient."""

from __future__ import annotations

import numpy as np

from gradc import dtypes
from gradc.errors import DTypeError, IndexRangeError, ShapeError
from gradc.ops.table import Op, register
from gradc.shapes import TensorType


def _check_indices(t: TensorType):
    if t.dtype not in (dtypes.int64, dtypes.int32):  # torch: Long or Int
        raise DTypeError(f"the indices must be an int64 or int32 tensor, got {t.dtype.name}")


def _embedding_infer(weight: TensorType, indices: TensorType, *, padding_idx=None) -> TensorType:
    _check_indices(indices)
    if weight.ndim != 2:
        raise ShapeError(f"the embedding table must be 2-D, got {weight.ndim}-D")
    return TensorType(weight.dtype, (*indices.shape, weight.shape[1]))


def _embedding_impl(weight, indices, *, padding_idx=None):
    if indices.size and (indices.min() < -len(weight) or indices.max() >= len(weight)):
        raise IndexRangeError(f"index out of range in self (a table of {len(weight)} rows)")
    return weight[indices]


def _masked(g, indices, padding_idx):
    from gradc import functions as fn

    if padding_idx is None:
        return g
    keep = fn.cast(fn.unsqueeze(fn.ne(indices, padding_idx), -1), g.dtype)
    return fn.mul(g, keep)


def _embedding_vjp(ct, weight, indices, *, out, padding_idx=None):
    from gradc.dispatch import apply

    n = weight.shape[0]
    return apply("embedding_backward", ct, indices, num_weights=n, padding_idx=padding_idx)


register(
    Op(
        "embedding",
        _embedding_infer,
        _embedding_impl,
        (_embedding_vjp, None),
        "index",
        doc="rows of weight at integer indices: weight[indices]",
    )
)


def _backward_infer(ct: TensorType, indices: TensorType, *, num_weights, padding_idx=None):
    _check_indices(indices)
    if tuple(ct.shape[:-1]) != tuple(indices.shape):
        raise ShapeError(
            f"the gradient {list(ct.shape)} does not fit the indices {list(indices.shape)}"
        )
    return TensorType(ct.dtype, (num_weights, ct.shape[-1]))


def _backward_impl(ct, indices, *, num_weights, padding_idx=None):
    out = np.zeros((num_weights, ct.shape[-1]), dtype=ct.dtype)
    np.add.at(out, indices.reshape(-1), ct.reshape(-1, ct.shape[-1]))
    if padding_idx is not None:
        out[padding_idx] = 0
    return out


def _backward_vjp(ct, g, indices, *, out, num_weights, padding_idx=None):
    from gradc.dispatch import apply

    return _masked(apply("embedding", ct, indices, padding_idx=padding_idx), indices, padding_idx)


register(
    Op(
        "embedding_backward",
        _backward_infer,
        _backward_impl,
        (_backward_vjp, None),
        "index",
        doc="the rows of ct summed into a zero table at their indices (vjp of embedding)",
    )
)
