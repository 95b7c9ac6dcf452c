"""2-D max and average pooling, with their backward passes as ops of the table.

- ``max_pool2d(x)``: the max of each window. Its vjp ``max_pool2d_backward(ct, x)`` routes each
  window's cotangent to the window's first maximum (row-major scan, as torch does). That op is
  linear in ``ct``; its adjoint ``max_pool2d_select(g, x)`` picks ``g`` at those same positions,
  and the adjoint of that is ``max_pool2d_backward`` again: gradients of any order close over
  the three ops. The argmax is piecewise constant in ``x``, so ``x`` gets no gradient there.
- ``avg_pool2d(x)`` is linear; ``avg_pool2d_backward(ct)`` spreads ``ct / divisor`` over each
  window, and the two are each other's vjp.

Attrs are plain ints and int pairs: ``kernel_size``, ``stride``, ``padding`` (+ ``dilation``
for max, ``count_include_pad`` and ``divisor_override`` for avg; ``input_size`` on backward ops).
"""

from __future__ import annotations

import numpy as np

from gradc import dtypes
from gradc.errors import DTypeError, ShapeError
from gradc.ops.table import Op, register
from gradc.ops.window import check_4d, check_size, out_hw, pad, tap, taps, unpad, windows
from gradc.shapes import TensorType, same_dim


def _check(t: TensorType, what: str, kernel_size, padding) -> None:
    check_4d(t, what)
    if not t.dtype.is_floating_point:
        raise DTypeError(f"pooling needs a floating point tensor, got {t.dtype.name}")
    for k, p in zip(kernel_size, padding):
        if p > k // 2:  # torch's limit: half the kernel, whatever the dilation
            raise ShapeError(
                f"padding {tuple(padding)} must be at most half of the kernel {tuple(kernel_size)}"
            )


def _pool_type(t, kernel_size, stride, padding, dilation=(1, 1)) -> TensorType:
    return TensorType(
        t.dtype, (*t.shape[:2], *out_hw(t.shape[2:], kernel_size, stride, padding, dilation))
    )


# ---- max_pool2d -----------------------------------------------------------------------------
def _max_infer(x, *, kernel_size, stride, padding, dilation) -> TensorType:
    _check(x, "the input", kernel_size, padding)
    return _pool_type(x, kernel_size, stride, padding, dilation)


def _max_impl(x, *, kernel_size, stride, padding, dilation):
    size = out_hw(x.shape[2:], kernel_size, stride, padding, dilation)
    xp = pad(x, padding, -np.inf)
    out = None
    for i, j in taps(kernel_size):
        v = tap(xp, i, j, size, stride, dilation)
        out = v.copy() if out is None else np.maximum(out, v, out=out)
    return out


def _argmax(x, kernel_size, stride, padding, dilation):
    """Row-major index of each window's first maximum, ``[N, C, OH, OW]``; in a window with
    nans, its last nan (torch's scan takes a nan over anything, a later nan included)."""
    size = out_hw(x.shape[2:], kernel_size, stride, padding, dilation)
    win = windows(pad(x, padding, -np.inf), kernel_size, size, stride, dilation)
    flat = win.reshape(*win.shape[:4], -1)
    idx = flat.argmax(-1)
    # a window of -infs: torch's scan starts at its first tap inside the input, not padding
    inside = windows(
        pad(np.ones((1, 1, *x.shape[2:])), padding, 0.0), kernel_size, size, stride, dilation
    )
    first = inside.reshape(*inside.shape[:4], -1).argmax(-1)
    idx = np.where(np.take_along_axis(flat, idx[..., None], -1)[..., 0] == -np.inf, first, idx)
    nan = np.isnan(flat)
    if nan.any():
        last = flat.shape[-1] - 1 - nan[..., ::-1].argmax(-1)
        idx = np.where(nan.any(-1), last, idx)
    return idx, size


def _routed_infer(ct, x, *, kernel_size, stride, padding, dilation) -> TensorType:
    """Types of ``max_pool2d_backward(ct, x)``: ``ct`` is pooled-shaped, the result x-shaped."""
    _check(x, "the input", kernel_size, padding)
    check_4d(ct, "the cotangent")
    out = _pool_type(x, kernel_size, stride, padding, dilation)
    if ct.dtype is not x.dtype:
        raise DTypeError(f"the cotangent {ct} and the input {x} have different dtypes")
    if not all(same_dim(a, b) for a, b in zip(ct.shape, out.shape)):
        raise ShapeError(f"the cotangent {ct} does not match max_pool2d's output {out}")
    return x


def _backward_impl(ct, x, *, kernel_size, stride, padding, dilation):
    idx, size = _argmax(x, kernel_size, stride, padding, dilation)
    grad = np.zeros(
        (*x.shape[:2], x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]), dtype=ct.dtype
    )
    for t, (i, j) in enumerate(taps(kernel_size)):
        tap(grad, i, j, size, stride, dilation)[...] += np.where(idx == t, ct, 0)
    return unpad(grad, padding)


def _select_infer(g, x, *, kernel_size, stride, padding, dilation) -> TensorType:
    _check(x, "the input", kernel_size, padding)
    if (
        g.dtype is not x.dtype
        or g.ndim != 4
        or not all(same_dim(a, b) for a, b in zip(g.shape, x.shape))
    ):
        raise ShapeError(f"g {g} must have the type of x {x}")
    return _pool_type(x, kernel_size, stride, padding, dilation)


def _select_impl(g, x, *, kernel_size, stride, padding, dilation):
    idx, size = _argmax(x, kernel_size, stride, padding, dilation)
    win = windows(pad(g, padding, 0), kernel_size, size, stride, dilation)
    win = win.reshape(*win.shape[:4], -1)
    return np.take_along_axis(win, idx[..., None], -1)[..., 0]


def _max_vjp(ct, x, *, out, **attrs):
    from gradc import functions as fn

    # the argmax is its own op, so the differentiation pass computes it once, in forward
    idx = fn.apply("max_pool2d_indices", x, **attrs)
    return fn.apply("max_pool2d_scatter", ct, idx, input_size=tuple(x.shape[2:]), **attrs)


# ---- the argmax as indices, and routing by them ---------------------------------------------
def _indices_infer(x, *, kernel_size, stride, padding, dilation) -> TensorType:
    t = _max_infer(x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)
    return TensorType(dtypes.int64, t.shape)


def _indices_impl(x, *, kernel_size, stride, padding, dilation):
    return _argmax(x, kernel_size, stride, padding, dilation)[0]


def _check_idx(idx: TensorType, t: TensorType, what: str) -> None:
    if idx.dtype is not dtypes.int64 or idx.ndim != 4:
        raise DTypeError(f"the indices must be int64 [N,C,OH,OW], got {idx}")
    if not all(same_dim(a, b) for a, b in zip(idx.shape, t.shape)):
        raise ShapeError(f"the indices {idx} and {what} {t} differ in shape")


def _scatter_infer(ct, idx, *, input_size, kernel_size, stride, padding, dilation):
    check_4d(ct, "the cotangent")
    if not ct.dtype.is_floating_point:
        raise DTypeError(f"the cotangent must be floating point, got {ct}")
    _check_idx(idx, ct, "the cotangent")
    check_size(ct, input_size, out_hw(input_size, kernel_size, stride, padding, dilation), "ct")
    return TensorType(ct.dtype, (*ct.shape[:2], *input_size))


def _scatter_impl(ct, idx, *, input_size, kernel_size, stride, padding, dilation):
    (h, w), (ph, pw) = input_size, padding
    grad = np.zeros((*ct.shape[:2], h + 2 * ph, w + 2 * pw), dtype=ct.dtype)
    for t, (i, j) in enumerate(taps(kernel_size)):
        tap(grad, i, j, idx.shape[2:], stride, dilation)[...] += np.where(idx == t, ct, 0)
    return unpad(grad, padding)


def _gather_infer(g, idx, *, kernel_size, stride, padding, dilation) -> TensorType:
    out = _max_infer(g, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)
    _check_idx(idx, out, "the pooled shape of g")
    return out


def _gather_impl(g, idx, *, kernel_size, stride, padding, dilation):
    win = windows(pad(g, padding, 0), kernel_size, idx.shape[2:], stride, dilation)
    win = win.reshape(*win.shape[:4], -1)
    return np.take_along_axis(win, idx[..., None], -1)[..., 0]


def _scatter_vjp(g, ct, idx, *, out, input_size, **attrs):
    from gradc import functions as fn

    return fn.apply("max_pool2d_gather", g, idx, **attrs)


def _gather_vjp(ct, g, idx, *, out, **attrs):
    from gradc import functions as fn

    return fn.apply("max_pool2d_scatter", ct, idx, input_size=tuple(g.shape[2:]), **attrs)


def _backward_vjp_ct(g, ct, x, *, out, **attrs):
    from gradc import functions as fn

    return fn.apply("max_pool2d_select", g, x, **attrs)


def _select_vjp_g(ct, g, x, *, out, **attrs):
    from gradc import functions as fn

    return fn.apply("max_pool2d_backward", ct, x, **attrs)


# attrs at these values are left out of the printed IR
MAX_DEFAULTS = {"padding": (0, 0), "dilation": (1, 1)}

register(
    Op(
        "max_pool2d",
        _max_infer,
        _max_impl,
        (_max_vjp,),
        "pool",
        meta={"attr_defaults": MAX_DEFAULTS},
        doc="max over each kh x kw window of x [N,C,H,W] (padding counts as -inf)",
    )
)
register(
    Op(
        "max_pool2d_indices",
        _indices_infer,
        _indices_impl,
        (),
        "pool",
        meta={"attr_defaults": MAX_DEFAULTS},
        doc="row-major tap index of each window's first max in x (int64, pooled shape)",
    )
)
register(
    Op(
        "max_pool2d_scatter",
        _scatter_infer,
        _scatter_impl,
        (_scatter_vjp, None),
        "pool",
        meta={"attr_defaults": MAX_DEFAULTS},
        doc="vjp of max_pool2d: ct routed to the window positions the indices name",
    )
)
register(
    Op(
        "max_pool2d_gather",
        _gather_infer,
        _gather_impl,
        (_gather_vjp, None),
        "pool",
        meta={"attr_defaults": MAX_DEFAULTS},
        doc="g at the window positions the indices name: the adjoint of max_pool2d_scatter",
    )
)
register(
    Op(
        "max_pool2d_backward",
        _routed_infer,
        _backward_impl,
        (_backward_vjp_ct, None),
        "pool",
        meta={"attr_defaults": MAX_DEFAULTS},
        doc="vjp of max_pool2d: ct routed to each window's first max in x",
    )
)
register(
    Op(
        "max_pool2d_select",
        _select_infer,
        _select_impl,
        (_select_vjp_g, None),
        "pool",
        meta={"attr_defaults": MAX_DEFAULTS},
        doc="g at each window's first max in x: the adjoint of max_pool2d_backward",
    )
)


# ---- avg_pool2d -----------------------------------------------------------------------------
def _divisor(input_size, kernel_size, stride, padding, count_include_pad, divisor_override):
    """A number, or ``[OH, OW]`` counts of real (unpadded) elements per window."""
    if divisor_override:
        return divisor_override
    if count_include_pad or padding == (0, 0):
        return kernel_size[0] * kernel_size[1]
    size = out_hw(input_size, kernel_size, stride, padding, (1, 1))
    ones = pad(np.ones((1, 1, *input_size)), padding, 0.0)
    return sum(tap(ones, i, j, size, stride, (1, 1)) for i, j in taps(kernel_size))[0, 0]


def _avg_infer(x, *, kernel_size, stride, padding, count_include_pad, divisor_override):
    _check(x, "the input", kernel_size, padding)
    return _pool_type(x, kernel_size, stride, padding)


def _avg_impl(x, *, kernel_size, stride, padding, count_include_pad, divisor_override):
    size = out_hw(x.shape[2:], kernel_size, stride, padding, (1, 1))
    xp = pad(x, padding, 0.0)
    total = sum(tap(xp, i, j, size, stride, (1, 1)) for i, j in taps(kernel_size))
    div = _divisor(x.shape[2:], kernel_size, stride, padding, count_include_pad, divisor_override)
    return total / np.asarray(div, dtype=x.dtype)


def _avg_backward_infer(ct, *, input_size, **attrs) -> TensorType:
    _check(ct, "the cotangent", attrs["kernel_size"], attrs["padding"])
    check_size(
        ct,
        input_size,
        out_hw(input_size, attrs["kernel_size"], attrs["stride"], attrs["padding"], (1, 1)),
        "ct",
    )
    return TensorType(ct.dtype, (*ct.shape[:2], *input_size))


def _avg_backward_impl(
    ct, *, input_size, kernel_size, stride, padding, count_include_pad, divisor_override
):
    div = _divisor(input_size, kernel_size, stride, padding, count_include_pad, divisor_override)
    share = ct / np.asarray(div, dtype=ct.dtype)
    (h, w), (ph, pw) = input_size, padding
    grad = np.zeros((*ct.shape[:2], h + 2 * ph, w + 2 * pw), dtype=ct.dtype)
    for i, j in taps(kernel_size):
        tap(grad, i, j, ct.shape[2:], stride, (1, 1))[...] += share
    return unpad(grad, padding)


def _avg_vjp(ct, x, *, out, **attrs):
    from gradc import functions as fn

    return fn.apply("avg_pool2d_backward", ct, input_size=tuple(x.shape[2:]), **attrs)


def _avg_backward_vjp(g, ct, *, out, input_size, **attrs):
    from gradc import functions as fn

    return fn.apply("avg_pool2d", g, **attrs)


AVG_DEFAULTS = {"padding": (0, 0), "count_include_pad": True, "divisor_override": None}

register(
    Op(
        "avg_pool2d",
        _avg_infer,
        _avg_impl,
        (_avg_vjp,),
        "pool",
        meta={"attr_defaults": AVG_DEFAULTS},
        doc="mean over each kh x kw window of x [N,C,H,W]",
    )
)
register(
    Op(
        "avg_pool2d_backward",
        _avg_backward_infer,
        _avg_backward_impl,
        (_avg_backward_vjp,),
        "pool",
        meta={"attr_defaults": AVG_DEFAULTS},
        doc="vjp of avg_pool2d: ct / divisor spread over each window",
    )
)
