"""torch's reductions beyond sum/mean/max: ``prod``, ``var``/``std`` (``correction=``), ``norm``,
``logsumexp``, ``cumsum``, and ``gradc.softmax``/``x.softmax(dim)``.

``prod`` and ``cumsum`` are ops of the table (``gradc/ops/scan.py``); the rest are compositions.

>>> x = gradc.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
>>> x.var(0), x.std(correction=0), x.norm(dim=1), x.logsumexp(1), x.cumsum(0), x.prod()
"""

from __future__ import annotations

import math

from gradc import dtypes
from gradc import functions as fn
from gradc.autograd.saved import saves_output
from gradc.dispatch import apply
from gradc.errors import DTypeError, GradcError, ShapeError, with_op_context
from gradc.reductions import reduce_dims
from gradc.shapes import axis_alias, norm_dim

__all__: list = []


def _public(f):
    __all__.append(f.__name__)
    return with_op_context(axis_alias(f))


_dims = reduce_dims  # None and () mean every dim; a 0-d tensor has none to reduce


def _floating(input, what: str):
    if not input.dtype.is_floating_point:
        raise DTypeError(
            f"{what} only supports floating point dtypes, got {input.dtype.name}: use .float()"
        )


@_public
def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product over ``dim`` (an int, or None for every element); ints give int64, as torch."""
    if dtype is not None:
        input = fn.cast(input, dtype)
    if dim is None:
        return apply("prod", input, dim=tuple(range(input.ndim)), keepdim=False)
    return apply(
        "prod", input, dim=_dims((norm_dim(dim, input.ndim),), input.ndim), keepdim=bool(keepdim)
    )


@_public
def cumsum(input, dim, *, dtype=None):
    """Running sum along ``dim``; bool and int tensors give int64."""
    if dtype is not None:
        input = fn.cast(input, dtype)
    return apply("cumsum", input, dim=norm_dim(dim, input.ndim))


def _correction(unbiased, correction):
    if correction is not None and unbiased is not None:
        raise GradcError("pass either unbiased or correction, not both")
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


@_public
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over ``dim``: the squared deviations summed and divided by ``N - correction``
    (``correction=1``, Bessel's, by default; ``unbiased=False`` means 0)."""
    _floating(input, "std and var")
    if isinstance(dim, bool):  # torch's old var(input, unbiased)
        dim, unbiased = None, dim
    c = _correction(unbiased, correction)
    # an op of its own (gradc/ops/scan.py) for torch's gradient at inf inputs; dim=None is
    # kept, as torch's backward treats no dim (and a 0-d input) apart
    dims = _dims(dim, input.ndim)  # checked even where dropped
    dims = None if dim is None or input.ndim == 0 else dims
    return apply("var", input, dim=dims, correction=c, keepdim=bool(keepdim))


@_public
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``sqrt(var(...))``; see ``var``. Where the deviations are all 0 the gradient is 0, as
    torch's (not sqrt's inf times 0)."""
    # torch's std, norm and logsumexp save their result: writing to it makes backward raise
    return saves_output(_safe_sqrt(var(input, dim, unbiased, keepdim, correction=correction)))


@_public
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` over the same dims."""
    return (
        var(input, dim, unbiased, keepdim, correction=correction),
        fn.mean(input, dim, keepdim=keepdim),
    )


@_public
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` over the same dims."""
    return (
        std(input, dim, unbiased, keepdim, correction=correction),
        fn.mean(input, dim, keepdim=keepdim),
    )


def _safe_sqrt(s):
    """``sqrt(s)`` whose gradient is 0 where ``s == 0`` (torch's norm at the origin), not nan."""
    zero = fn.eq(s, 0)
    return fn.where(zero, 0.0, fn.sqrt(fn.where(zero, 1.0, s)))


@_public
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector norm over ``dim`` (all elements by default): ``p`` = 2 or ``"fro"`` (Euclidean),
    1, ``inf``, ``-inf``, 0 (count of nonzeros) or any other number (``sum |x|^p ^ (1/p)``).
    The gradient at the origin is 0, as torch's; the result is saved, as torch's."""
    return saves_output(_norm(input, p, dim, keepdim, dtype))


def _norm(input, p, dim, keepdim, dtype):
    if dtype is not None:
        input = fn.cast(input, dtype)
    _floating(input, "norm")
    if p == "nuc":
        raise GradcError("the nuclear norm is not supported; use p=2, 'fro', 1, inf, ...")
    if p == "fro" and isinstance(dim, (tuple, list)) and len(dim) > 2:
        raise ShapeError(  # torch takes a 'fro' over a dim tuple as a matrix norm
            f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dim))}"
        )
    dims, keep = _dims(dim, input.ndim), bool(keepdim)
    a = fn.abs(input)
    if p in ("fro", 2, 2.0):
        return _safe_sqrt(fn.sum(fn.mul(input, input), dims, keepdim=keep))
    if p == 1:
        return fn.sum(a, dims, keepdim=keep)
    if p in (math.inf, -math.inf):
        return _extreme_norm(fn.amax if p > 0 else fn.amin, a, dims, keep)
    if p == 0:
        return fn.sum(fn.cast(fn.ne(input, 0), input.dtype), dims, keepdim=keep)
    if not isinstance(p, (int, float)):
        raise GradcError(f"norm got an unknown order p={p!r}")
    s = fn.sum(fn.pow(a, p), dims, keepdim=keep)
    if p > 0:  # like the 2-norm: gradient 0 (not nan) at the origin
        zero = fn.eq(s, 0)
        return fn.where(zero, 0.0, fn.pow(fn.where(zero, 1.0, s), 1.0 / p))
    return fn.pow(s, 1.0 / p)


def _extreme_norm(red, a, dims, keep):
    """``red(|x|)`` as torch differentiates it: a slice with a nan is nan and sends ``ct * 0``
    to each entry (0, or nan for an inf or nan ``ct``: torch multiplies by its mask), the
    others amax's tie rule. ``sum(|x| * 0)`` is that slice's nan with that gradient."""
    nan = apply("isnan", a)
    has_nan = fn.gt(fn.sum(fn.cast(nan, a.dtype), dims, keepdim=keep), 0)
    nan_slice = fn.sum(fn.mul(a, 0.0), dims, keepdim=keep)
    return fn.where(has_nan, nan_slice, red(fn.where(nan, 0.0, a), dims, keepdim=keep))


@_public
def logsumexp(input, dim, keepdim=False):
    """``log(sum(exp(x)))`` over ``dim``, shifted by the (detached) max so exp cannot overflow;
    rows of ``-inf`` give ``-inf`` and an ``inf`` gives ``inf``, as torch."""
    if not input.dtype.is_floating_point:
        input = fn.cast(input, dtypes.get_default_dtype())
    dims = _dims(dim, input.ndim)
    if any(isinstance(input.shape[d], int) and input.shape[d] == 0 for d in dims):
        m = 0.0  # no max to shift by: log(0) = -inf, as torch
    else:
        # shift by the largest finite entry, so that a row with an inf keeps finite ones'
        # gradients exp(x - inf) = 0, as torch (not exp(800) / inf = nan)
        finite = fn.where(apply("isfinite", input), input, -math.inf)
        m = fn.amax(finite, dims, keepdim=True).detach()
        m = fn.where(apply("isinf", m), 0.0, m)  # no finite entry: no shift
    s = fn.sum(fn.exp(fn.sub(input, m)), dims, keepdim=True)
    out = fn.add(fn.log(s), m)
    return saves_output(out if keepdim else fn.squeeze(out, dims))


@_public
def softmax(input, dim, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim`` (torch.softmax; same as nn.functional.softmax)."""
    from gradc.nn import functional as F

    return F.softmax(input, dim, dtype=dtype)


@_public
def log_softmax(input, dim, dtype=None):
    """``x - logsumexp(x)`` along ``dim`` (torch.log_softmax)."""
    from gradc.nn import functional as F

    return F.log_softmax(input, dim, dtype=dtype)


def _methods():
    from gradc._tensor import Tensor

    for name in __all__:
        setattr(Tensor, name, globals()[name])


_methods()
