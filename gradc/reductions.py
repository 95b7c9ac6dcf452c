"""Reductions (``sum``, ``mean``, ``amax``, ``max``, ``argmax``...): how torch reads ``dim``,
and where ``max``/``min`` send their gradient. Re-exported by ``gradc.functions``.
"""

from __future__ import annotations

from collections import namedtuple

from gradc.autograd.saved import saves_output
from gradc.dispatch import apply
from gradc.errors import DTypeError, with_op_context
from gradc.functions import (
    _tensor_cls,
    add,
    cast,
    div,
    eq,
    maximum,
    minimum,
    mul,
    ne,
    reshape,
    unsqueeze,
    where,
)
from gradc.shapes import axis_alias, norm_dim, norm_dims, prod

__all__ = ["reduce_dims"]


def _public(fn):
    """Export ``fn``, taking numpy's ``axis=``/``keepdims=`` as torch does."""
    __all__.append(fn.__name__)
    return with_op_context(axis_alias(fn))


def reduce_dims(dim, ndim: int) -> tuple:
    """The dims a reduction's ``dim`` argument names, as torch reads it: None and an empty list
    mean every dim; a 0-d tensor takes ``dim`` 0 or -1 and has no dims to reduce."""
    if dim is not None and not isinstance(dim, int) and len(dim) == 0:
        dim = None
    dims = norm_dims(dim, ndim)
    return () if ndim == 0 else dims


@_public
def sum(x, dim=None, keepdim=False, *, dtype=None):
    """Sum over ``dim`` (an int, a tuple, or None / () for all dims)."""
    if dtype is not None:
        x = cast(x, dtype)
    return apply("sum", x, dim=reduce_dims(dim, x.ndim), keepdim=bool(keepdim))


@_public
def mean(x, dim=None, keepdim=False, *, dtype=None):
    """Mean over ``dim``; float tensors only, as in torch."""
    if dtype is not None:
        x = cast(x, dtype)
    if not x.dtype.is_floating_point:
        raise DTypeError(
            f"mean needs a floating point tensor, got {x.dtype.name}: convert with .float()",
            op=f"mean({x.type})",
        )
    dims = reduce_dims(dim, x.ndim)
    count = prod([x.shape[d] for d in dims])
    return div(apply("sum", x, dim=dims, keepdim=bool(keepdim)), count)


@_public
def amax(x, dim=None, keepdim=False):
    """The largest value over ``dim``; ties share the gradient equally (torch's amax)."""
    return apply("amax", x, dim=reduce_dims(dim, x.ndim), keepdim=bool(keepdim))


@_public
def amin(x, dim=None, keepdim=False):
    """The smallest value over ``dim``; ties share the gradient equally (torch's amin)."""
    return apply("amin", x, dim=reduce_dims(dim, x.ndim), keepdim=bool(keepdim))


def _arg_dim(dim, ndim):
    """A 0-d tensor takes dim 0 or -1 and answers 0, as with no dim."""
    if dim is None:
        return None
    dim = norm_dim(dim, ndim)
    return None if ndim == 0 else dim


@_public
def argmax(x, dim=None, keepdim=False):
    dim = _arg_dim(dim, x.ndim)
    return apply("argmax", x, dim=dim, keepdim=bool(keepdim))


@_public
def argmin(x, dim=None, keepdim=False):
    dim = _arg_dim(dim, x.ndim)
    return apply("argmin", x, dim=dim, keepdim=bool(keepdim))


MinMax = namedtuple("MinMax", ["values", "indices"])


def _needs_grad(x) -> bool:
    from gradc.autograd import grad_mode

    return x.requires_grad and grad_mode.is_grad_enabled()


def _pick(x, mask, dim, keepdim):
    """``x`` summed over ``dim`` where ``mask`` holds (``where``, so an inf elsewhere and an inf
    cotangent stay out): the value at the selected entries, the gradient routed to them only."""
    return sum(where(mask, x, 0.0), dim, keepdim)


def _extreme(red, arg, binary):
    def f(x, dim=None, keepdim=False):
        if isinstance(dim, _tensor_cls()):
            return binary(x, dim)
        if dim is None:
            if not _needs_grad(x):
                return red(x)
            # torch: ties share the gradient, and a nan result sends it to the nans
            v = red(x).detach()
            mask = add(eq(x, v), mul(isnan(x), isnan(v)))  # bool + and * are or and and
            share = div(cast(mask, x.dtype), sum(cast(mask, x.dtype)))
            return saves_output(sum(where(mask, mul(x, share), 0.0)))
        index = arg(x, dim, keepdim)
        # torch: the value at the returned index (0.0 or -0.0), which gets the whole gradient
        d = norm_dim(dim, x.ndim)
        if x.ndim == 0:
            return MinMax(mul(x, 1), index)
        n = x.shape[d]
        classes = reshape(_arange(n), (n,) + (1,) * (x.ndim - d - 1))
        mask = eq(index if keepdim else unsqueeze(index, d), classes)
        return MinMax(_pick(x, mask, d, keepdim), index)

    return f


def _arange(n):
    from gradc.creation import arange

    return arange(n)


@_public
def isnan(x):
    """Where ``x`` is nan (x != x)."""
    return ne(x, x)


def _named(f, name, doc):
    f.__name__ = f.__qualname__ = name
    f.__doc__ = doc
    return _public(f)


max = _named(
    _extreme(amax, argmax, maximum),
    "max",
    "max(x): the largest value; max(x, dim): (values, indices); max(x, y): maximum.",
)
min = _named(
    _extreme(amin, argmin, minimum),
    "min",
    "min(x): the smallest value; min(x, dim): (values, indices); min(x, y): minimum.",
)
