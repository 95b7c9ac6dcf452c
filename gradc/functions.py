"""The functional API (``gradc.exp``, ``gradc.sum``...): argument handling in front of ``apply``.

Each function normalises what users pass (dims, shapes, 1-D matmul, indices) and calls the op
table through ``apply``; Tensor methods and operators are these same functions.
"""

from __future__ import annotations

import builtins

from gradc import dtypes
from gradc.dispatch import apply
from gradc.errors import DTypeError, GradcError, ShapeError, with_op_context
from gradc.indexing import normalize_index
from gradc.shapes import axis_alias, canon, infer_reshape, norm_dim, norm_dims, prod, same_dim
from gradc.views import alias

__all__ = []  # filled by _public below


def _public(fn):
    """Export ``fn``; GradcErrors raised inside get its signature and the user's line."""
    __all__.append(fn.__name__)
    return with_op_context(fn)


def _tensor_cls():
    from gradc._tensor import Tensor

    return Tensor


def as_tensor(x, dtype=None):
    """A Tensor from a Tensor (unchanged unless ``dtype`` differs), an array or a number."""
    from gradc.creation import tensor

    if isinstance(x, _tensor_cls()):
        return x if dtype is None or x.dtype is dtypes.as_dtype(dtype) else cast(x, dtype)
    return tensor(x, dtype=dtype)


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(canon(d) for d in shape)


# ---- pointwise ------------------------------------------------------------------------------
def _binary(name):
    def f(a, b):
        return apply(name, a, b)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise {name} with broadcasting; Python numbers are allowed on either side."
    return _public(f)


def _unary(name):
    def f(x):
        return apply(name, x)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise {name}."
    return _public(f)


add, sub, mul, div = map(_binary, ["add", "sub", "mul", "div"])
lt, le, gt, ge, eq, ne = map(_binary, ["lt", "le", "gt", "ge", "eq", "ne"])
exp, log, sqrt, tanh, sigmoid, relu, abs, sin, cos, neg = map(
    _unary, ["exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "sin", "cos", "neg"]
)
true_divide, multiply, subtract, negative = div, mul, sub, neg


def _tensor_pair(name):
    def f(x, other):
        if not isinstance(other, _tensor_cls()):
            raise DTypeError(  # a TypeError, as torch.maximum(x, 0.0) raises
                f"{name}() expects two tensors, got {type(other).__name__} for the second: "
                f"use clamp(min=...) / clamp(max=...) for a number"
            )
        return apply(name, x, other)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise {name} of two tensors: nan if either is nan, ties split the gradient."
    return _public(f)


maximum, minimum = _tensor_pair("maximum"), _tensor_pair("minimum")


@_public
def clamp_min(x, min):
    """``max(x, min)`` with clamp's gradient: x keeps all of it on the bound, none at nan."""
    return apply("clamp_min", x, min)


@_public
def clamp_max(x, max):
    """``min(x, max)`` with clamp's gradient: x keeps all of it on the bound, none at nan."""
    return apply("clamp_max", x, max)


@_public
def pow(x, exponent):
    """``x ** exponent``; either may be a Python number. With a tensor exponent torch saves the
    result (its exponent gradient reads it), so writing to it in place makes backward raise."""
    out = apply("pow", x, exponent)
    if isinstance(exponent, _tensor_cls()):
        from gradc.autograd.saved import saves_output

        saves_output(out)
    return out


@_public
def where(condition, x, y):
    """Pick ``x`` where ``condition`` holds, else ``y`` (broadcasting all three)."""
    return apply("where", condition, x, y)


@_public
def clamp(x, min=None, max=None):
    """Limit values to ``[min, max]``; the gradient is 1 inside and on the boundaries (torch)."""
    if min is None and max is None:
        raise GradcError("at least one of min and max must be given")
    if min is not None:
        x = clamp_min(x, min)
    if max is not None:
        x = clamp_max(x, max)
    return x


clip = clamp


@_public
def cast(x, dtype):
    """Convert to ``dtype`` (a no-op when it already is)."""
    dtype = dtypes.as_dtype(dtype)
    return x if x.dtype is dtype else apply("cast", x, dtype=dtype)


__all__ += [
    "true_divide",
    "multiply",
    "subtract",
    "negative",
    "clip",
    "mm",
    "bmm",
    "broadcast_to",
    "swapaxes",
    "concat",
    "concatenate",
]


# ---- linear algebra --------------------------------------------------------------------------
@_public
def matmul(a, b):
    """numpy/torch matmul: 1-D operands are promoted to matrices and the added dim removed."""
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(
            f"both arguments to matmul need to be at least 1-D, got {a.type} and {b.type}"
        )
    va, vb = a.ndim == 1, b.ndim == 1
    out = apply("matmul", unsqueeze(a, 0) if va else a, unsqueeze(b, -1) if vb else b)
    if va:
        out = squeeze(out, -2)
    if vb:
        out = squeeze(out, -1)
    return out


mm = bmm = matmul


@_public
def mT(x):
    """Swap the last two dims."""
    return transpose(x, -2, -1)


# ---- shapes ----------------------------------------------------------------------------------
@_public
def reshape(x, *shape):
    """Same elements, new shape; one entry may be -1."""
    shape = _shape_arg(shape)
    if len(shape) == x.ndim and builtins.all(same_dim(a, b) for a, b in zip(shape, x.shape)):
        return alias(x, "reshape", shape=shape)
    return apply("reshape", x, shape=shape)


@_public
def view(x, *shape):
    """``reshape`` that refuses, as torch does, where the new shape cannot be reached by strides
    alone (a transposed, sliced or expanded tensor): ``x.t().view(6)`` raises, use reshape."""
    shape = _shape_arg(shape)
    if not x.is_traced and not x._data.flags.c_contiguous:
        import numpy as np

        try:
            np.reshape(x._data, infer_reshape(x.shape, shape), copy=False)
        except ValueError:
            raise ShapeError(
                f"view size {list(shape)} is not compatible with the input's size and stride "
                "(a dimension spans two non-contiguous parts): use .reshape(...) instead"
            ) from None
    return reshape(x, *shape)


@_public
def expand(x, *shape):
    """Broadcast size-1 dims to ``shape`` (-1 keeps a dim)."""
    shape = _shape_arg(shape)
    if len(shape) == x.ndim and builtins.all(
        (isinstance(a, int) and a == -1) or same_dim(a, b) for a, b in zip(shape, x.shape)
    ):
        return alias(x, "expand", shape=shape)
    return apply("expand", x, shape=shape)


broadcast_to = expand


@_public
def sum_to(x, shape):
    """Sum broadcast dims away so ``x`` gets ``shape``: the vjp of broadcasting."""
    shape = tuple(shape)
    if tuple(x.shape) == shape:
        return x
    lead = x.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(
        i + lead
        for i, s in enumerate(shape)
        if isinstance(s, int) and s == 1 and x.shape[i + lead] != 1
    )
    if dims:
        x = apply("sum", x, dim=dims, keepdim=True)
    return reshape(x, shape)


@_public
def permute(x, *dims):
    dims = _shape_arg(dims)
    dims = tuple(norm_dim(d, x.ndim) for d in dims)
    if dims == tuple(range(x.ndim)):
        return alias(x, "permute", dims=dims)
    return apply("permute", x, dims=dims)


@_public
def transpose(x, dim0, dim1):
    d0, d1 = norm_dim(dim0, x.ndim), norm_dim(dim1, x.ndim)
    if x.ndim == 0:  # dims 0 and -1 name the one "dim" a 0-d tensor has: nothing to swap
        return permute(x)
    dims = list(range(x.ndim))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return permute(x, *dims)


swapaxes = transpose


@_public
def t(x):
    """Transpose a tensor of at most 2 dims."""
    if x.ndim > 2:
        raise ShapeError(f"t() expects a tensor with <= 2 dims, got {x.type}")
    return alias(x, "permute", dims=tuple(range(x.ndim))) if x.ndim < 2 else transpose(x, 0, 1)


@_public
def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = norm_dim(start_dim, x.ndim), norm_dim(end_dim, x.ndim)
    if s > e:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = (*x.shape[:s], prod(x.shape[s : e + 1]), *x.shape[e + 1 :])
    return reshape(x, shape)


@_public
@axis_alias
def squeeze(x, dim=None):
    """Drop size-1 dims (all of them, or those in ``dim``)."""
    dims = range(x.ndim) if dim is None else norm_dims(dim, x.ndim)
    if x.ndim == 0:  # dim 0 or -1 of a 0-d tensor: nothing to drop
        dims = ()
    drop = {d for d in dims if isinstance(x.shape[d], int) and x.shape[d] == 1}
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if i not in drop))


@_public
@axis_alias
def unsqueeze(x, dim):
    d = norm_dim(dim, x.ndim, extra=1)
    return reshape(x, (*x.shape[:d], 1, *x.shape[d:]))


@_public
@axis_alias
def cat(tensors, dim=0):
    """Join tensors along an existing dim."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ShapeError("cat needs a non-empty list of tensors", op="cat")
    # torch's legacy rule: a 1-D tensor of size 0 joins tensors of any shape (it is skipped),
    # and a list of only such tensors is one, whatever ``dim`` says
    legacy = [t.ndim == 1 and isinstance(t.shape[0], int) and t.shape[0] == 0 for t in tensors]
    if all(legacy):
        return apply("cat", *tensors, dim=0)
    if any(legacy):
        rest = [t for t, skip in zip(tensors, legacy) if not skip]
        if any(t.ndim != 1 for t in rest):
            out = cat(rest, dim)
            skipped = [t for t, skip in zip(tensors, legacy) if skip and t.requires_grad]
            for t in skipped:  # x - 0 keeps every value (and -0.0); t gets its empty gradient
                out = sub(out, mul(apply("sum", t, dim=(0,), keepdim=False), 0.0))
            return out
    return apply("cat", *tensors, dim=norm_dim(dim, tensors[0].ndim))


concat = concatenate = cat


@_public
@axis_alias
def stack(tensors, dim=0):
    """Join tensors along a new dim."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ShapeError("stack needs a non-empty list of tensors", op="stack")
    d = norm_dim(dim, tensors[0].ndim, extra=1)
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        raise ShapeError(
            "stack expects each tensor to be equal size, got "
            + ", ".join(str(t.type) for t in tensors)
        )
    return cat([unsqueeze(t, d) for t in tensors], d)


@_public
def getitem(x, idx):
    """Indexing with gradients: basic (``x[0]``, ``x[:, 1:3]``, ``x[..., None]``) and advanced
    (integer tensors, lists, bool masks: ``gradc.advanced_indexing``)."""
    from gradc.advanced_indexing import advanced_getitem, is_advanced

    if is_advanced(idx):
        return advanced_getitem(x, idx)
    index = normalize_index(x.shape, idx)
    # a no-op only if every item is a full slice (a None adds a dim: x[..., None] is not x)
    if builtins.all(isinstance(i, slice) for i in index) and builtins.all(
        i == slice(0, s, 1) for i, s in zip(index, x.shape)
    ):
        return alias(x, "getitem", index=index)
    return apply("getitem", x, index=index)


# ---- creation helpers that follow another tensor ---------------------------------------------
@_public
def full_like(x, fill_value, *, dtype=None, device=None, requires_grad=False):
    """A tensor shaped like ``x`` (symbolic dims included, so it traces) filled with a value."""
    if device is not None:
        from gradc.device import as_device

        as_device(device)
    dt = dtypes.as_dtype(dtype or x.dtype)
    out = apply("full", shape=tuple(x.shape), value=fill_value, dtype=dt)
    return out.requires_grad_(True) if requires_grad else out


@_public
def zeros_like(x, *, dtype=None, device=None, requires_grad=False):
    return full_like(x, 0, dtype=dtype, device=device, requires_grad=requires_grad)


@_public
def ones_like(x, *, dtype=None, device=None, requires_grad=False):
    return full_like(x, 1, dtype=dtype, device=device, requires_grad=requires_grad)


# reductions have their own file; they are part of this API all the same
from gradc.reductions import *  # noqa: E402, F403
from gradc.reductions import __all__ as _reductions  # noqa: E402

__all__ += _reductions
