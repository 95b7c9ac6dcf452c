"""Sliding-window arithmetic shared by conv2d and the pooling ops.

Output sizes work on ints and on sympy dims alike; the numpy helpers walk the kernel taps
(``kh * kw`` strided views), never the pixels, so every impl stays vectorised.
"""

from __future__ import annotations

import numpy as np
import sympy

from gradc.errors import GradcError, ShapeError
from gradc.shapes import canon, dim_str


def pair(v, name: str, *, minimum: int = 0) -> tuple[int, int]:
    """An int or a pair of ints as a pair of plain ints (the canonical attr form)."""
    vals = (v, v) if isinstance(v, (int, np.integer)) else tuple(v)
    if len(vals) != 2 or not all(isinstance(e, (int, np.integer)) for e in vals):
        raise GradcError(f"{name} must be an int or a pair of ints, got {v!r}")
    vals = (int(vals[0]), int(vals[1]))
    if any(e < minimum for e in vals):
        raise GradcError(f"{name} must be >= {minimum}, got {v!r}")
    return vals


def out_dim(size, kernel: int, stride: int, padding: int, dilation: int):
    """``floor((size + 2 padding - dilation (kernel - 1) - 1) / stride) + 1``, as torch."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if isinstance(size, int):
        out = span // stride + 1
        if out < 1:
            raise ShapeError(
                f"the {kernel}-tap window (dilation {dilation}) does not fit an input of size "
                f"{size} with padding {padding}: the output would be {out}"
            )
        return out
    span = sympy.sympify(span)
    return canon(span + 1 if stride == 1 else sympy.floor(span / stride) + 1)


def out_hw(hw, kernel, stride, padding, dilation) -> tuple:
    return tuple(out_dim(hw[k], kernel[k], stride[k], padding[k], dilation[k]) for k in range(2))


def check_4d(t, what: str) -> None:
    if t.ndim != 4:
        raise ShapeError(f"{what} must have 4 dims [N, C, H, W], got {t}")


def check_size(t, input_size, out_size, what: str) -> None:
    """The cotangent of a window op has the shape the forward op gives ``input_size``."""
    if any(
        isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(t.shape[2:], out_size)
    ):
        raise ShapeError(
            f"{what} has spatial size [{','.join(dim_str(d) for d in t.shape[2:])}] but an input "
            f"of size {tuple(input_size)} gives [{','.join(dim_str(d) for d in out_size)}]"
        )


def pad(a: np.ndarray, padding, value=0.0) -> np.ndarray:
    ph, pw = padding
    if ph == 0 and pw == 0:
        return a
    return np.pad(a, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def unpad(a: np.ndarray, padding) -> np.ndarray:
    ph, pw = padding
    return a[:, :, ph : a.shape[2] - ph, pw : a.shape[3] - pw]


def tap(a: np.ndarray, i: int, j: int, out_size, stride, dilation) -> np.ndarray:
    """The strided view of padded ``a`` that kernel tap ``(i, j)`` reads for every output pixel."""
    (oh, ow), (sh, sw), (dh, dw) = out_size, stride, dilation
    return a[
        :, :, i * dh : i * dh + sh * (oh - 1) + 1 : sh, j * dw : j * dw + sw * (ow - 1) + 1 : sw
    ]


def taps(kernel):
    """Kernel taps in row-major order: the order torch scans a window (first max wins)."""
    return [(i, j) for i in range(kernel[0]) for j in range(kernel[1])]


def windows(a: np.ndarray, kernel, out_size, stride, dilation) -> np.ndarray:
    """A read-only view ``[N, C, OH, OW, kh, kw]`` of every window of padded ``a`` (no copy)."""
    n, c = a.shape[:2]
    s0, s1, s2, s3 = a.strides
    shape = (n, c, out_size[0], out_size[1], kernel[0], kernel[1])
    strides = (s0, s1, s2 * stride[0], s3 * stride[1], s2 * dilation[0], s3 * dilation[1])
    return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=False)
