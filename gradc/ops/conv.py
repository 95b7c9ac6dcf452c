"""2-D convolution and its two gradients, each an op with infer, impl and vjp.

``conv2d(x, w[, b])`` is bilinear in ``(x, w)``, so its gradients are the other two ops of the
triangle: ``conv2d_input_grad(ct, w)`` (a transposed convolution) and
``conv2d_weight_grad(x, ct)`` (a correlation of input and cotangent). Each one's vjp is again
one of the three, so gradients of any order stay in the table and the compiler sees every one.
Attrs (all plain ints or int pairs): ``stride``, ``padding``, ``dilation``, ``groups``; the
gradient ops add ``input_size`` / ``kernel_size``, which the forward sizes cannot recover
(outputs are floored).

The impls are im2col: the kernel taps are gathered with stride tricks into one contiguous
``[N*OH*OW, C*kh*kw]`` matrix and multiplied by the weights in one (grouped) matmul.
"""

from __future__ import annotations

import numpy as np
import sympy

from gradc.errors import DTypeError, ShapeError
from gradc.ops.table import Op, register
from gradc.ops.window import check_4d, check_size, out_hw, pad, tap, taps, unpad, windows
from gradc.shapes import TensorType, canon, dim_str, same_dim


# ---- shape rules ----------------------------------------------------------------------------
def _check_dtypes(*ts: TensorType) -> None:
    if not ts[0].dtype.is_floating_point or any(t.dtype is not ts[0].dtype for t in ts):
        raise DTypeError(
            "expected floating point tensors of one dtype, got "
            + ", ".join(t.dtype.name for t in ts)
            + ": convert with .float() or .double()"
        )


def _check_channels(c, w: TensorType, groups: int) -> None:
    if not isinstance(groups, int) or groups < 1:
        raise ShapeError(f"groups must be a positive int, got {groups!r}")
    if isinstance(w.shape[0], int) and w.shape[0] % groups:
        raise ShapeError(f"out_channels {w.shape[0]} is not divisible by groups={groups}")
    if not same_dim(c, w.shape[1] * groups):
        raise ShapeError(
            f"the input has {dim_str(c)} channels but the weight {w} expects "
            f"{dim_str(w.shape[1] * groups)} (weight.shape[1] * groups={groups})"
        )


def _conv2d_infer(x, w, b=None, *, stride, padding, dilation, groups) -> TensorType:
    check_4d(x, "the input")
    check_4d(w, "the weight")
    _check_dtypes(x, w, *([b] if b is not None else []))
    _check_channels(x.shape[1], w, groups)
    if b is not None and (b.ndim != 1 or not same_dim(b.shape[0], w.shape[0])):
        raise ShapeError(f"the bias must have shape [{dim_str(w.shape[0])}], got {b}")
    oh, ow = out_hw(x.shape[2:], w.shape[2:], stride, padding, dilation)
    return TensorType(x.dtype, (x.shape[0], w.shape[0], oh, ow))


def _input_grad_infer(ct, w, *, input_size, stride, padding, dilation, groups) -> TensorType:
    check_4d(ct, "the cotangent")
    check_4d(w, "the weight")
    _check_dtypes(ct, w)
    if not same_dim(ct.shape[1], w.shape[0]):
        raise ShapeError(f"the cotangent {ct} and the weight {w} disagree on out_channels")
    check_size(ct, input_size, out_hw(input_size, w.shape[2:], stride, padding, dilation), "ct")
    return TensorType(ct.dtype, (ct.shape[0], canon(w.shape[1] * groups), *input_size))


def _weight_grad_infer(x, ct, *, kernel_size, stride, padding, dilation, groups) -> TensorType:
    check_4d(x, "the input")
    check_4d(ct, "the cotangent")
    _check_dtypes(x, ct)
    if not same_dim(x.shape[0], ct.shape[0]):
        raise ShapeError(f"the input {x} and the cotangent {ct} disagree on the batch size")
    check_size(ct, x.shape[2:], out_hw(x.shape[2:], kernel_size, stride, padding, dilation), "ct")
    c = x.shape[1]
    cg = c // groups if isinstance(c, int) else canon(sympy.sympify(c) / groups)
    return TensorType(x.dtype, (ct.shape[1], cg, *kernel_size))


# ---- numpy reference ------------------------------------------------------------------------
def _cols(x, kernel, out_size, stride, padding, dilation, groups):
    """im2col: ``[N*OH*OW, groups, C/groups * kh * kw]``, contiguous."""
    win = windows(pad(x, padding), kernel, out_size, stride, dilation)  # N C OH OW kh kw
    cols = np.ascontiguousarray(win.transpose(0, 2, 3, 1, 4, 5))
    return cols.reshape(-1, groups, x.shape[1] // groups * kernel[0] * kernel[1])


def _rows(ct, groups):
    """The cotangent as ``[N*OH*OW, groups, O/groups]``."""
    return ct.transpose(0, 2, 3, 1).reshape(-1, groups, ct.shape[1] // groups)


def _conv2d_impl(x, w, b=None, *, stride, padding, dilation, groups):
    n, o = x.shape[0], w.shape[0]
    oh, ow = out_hw(x.shape[2:], w.shape[2:], stride, padding, dilation)
    cols = _cols(x, w.shape[2:], (oh, ow), stride, padding, dilation, groups)
    wm = w.reshape(groups, o // groups, -1)
    if groups == 1:
        out = cols[:, 0] @ wm[0].T
    else:
        out = np.matmul(cols.transpose(1, 0, 2), wm.transpose(0, 2, 1)).transpose(1, 0, 2)
    out = out.reshape(n, oh, ow, o)
    if b is not None:
        out = out + b
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def _input_grad_impl(ct, w, *, input_size, stride, padding, dilation, groups):
    n, o, oh, ow = ct.shape
    cg, kh, kw = w.shape[1:]
    dcols = np.matmul(_rows(ct, groups).transpose(1, 0, 2), w.reshape(groups, o // groups, -1))
    # [g, N, OH, OW, Cg, kh, kw] -> [N, C, kh, kw, OH, OW]: one strided image per tap
    dcols = dcols.reshape(groups, n, oh, ow, cg, kh, kw).transpose(1, 0, 4, 5, 6, 2, 3)
    dcols = dcols.reshape(n, groups * cg, kh, kw, oh, ow)
    (h, wd), (ph, pw) = input_size, padding
    grad = np.zeros((n, groups * cg, h + 2 * ph, wd + 2 * pw), dtype=ct.dtype)
    for i, j in taps((kh, kw)):
        tap(grad, i, j, (oh, ow), stride, dilation)[...] += dcols[:, :, i, j]
    return unpad(grad, padding)


def _weight_grad_impl(x, ct, *, kernel_size, stride, padding, dilation, groups):
    o = ct.shape[1]
    cols = _cols(x, kernel_size, ct.shape[2:], stride, padding, dilation, groups)
    dw = np.matmul(cols.transpose(1, 2, 0), _rows(ct, groups).transpose(1, 0, 2))  # g K Og
    return dw.transpose(0, 2, 1).reshape(o, x.shape[1] // groups, *kernel_size)


# ---- vjp rules (gradc ops, so they trace and differentiate again) ---------------------------
def _conv2d_vjp_x(ct, x, w, b=None, *, out, **attrs):
    from gradc import functions as fn

    return fn.apply("conv2d_input_grad", ct, w, input_size=tuple(x.shape[2:]), **attrs)


def _conv2d_vjp_w(ct, x, w, b=None, *, out, **attrs):
    from gradc import functions as fn

    return fn.apply("conv2d_weight_grad", x, ct, kernel_size=tuple(w.shape[2:]), **attrs)


def _conv2d_vjp_b(ct, x, w, b, *, out, **attrs):
    from gradc import functions as fn

    return fn.sum(ct, (0, 2, 3))


def _input_grad_vjp_ct(g, ct, w, *, out, input_size, **attrs):
    from gradc import functions as fn

    return fn.apply("conv2d", g, w, **attrs)


def _input_grad_vjp_w(g, ct, w, *, out, input_size, **attrs):
    from gradc import functions as fn

    return fn.apply("conv2d_weight_grad", g, ct, kernel_size=tuple(w.shape[2:]), **attrs)


def _weight_grad_vjp_x(g, x, ct, *, out, kernel_size, **attrs):
    from gradc import functions as fn

    return fn.apply("conv2d_input_grad", ct, g, input_size=tuple(x.shape[2:]), **attrs)


def _weight_grad_vjp_ct(g, x, ct, *, out, kernel_size, **attrs):
    from gradc import functions as fn

    return fn.apply("conv2d", x, g, **attrs)


# attrs at these values are left out of the printed IR
CONV_DEFAULTS = {"padding": (0, 0), "dilation": (1, 1), "groups": 1}

register(
    Op(
        "conv2d",
        _conv2d_infer,
        _conv2d_impl,
        (_conv2d_vjp_x, _conv2d_vjp_w, _conv2d_vjp_b),
        "conv",
        meta={"attr_defaults": CONV_DEFAULTS},
        doc="2-D cross-correlation of x [N,C,H,W] with w [O,C/groups,kh,kw], plus bias [O]",
    )
)
register(
    Op(
        "conv2d_input_grad",
        _input_grad_infer,
        _input_grad_impl,
        (_input_grad_vjp_ct, _input_grad_vjp_w),
        "conv",
        meta={"attr_defaults": CONV_DEFAULTS},
        doc="vjp of conv2d w.r.t. its input: the transposed convolution of ct with w",
    )
)
register(
    Op(
        "conv2d_weight_grad",
        _weight_grad_infer,
        _weight_grad_impl,
        (_weight_grad_vjp_x, _weight_grad_vjp_ct),
        "conv",
        meta={"attr_defaults": CONV_DEFAULTS},
        doc="vjp of conv2d w.r.t. its weight: the correlation of x with ct",
    )
)
