"""``prod`` and ``var`` over dims, ``cumsum`` along a dim: primitives no composition expresses
exactly.

``exp(sum(log(x)))`` fails for zeros and negatives, so ``prod`` is its own op; its vjp handles
zeros, infs and nans the way torch's does (see ``_prod_vjp``).
``var``'s vjp is torch's ``2 (x - mean) / (N - correction)``: the mean's own term (zero in exact
arithmetic) is left out, so an inf input gives -inf, not nan, to the others, and the rule, with
the mean not detached, has the right second derivative.
``cumsum``'s vjp is a cumsum from the end (the op's ``reverse`` attr).
"""

from __future__ import annotations

import math

import numpy as np

from gradc import dtypes
from gradc.errors import ShapeError
from gradc.ops.table import Op, register
from gradc.shapes import TensorType, norm_dims


def _reduced(shape, dim, keepdim):
    return tuple(1 if i in dim else d for i, d in enumerate(shape) if keepdim or i not in dim)


def _integral(t: TensorType):
    """torch: sums and products of bool and integer tensors are int64."""
    return t.dtype if t.dtype.is_floating_point else dtypes.int64


def _prod_infer(t: TensorType, *, dim, keepdim=False) -> TensorType:
    if norm_dims(dim, t.ndim) != tuple(dim):
        raise ShapeError(f"dim {dim} must be sorted, distinct and non-negative")
    return TensorType(_integral(t), _reduced(t.shape, dim, keepdim))


def _prod_vjp(ct, x, *, out, dim, keepdim=False):
    """d prod / d x_i is the product of the other elements of x_i's slice, chosen as torch's
    prod_backward chooses: without a zero anywhere in ``x``, ``out / x`` (nan at an inf entry);
    with one, the product of the others; a whole-tensor product with several zeros, 0 (unless
    under ``create_graph``, where the product of the others keeps second derivatives right).

    The product of the others is counted, not divided out: the finite nonzero entries'
    product (over ``x_i`` when it is one of them), then the zeros, infs and nans among the
    others decide 0, +-inf or nan. Divisions see a safe denominator and the special values are
    constants, so no nan leaks through ``where`` into higher derivatives."""
    from gradc import functions as fn
    from gradc.autograd import grad_mode
    from gradc.dispatch import apply

    if x.ndim == 0:
        return ct
    keep = tuple(1 if i in dim else d for i, d in enumerate(x.shape))
    if not keepdim:
        ct = fn.reshape(ct, keep)

    def count(mask, dims=tuple(dim)):
        return apply("sum", fn.cast(mask, dtypes.int64), dim=dims, keepdim=True)

    zero, nan, inf = fn.eq(x, 0), apply("isnan", x), apply("isinf", x)
    regular = apply("logical_and", apply("isfinite", x), fn.ne(x, 0))
    safe = fn.where(regular, x, 1.0)
    rest = apply_prod(fn.where(zero, 1.0, x), dim)  # without zeros: the whole product
    no_zero_grad = fn.div(rest, fn.where(zero, 1.0, x))
    finite = apply_prod(safe, dim)
    base = fn.where(regular, fn.div(finite, safe), finite)  # the regular others' product

    def others(mask):
        return fn.sub(count(mask), fn.cast(mask, dtypes.int64))

    zeros_o, infs_o = fn.gt(others(zero), 0), fn.gt(others(inf), 0)
    neg_infs_o = others(apply("logical_and", inf, fn.lt(x, 0)))
    negative = fn.ne(fn.lt(base, 0), fn.eq(apply("remainder", neg_infs_o, 2), 1))
    # one zero among the others: that zero (0, but differentiable) times the regular rest
    zero_o = fn.sub(
        apply("sum", fn.where(zero, x, 0.0), dim=tuple(dim), keepdim=True), fn.where(zero, x, 0.0)
    )
    one_zero = fn.where(fn.eq(others(zero), 1), fn.mul(zero_o, base), 0.0)
    special = fn.where(zeros_o, one_zero, fn.where(negative, -math.inf, math.inf))
    nan_o = apply("logical_or", fn.gt(others(nan), 0), apply("logical_and", zeros_o, infs_o))
    g = fn.where(nan_o, math.nan, fn.where(apply("logical_or", zeros_o, infs_o), special, base))
    zeros = count(zero, tuple(range(x.ndim)))  # in the whole tensor, as torch decides
    grad = fn.mul(fn.where(fn.eq(zeros, 0), no_zero_grad, g), ct)
    if len(dim) == x.ndim and not grad_mode.is_grad_enabled():  # torch's shortcut (zeros,
        grad = fn.where(fn.gt(zeros, 1), 0.0, grad)  # even for a nan ct), not under create_graph
    return grad


def apply_prod(x, dim):
    from gradc.dispatch import apply

    return apply("prod", x, dim=tuple(dim), keepdim=True)


register(
    Op(
        "prod",
        _prod_infer,
        lambda a, *, dim, keepdim=False: np.prod(a, axis=dim, keepdims=keepdim),
        (_prod_vjp,),
        "reduce",
        doc="product over dims",
    )
)


def _cumsum_infer(t: TensorType, *, dim, reverse=False) -> TensorType:
    if not (isinstance(dim, int) and 0 <= dim < max(t.ndim, 1)):
        raise ShapeError(f"dim {dim} must be a non-negative dim of the tensor")
    return TensorType(_integral(t), t.shape)


def _cumsum_impl(a, *, dim, reverse=False):
    if not a.ndim:
        return a.copy()
    if reverse:
        return np.flip(np.cumsum(np.flip(a, dim), axis=dim), dim)
    return np.cumsum(a, axis=dim)


def _cumsum_vjp(ct, x, *, out, dim, reverse=False):
    """The gradient of a cumsum is the cumsum of ``ct`` run the other way (summed, not
    ``sum - cumsum``: an inf in ``ct`` would make that inf - inf = nan everywhere)."""
    from gradc.dispatch import apply

    if x.ndim == 0:
        return ct
    return apply("cumsum", ct, dim=dim, reverse=not reverse)


register(
    Op(
        "cumsum",
        _cumsum_infer,
        _cumsum_impl,
        (_cumsum_vjp,),
        "scan",
        doc="running sum along a dim (from the end with reverse=True)",
    )
)


def _var_dims(ndim, dim):
    return tuple(range(ndim)) if dim is None else tuple(dim)


def _var_infer(t: TensorType, *, dim, correction=1, keepdim=False) -> TensorType:
    if not t.dtype.is_floating_point:
        raise ShapeError(f"var needs a floating point tensor, got {t.dtype.name}")
    dims = _var_dims(t.ndim, dim)
    if norm_dims(dims, t.ndim) != dims:
        raise ShapeError(f"dim {dim} must be None, or sorted, distinct and non-negative")
    return TensorType(t.dtype, _reduced(t.shape, dims, keepdim))


def var_count(shape, dim):
    """N, the count of reduced elements: an int or an expression."""
    from gradc.shapes import prod

    return prod([shape[d] for d in _var_dims(len(shape), dim)])


def _var_impl(a, *, dim, correction=1, keepdim=False):
    dims = _var_dims(a.ndim, dim)
    dev = a - np.mean(a, axis=dims, keepdims=True)
    # torch divides by max(N - correction, 0): fewer elements than the correction give inf or
    # nan, never a negative
    d = max(var_count(a.shape, dim) - correction, 0)
    return np.sum(dev * dev, axis=dims, keepdims=keepdim) / d


def _var_vjp(ct, x, *, out, dim, correction=1, keepdim=False):
    """torch's var_backward: ``2 (x - mean) / (N - correction)`` with that divisor as is
    (negative when N < correction), except that with no dim and N <= correction it is
    ``ct * (nan where x == mean, else inf)``."""
    from gradc import functions as fn

    dims = _var_dims(x.ndim, dim)
    if not keepdim:
        ct = fn.reshape(ct, tuple(1 if i in dims else d for i, d in enumerate(x.shape)))
    mean = fn.mean(x, dims, keepdim=True)
    dof = var_count(x.shape, dim) - correction
    if dim is None and isinstance(dof, (int, float)) and dof <= 0:
        return fn.mul(ct, fn.where(fn.eq(x, mean), math.nan, math.inf))
    return fn.div(fn.mul(fn.mul(fn.sub(x, mean), ct), 2.0), dof)


register(
    Op(
        "var",
        _var_infer,
        _var_impl,
        (_var_vjp,),
        "scan",
        doc="variance over dims: squared deviations summed, divided by max(N - correction, 0)",
    )
)
