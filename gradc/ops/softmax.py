"""``softmax`` and ``log_softmax`` along one dim: primitives, so their gradients are torch's.

As a composition (shift by the max, exp, sum, divide or subtract the log) the gradient came
from the pieces, and ``log_softmax``'s cancelled badly under a large cotangent: torch's
``LogSoftmaxBackward`` is ``ct - exp(out) * sum(ct)`` and ``SoftmaxBackward`` is
``out * (ct - sum(ct * out))``, both from the saved output only. The forward is the same
max-shifted formula (NaN in a row, or a row of -inf or with +inf, makes the row NaN, as torch).
"""

from __future__ import annotations

import numpy as np

from gradc.errors import ShapeError
from gradc.ops.table import Op, register
from gradc.shapes import TensorType


def _infer(t: TensorType, *, dim) -> TensorType:
    if not t.dtype.is_floating_point:
        raise ShapeError(f"needs a floating point tensor, got {t.dtype.name}")
    if not (isinstance(dim, int) and 0 <= dim < max(t.ndim, 1)):
        raise ShapeError(f"dim {dim} must be a non-negative dim of the tensor")
    return t


def _shifted(a, dim):
    """``a`` minus its max along ``dim`` (NaN-propagating); an empty dim has nothing to shift."""
    if a.ndim == 0:
        return a - a
    if a.shape[dim] == 0:
        return a
    return a - np.amax(a, axis=dim, keepdims=True)


def _log_softmax_impl(a, *, dim):
    s = _shifted(a, dim)
    return s - np.log(np.sum(np.exp(s), axis=dim if a.ndim else None, keepdims=True))


def _softmax_impl(a, *, dim):
    e = np.exp(_shifted(a, dim))
    return e / np.sum(e, axis=dim if a.ndim else None, keepdims=True)


def _log_softmax_vjp(ct, x, *, out, dim):
    from gradc import functions as fn

    return fn.sub(ct, fn.mul(fn.exp(out), fn.sum(ct, dim, keepdim=True)))


def _softmax_vjp(ct, x, *, out, dim):
    from gradc import functions as fn

    return fn.mul(out, fn.sub(ct, fn.sum(fn.mul(ct, out), dim, keepdim=True)))


register(
    Op(
        "log_softmax",
        _infer,
        _log_softmax_impl,
        (_log_softmax_vjp,),
        "scan",
        doc="x - max - log(sum(exp(x - max))) along a dim",
    )
)
register(
    Op(
        "softmax",
        _infer,
        _softmax_impl,
        (_softmax_vjp,),
        "scan",
        doc="exp(x - max) / sum(exp(x - max)) along a dim",
    )
)
