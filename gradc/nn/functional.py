"""``gradc.nn.functional``: torch.nn.functional's names and arguments over the op table.

Convolution and pooling are ops (``conv2d``, ``max_pool2d``, ``avg_pool2d``); the rest are
compositions of ops, so they trace and differentiate with no rules of their own. Shapes that
involve the batch come from tensors, never Python ints, so a symbolic batch traces.

>>> import gradc, gradc.nn.functional as F
>>> x = gradc.randn(8, 1, 32, 32)
>>> F.max_pool2d(F.relu(F.conv2d(x, gradc.randn(6, 1, 5, 5))), (2, 2)).shape
gradc.Size([8, 6, 14, 14])
"""

from __future__ import annotations

import numpy as np

from gradc import dtypes
from gradc import functions as fn
from gradc.creation import arange
from gradc.dispatch import apply
from gradc.errors import ArgumentError, GradcError, ShapeError, with_op_context
from gradc.functions import sigmoid, tanh
from gradc.ops.window import pair
from gradc.shapes import norm_dim

__all__ = [
    "relu",
    "sigmoid",
    "tanh",
    "linear",
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "flatten",
    "dropout",
    "softmax",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "cross_entropy",
]

_REDUCTIONS = ("mean", "sum", "none")


_public = with_op_context


def _draw(shape, dtype):
    from gradc.creation import draw

    return draw(shape, dtype)


def _pooled(x, what: str):
    """``_unbatched`` for the pools, which refuse an empty image as torch does (only the batch
    dim may be 0)."""
    out = _unbatched(x, 4, what)
    if any(isinstance(d, int) and d == 0 for d in out[0].shape[1:]):
        raise ShapeError(
            f"{what}: Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for "
            f"input, but got {x.type}"
        )
    return out


def _unbatched(x, ndim_batched: int, what: str):
    """torch accepts ``[C, H, W]`` for ``[1, C, H, W]``; returns (x, whether to squeeze)."""
    if x.ndim == ndim_batched - 1:
        return fn.unsqueeze(x, 0), True
    if x.ndim != ndim_batched:
        raise ShapeError(
            f"{what} expects a {ndim_batched - 1}-D or {ndim_batched}-D input, got {x.type}"
        )
    return x, False


@_public
def relu(input, inplace=False):
    """``max(x, 0)``; its gradient at 0 is 0, as in torch."""
    return input.relu_() if inplace else fn.relu(input)


@_public
def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` (weight is ``[out_features, in_features]``)."""
    out = fn.matmul(input, fn.t(weight))
    return out if bias is None else fn.add(out, bias)


@_public
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) of ``[N, C, H, W]`` with ``[O, C/groups, kh, kw]``.

    ``padding`` may be an int, a pair, ``"valid"`` or ``"same"`` (stride 1; an even kernel pads
    one more on the bottom/right, as torch does).
    """
    stride, dilation = pair(stride, "stride", minimum=1), pair(dilation, "dilation", minimum=1)
    extra = (0, 0)
    if isinstance(padding, str):
        padding, extra = _string_padding(padding, weight, stride, dilation)
    padding = pair(padding, "padding")
    if not isinstance(groups, int) or groups < 1:
        raise GradcError(f"groups must be a positive int, got {groups!r}")
    x, squeeze = _unbatched(input, 4, "conv2d")
    x = _extend(x, extra, 0.0)  # 'same' with an odd total padding: the odd one at the end
    args = (x, weight) if bias is None else (x, weight, bias)
    out = apply("conv2d", *args, stride=stride, padding=padding, dilation=dilation, groups=groups)
    return fn.squeeze(out, 0) if squeeze else out


def _string_padding(padding, weight, stride, dilation):
    """``(padding, extra)``: 'same' pads ``total // 2`` on both sides, ``total = dilation *
    (k - 1)``, and ``total % 2`` more zeros on the bottom / right (as torch does)."""
    if padding == "valid":
        return 0, (0, 0)
    if padding != "same":
        raise GradcError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    if stride != (1, 1):
        raise GradcError("padding='same' is not supported for strided convolutions")
    total = [d * (k - 1) for d, k in zip(dilation, weight.shape[2:])]
    return tuple(t // 2 for t in total), tuple(t % 2 for t in total)


def _pool_args(kernel_size, stride, padding):
    kernel_size = pair(kernel_size, "kernel_size", minimum=1)
    stride = kernel_size if stride is None or stride == [] else pair(stride, "stride", minimum=1)
    return kernel_size, stride, pair(padding, "padding")


def _ceil_out(size: int, k: int, s: int, p: int, d: int) -> int:
    """torch's ``ceil_mode`` output size: rounded up, but the last window must start inside the
    input or the left padding."""
    out = -(-(size + 2 * p - d * (k - 1) - 1) // s) + 1
    return out - 1 if (out - 1) * s >= size + p else out


def _ceil_extra(x, kernel_size, stride, padding, dilation):
    """Rows and columns ``ceil_mode=True`` needs past the bottom/right padding."""
    extra = []
    for size, k, s, p, d in zip(x.shape[2:], kernel_size, stride, padding, dilation):
        if not isinstance(size, int):
            raise GradcError("ceil_mode=True needs static spatial sizes")
        span = (_ceil_out(size, k, s, p, d) - 1) * s + d * (k - 1) + 1
        extra.append(max(0, span - size - 2 * p))
    return tuple(extra)


def _extend(x, extra, value):
    """``x`` with ``extra`` rows and columns of ``value`` appended at the bottom and right."""
    for k, e in enumerate(extra):
        if e:
            shape = list(x.shape)
            shape[2 + k] = e
            fill = apply("full", shape=tuple(shape), value=value, dtype=x.dtype)
            x = fn.cat([x, fill], 2 + k)
    return x


@_public
def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """Max over windows; ``kernel_size`` an int or a pair, ``stride`` defaults to the kernel.

    ``ceil_mode=True`` rounds the output size up (the last window may hang over the edge)."""
    if return_indices:
        raise GradcError("max_pool2d supports return_indices=False only")
    kernel_size, stride, padding = _pool_args(kernel_size, stride, padding)
    dilation = pair(dilation, "dilation", minimum=1)
    x, squeeze = _pooled(input, "max_pool2d")
    if ceil_mode:
        x = _extend(x, _ceil_extra(x, kernel_size, stride, padding, dilation), float("-inf"))
    out = apply(
        "max_pool2d",
        x,
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        dilation=dilation,
    )
    return fn.squeeze(out, 0) if squeeze else out


@_public
def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """Mean over windows; with ``count_include_pad=False`` padding is left out of the mean.

    ``ceil_mode=True`` rounds the output size up; a window that hangs over the edge averages
    what it covers of the input (and of the padding, with ``count_include_pad``), as torch."""
    if divisor_override is not None and (
        not isinstance(divisor_override, int) or divisor_override < 1
    ):
        raise GradcError(f"divisor_override must be a positive int, got {divisor_override!r}")
    kernel_size, stride, padding = _pool_args(kernel_size, stride, padding)
    x, squeeze = _pooled(input, "avg_pool2d")
    extra = _ceil_extra(x, kernel_size, stride, padding, (1, 1)) if ceil_mode else (0, 0)
    divisor = None
    if extra != (0, 0):
        if divisor_override is None:
            divisor = _ceil_divisor(x.shape[2:], kernel_size, stride, padding, count_include_pad)
            divisor_override = 1  # sum the windows, then divide by what each one covers
        x = _extend(x, extra, 0.0)
    out = apply(
        "avg_pool2d",
        x,
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        count_include_pad=bool(count_include_pad),
        divisor_override=divisor_override,
    )
    if divisor is not None:
        out = fn.div(out, fn.as_tensor(divisor, dtype=x.dtype))
    return fn.squeeze(out, 0) if squeeze else out


def _ceil_divisor(size, kernel_size, stride, padding, count_include_pad):
    """``[OH, OW]`` element counts of ceil-mode windows (torch's avg_pool2d divisor): a window
    counts what it covers of the padded input, or of the input alone."""
    counts = []
    for n, k, s, p in zip(size, kernel_size, stride, padding):
        start = np.arange(_ceil_out(n, k, s, p, 1)) * s - p
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        counts.append(end - start)
    return np.outer(*counts).astype(np.float64)


flatten = fn.flatten


@_public
def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    The mask comes from gradc's RNG (``gradc.manual_seed``). Identity when not training.
    """
    if not 0.0 <= p <= 1.0:
        raise ArgumentError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return fn.mul(input, 0.0)
    # the mask is an op of the table, so a traced training graph draws a new one every run
    draw = _draw(tuple(input.shape), input.dtype)
    keep = fn.div(fn.cast(fn.ge(draw, p), input.dtype), 1.0 - p)
    if inplace:
        return input._inplace("dropout_", lambda s: fn.mul(s, keep))
    return fn.mul(input, keep)


def _softmax_dim(ndim: int, dim) -> int:
    """``dim`` made non-negative; torch's legacy implicit dim when None: 0 for 0-, 1- and 3-D
    inputs, else 1."""
    if dim is None:
        dim = 0 if ndim in (0, 1, 3) else 1
    return norm_dim(dim, ndim)


@_public
def log_softmax(input, dim=None, dtype=None):
    """``x - logsumexp(x)`` along ``dim``; one op, whose gradient is torch's, from the output."""
    x = input if dtype is None else fn.cast(input, dtype)
    return apply("log_softmax", x, dim=_softmax_dim(x.ndim, dim))


@_public
def softmax(input, dim=None, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim``; one op, whose gradient is torch's, from the
    output."""
    x = input if dtype is None else fn.cast(input, dtype)
    return apply("softmax", x, dim=_softmax_dim(x.ndim, dim))


def _reduce(loss, reduction: str, denom=None):
    if reduction not in _REDUCTIONS:
        raise ArgumentError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if reduction == "none":
        return loss
    total = fn.sum(loss)
    if reduction == "sum":
        return total
    return fn.mean(loss) if denom is None else fn.div(total, denom)


@_public
def mse_loss(input, target, reduction="mean"):
    """Mean (or sum, or elementwise) squared error; ``target`` broadcasts against ``input``."""
    target = fn.as_tensor(target, dtype=input.dtype)
    return _reduce(fn.pow(fn.sub(input, target), 2), reduction)


class TargetIndexError(GradcError, IndexError):
    """A class target outside ``[0, C)`` that is not ``ignore_index`` (torch: IndexError)."""


def _target_mask(target, input, ignore_index):
    """``[N, C, ...]`` bool mask of the target class: ``eq(target, arange(C))``, no indexing.

    ``arange(C)`` is shaped to broadcast along dim 1, so the batch (and any extra dims) come
    from ``target`` and stay symbolic under tracing; ``ignore_index`` rows are all false.
    """
    if target.dtype is not dtypes.int64:
        raise GradcError(f"class-index targets must be int64, got {target.dtype.name}")
    if target.ndim != input.ndim - 1:
        raise ShapeError(
            f"expected a target of {input.ndim - 1} dims for an input {input.type}, got "
            f"{target.type}"
        )
    c = input.shape[1]
    if not target.is_traced and isinstance(c, int):
        t = target.numpy()
        bad = t[(t != ignore_index) & ((t < 0) | (t >= c))]
        if bad.size:
            raise TargetIndexError(f"target {int(bad[0])} is out of bounds for {c} classes")
    classes = fn.reshape(arange(c), (c,) + (1,) * (input.ndim - 2))
    hit = fn.eq(fn.unsqueeze(target, 1), classes)
    if 0 <= ignore_index < c:
        hit = fn.mul(hit, fn.unsqueeze(fn.ne(target, ignore_index), 1))  # and, on bools
    return hit


@_public
def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of class indices ``target`` under log-probabilities ``input``.

    ``input`` is ``[N, C]``, ``[N, C, d1, ...]`` or one unbatched ``[C]``; ``'mean'`` divides by
    the summed weights of the non-ignored targets, as torch does (nan, with a zero gradient,
    when every target is ignored).
    """
    unbatched = input.ndim == 1
    if unbatched:
        input, target = fn.unsqueeze(input, 0), fn.unsqueeze(target, 0)
    if input.ndim < 2:
        raise ShapeError(f"nll_loss expects an input [N, C] or [C], got {input.type}")
    hit = _target_mask(target, input, ignore_index)
    picked = input
    w = fn.cast(hit, input.dtype)
    if weight is not None:
        wc = fn.reshape(fn.as_tensor(weight, dtype=input.dtype), (-1,) + (1,) * (input.ndim - 2))
        picked, w = fn.mul(input, wc), fn.mul(w, wc)
    # where, not a one-hot product: an inf elsewhere in a row must not make the loss nan
    loss = fn.neg(fn.sum(fn.where(hit, picked, 0.0), 1))
    if unbatched and reduction == "none":
        loss = fn.squeeze(loss, 0)
    return _reduce(loss, reduction, denom=fn.sum(w) if reduction == "mean" else None)


@_public
def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """``nll_loss(log_softmax(input, 1), target)``; a float ``target`` of ``input``'s shape is
    read as class probabilities (which take no ``ignore_index``)."""
    dim = 0 if input.ndim == 1 else 1
    logp = log_softmax(input, dim)
    if not target.dtype.is_floating_point:
        return nll_loss(logp, target, weight, ignore_index, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(
            f"class-probability targets must have the input's shape {input.type}, got "
            f"{target.type} (class-index targets are int64)"
        )
    if ignore_index >= 0:
        raise GradcError("ignore_index is not supported for class-probability targets")
    if weight is not None:
        w = fn.as_tensor(weight, dtype=input.dtype)
        logp = fn.mul(logp, fn.reshape(w, (-1,) + (1,) * (input.ndim - dim - 1)))
    # negated after reducing, as torch's -(input * target).sum(): a loss of 0 is -0.0 there
    return fn.neg(_reduce(fn.sum(fn.mul(logp, target), dim), reduction))


from gradc.nn.functional_activation import *  # noqa: E402, F403  (gelu, silu, one_hot, ...)
from gradc.nn.functional_norm import *  # noqa: E402, F403  (batch_norm, layer_norm, embedding, ...)
from gradc.nn.functional_pad import *  # noqa: E402, F403  (pad)
