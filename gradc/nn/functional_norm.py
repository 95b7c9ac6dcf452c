"""More of ``torch.nn.functional``: ``batch_norm``, ``layer_norm``, ``embedding``,
``adaptive_avg_pool2d``; re-exported by ``gradc.nn.functional``.

Normalisations are compositions (mean, variance, rsqrt), so they trace and differentiate with no
rules of their own; ``embedding`` is an op of the table (``gradc/ops/embedding.py``).
"""

from __future__ import annotations

from gradc import functions as fn
from gradc.autograd.grad_mode import no_grad
from gradc.dispatch import apply
from gradc.errors import GradcError, ShapeError, with_op_context
from gradc.shapes import prod

__all__ = ["batch_norm", "layer_norm", "embedding", "adaptive_avg_pool2d"]

_public = with_op_context


def _channel_shape(input):
    """``[1, C, 1, ...]``: per-channel values broadcast against ``[N, C, ...]``."""
    return (1, input.shape[1]) + (1,) * (input.ndim - 2)


def _moments(input, dims):
    """Mean and biased variance over ``dims`` (kept)."""
    mean = fn.mean(input, dims, keepdim=True)
    dev = fn.sub(input, mean)
    return mean, fn.mean(fn.mul(dev, dev), dims, keepdim=True)


def _affine(x, weight, bias, shape):
    if weight is not None:
        x = fn.mul(x, fn.reshape(weight, shape))
    if bias is not None:
        x = fn.add(x, fn.reshape(bias, shape))
    return x


@_public
def batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-05,
):
    """Normalise each channel (dim 1) of ``[N, C, ...]``: with the batch's statistics when
    ``training`` (then ``running_mean``/``running_var``, if given, move toward them by
    ``momentum``, the variance unbiased, in place), else with the running ones."""
    if input.ndim < 2:
        raise ShapeError(f"batch_norm expects an input [N, C, ...], got {input.type}")
    dims = (0, *range(2, input.ndim))
    shape = _channel_shape(input)
    if training:
        n = prod([input.shape[d] for d in dims])
        if isinstance(n, int) and n == 1:
            raise ShapeError(
                f"Expected more than 1 value per channel when training, got input size "
                f"{list(input.shape)}"
            )
        mean, var = _moments(input, dims)
        if running_mean is not None and running_var is not None:
            with no_grad():  # one in-place write per buffer; momentum may be a 0-d tensor
                unbiased = fn.mul(fn.reshape(var, (-1,)), n / (n - 1))
                keep = 1 - momentum  # a float, or a 0-d tensor (momentum=None in BatchNorm)
                for buf, stat in [(running_mean, fn.reshape(mean, (-1,))), (running_var, unbiased)]:
                    buf.copy_(fn.add(fn.mul(buf, keep), fn.mul(stat, momentum)))
    else:
        if running_mean is None or running_var is None:
            raise GradcError("batch_norm in eval mode needs running_mean and running_var")
        mean, var = fn.reshape(running_mean, shape), fn.reshape(running_var, shape)
    x = fn.mul(fn.sub(input, mean), apply("rsqrt", fn.add(var, eps)))
    return _affine(x, weight, bias, shape)


@_public
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """Normalise over the last ``len(normalized_shape)`` dims (biased variance), then scale by
    ``weight`` and shift by ``bias`` (both of ``normalized_shape``)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if tuple(input.shape[input.ndim - k :]) != shape or k > input.ndim:
        raise ShapeError(
            f"Given normalized_shape={list(shape)}, expected input with shape [*, "
            f"{', '.join(str(s) for s in shape)}], but got input of size {list(input.shape)}"
        )
    dims = tuple(range(input.ndim - k, input.ndim))
    mean, var = _moments(input, dims)
    x = fn.mul(fn.sub(input, mean), apply("rsqrt", fn.add(var, eps)))
    return _affine(x, weight, bias, shape)


@_public
def embedding(
    input,
    weight,
    padding_idx=None,
    max_norm=None,
    norm_type=2.0,
    scale_grad_by_freq=False,
    sparse=False,
):
    """``weight[input]``: a row of ``weight`` per int64 index; the ``padding_idx`` row gets no
    gradient."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise GradcError("embedding supports max_norm=None, scale_grad_by_freq=False, sparse=False")
    if padding_idx is not None:
        padding_idx = padding_idx % weight.shape[0]
    return apply("embedding", weight, input, padding_idx=padding_idx)


def _cells(size: int, out: int):
    """torch's adaptive windows: cell i spans ``[floor(i*size/out), ceil((i+1)*size/out))``."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


@_public
def adaptive_avg_pool2d(input, output_size):
    """Average ``[N, C, H, W]`` (or ``[C, H, W]``) over windows that tile it into
    ``output_size`` cells; an entry None keeps that size. Sizes that divide evenly are one
    ``avg_pool2d``; others are a mean per cell."""
    if input.ndim not in (3, 4):
        raise ShapeError(f"adaptive_avg_pool2d expects a 3-D or 4-D input, got {input.type}")
    sizes = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    h, w = input.shape[-2:]
    oh, ow = (s if o is None else o for s, o in zip((h, w), sizes))
    if not all(isinstance(v, int) for v in (h, w)):
        raise ShapeError("adaptive_avg_pool2d needs concrete spatial sizes")
    if (oh, ow) == (1, 1):
        return fn.mean(input, (-2, -1), keepdim=True)
    if h % oh == 0 and w % ow == 0:
        from gradc.nn.functional import avg_pool2d

        k = (h // oh, w // ow)
        return avg_pool2d(input, k, k)
    rows = []
    for r0, r1 in _cells(h, oh):
        cols = [
            fn.mean(input[..., r0:r1, c0:c1], (-2, -1), keepdim=True) for c0, c1 in _cells(w, ow)
        ]
        rows.append(fn.cat(cols, -1))
    return fn.cat(rows, -2)
