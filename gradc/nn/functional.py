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

from gradc import dtypes
from gradc import functions as fn
from gradc.creation import arange
from gradc.dispatch import apply
from gradc.errors import ArgumentError, GradcError, ShapeError, with_op_context
from gradc.functions import sigmoid, tanh
from gradc.ops.window import pair

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

    ``padding`` may be an int, a pair, ``"valid"`` or ``"same"`` (stride 1).
    """
    stride, dilation = pair(stride, "stride", minimum=1), pair(dilation, "dilation", minimum=1)
    if isinstance(padding, str):
        padding = _string_padding(padding, weight, stride, dilation)
    padding = pair(padding, "padding")
    if not isinstance(groups, int) or groups < 1:
        raise GradcError(f"groups must be a positive int, got {groups!r}")
    x, squeeze = _unbatched(input, 4, "conv2d")
    args = (x, weight) if bias is None else (x, weight, bias)
    out = apply("conv2d", *args, stride=stride, padding=padding, dilation=dilation, groups=groups)
    return fn.squeeze(out, 0) if squeeze else out


def _string_padding(padding, weight, stride, dilation):
    if padding == "valid":
        return 0
    if padding != "same":
        raise GradcError(f"padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    if stride != (1, 1):
        raise GradcError("padding='same' is not supported for strided convolutions")
    total = [d * (k - 1) for d, k in zip(dilation, weight.shape[2:])]
    if any(t % 2 for t in total):
        raise GradcError(
            f"padding='same' with an even effective kernel {tuple(weight.shape[2:])} needs "
            "asymmetric padding, which conv2d does not support; pad explicitly"
        )
    return tuple(t // 2 for t in total)


def _pool_args(kernel_size, stride, padding):
    kernel_size = pair(kernel_size, "kernel_size", minimum=1)
    stride = kernel_size if stride is None or stride == [] else pair(stride, "stride", minimum=1)
    return kernel_size, stride, pair(padding, "padding")


@_public
def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """Max over windows; ``kernel_size`` an int or a pair, ``stride`` defaults to the kernel."""
    if ceil_mode or return_indices:
        raise GradcError("max_pool2d supports ceil_mode=False and return_indices=False only")
    kernel_size, stride, padding = _pool_args(kernel_size, stride, padding)
    x, squeeze = _unbatched(input, 4, "max_pool2d")
    out = apply(
        "max_pool2d",
        x,
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        dilation=pair(dilation, "dilation", minimum=1),
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
    """Mean over windows; with ``count_include_pad=False`` padding is left out of the mean."""
    if ceil_mode:
        raise GradcError("avg_pool2d supports ceil_mode=False only")
    if divisor_override is not None and (
        not isinstance(divisor_override, int) or divisor_override < 1
    ):
        raise GradcError(f"divisor_override must be a positive int, got {divisor_override!r}")
    kernel_size, stride, padding = _pool_args(kernel_size, stride, padding)
    x, squeeze = _unbatched(input, 4, "avg_pool2d")
    out = apply(
        "avg_pool2d",
        x,
        kernel_size=kernel_size,
        stride=stride,
        padding=padding,
        count_include_pad=bool(count_include_pad),
        divisor_override=divisor_override,
    )
    return fn.squeeze(out, 0) if squeeze else out


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
    draw = apply("rand", shape=tuple(input.shape), dtype=input.dtype)
    keep = fn.div(fn.cast(fn.ge(draw, p), input.dtype), 1.0 - p)
    out = fn.mul(input, keep)
    return input._inplace(out, "dropout_") if inplace else out


def _softmax_dim(ndim: int, dim):
    """torch's legacy implicit dim: 0 for 0-, 1- and 3-D inputs, else 1."""
    if dim is not None:
        return dim
    return 0 if ndim in (0, 1, 3) else 1


@_public
def log_softmax(input, dim=None, dtype=None):
    """``x - logsumexp(x)`` along ``dim``, shifted by the (detached) max so exp cannot overflow."""
    x = input if dtype is None else fn.cast(input, dtype)
    dim = _softmax_dim(x.ndim, dim)
    shifted = fn.sub(x, fn.amax(x, dim, keepdim=True).detach())
    return fn.sub(shifted, fn.log(fn.sum(fn.exp(shifted), dim, keepdim=True)))


@_public
def softmax(input, dim=None, dtype=None):
    """``exp(x) / sum(exp(x))`` along ``dim``, computed from the max-shifted values."""
    x = input if dtype is None else fn.cast(input, dtype)
    dim = _softmax_dim(x.ndim, dim)
    e = fn.exp(fn.sub(x, fn.amax(x, dim, keepdim=True).detach()))
    return fn.div(e, fn.sum(e, dim, keepdim=True))


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


def _one_hot(target, input, ignore_index):
    """``[N, C, ...]`` float mask of the target class: ``eq(target, arange(C))``, no indexing.

    ``arange(C)`` is shaped to broadcast along dim 1, so the batch (and any extra dims) come
    from ``target`` and stay symbolic under tracing; ``ignore_index`` rows are all zero.
    """
    if target.dtype is not dtypes.int64:
        raise GradcError(f"class-index targets must be int64, got {target.dtype.name}")
    if target.ndim != input.ndim - 1:
        raise ShapeError(
            f"expected a target of {input.ndim - 1} dims for an input {input.type}, got "
            f"{target.type}"
        )
    c = input.shape[1]
    classes = fn.reshape(arange(c), (c,) + (1,) * (input.ndim - 2))
    hit = fn.cast(fn.eq(fn.unsqueeze(target, 1), classes), input.dtype)
    if 0 <= ignore_index < c:
        hit = fn.mul(hit, fn.cast(fn.unsqueeze(fn.ne(target, ignore_index), 1), input.dtype))
    return hit


@_public
def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of class indices ``target`` under log-probabilities ``input``.

    ``input`` is ``[N, C]`` or ``[N, C, d1, ...]``; ``'mean'`` divides by the summed weights
    of the non-ignored targets, as torch does.
    """
    if input.ndim == 1:  # one unbatched sample
        input, target = fn.unsqueeze(input, 0), fn.unsqueeze(target, 0)
    if input.ndim < 2:
        raise ShapeError(f"nll_loss expects an input [N, C] or [C], got {input.type}")
    mask = _one_hot(target, input, ignore_index)
    if weight is not None:
        w = fn.reshape(fn.as_tensor(weight, dtype=input.dtype), (-1,) + (1,) * (input.ndim - 2))
        mask = fn.mul(mask, w)
    loss = fn.neg(fn.sum(fn.mul(input, mask), 1))
    return _reduce(loss, reduction, denom=fn.sum(mask) if reduction == "mean" else None)


@_public
def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """``nll_loss(log_softmax(input, 1), target)``; a float ``target`` of ``input``'s shape is
    read as class probabilities."""
    dim = 0 if input.ndim == 1 else 1
    logp = log_softmax(input, dim)
    if not target.dtype.is_floating_point:
        return nll_loss(logp, target, weight, ignore_index, reduction)
    if weight is not None:
        w = fn.as_tensor(weight, dtype=input.dtype)
        logp = fn.mul(logp, fn.reshape(w, (-1,) + (1,) * (input.ndim - dim - 1)))
    return _reduce(fn.neg(fn.sum(fn.mul(logp, target), dim)), reduction)


from gradc.nn.functional_activation import *  # noqa: E402, F403  (gelu, silu, one_hot, ...)
from gradc.nn.functional_norm import *  # noqa: E402, F403  (batch_norm, layer_norm, embedding, ...)
