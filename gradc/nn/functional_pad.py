"""``torch.nn.functional.pad``: constant, reflect, replicate and circular padding; re-exported by
``gradc.nn.functional``.

A composition of slices, flips, expands and ``cat`` along each padded dim, so it traces,
compiles and differentiates with no rule of its own (the gradient of a reflected or repeated
entry adds up, as torch's). Negative amounts crop, as in torch.
"""

from __future__ import annotations

import numpy as np

from gradc import dtypes
from gradc import functions as fn
from gradc.advanced_indexing import index_select
from gradc.creation import full, tensor
from gradc.errors import ArgumentError, ShapeError, with_op_context

__all__ = ["pad"]

_MODES = ("constant", "reflect", "replicate", "circular")


def _narrow(x, dim, start, stop):
    """``x`` sliced to ``[start, stop)`` along ``dim`` (a view)."""
    return x[(slice(None),) * dim + (slice(start, stop),)]


def _check(x, pad, mode):
    if not isinstance(pad, (tuple, list)) or not all(
        isinstance(p, int) and not isinstance(p, bool) for p in pad
    ):
        raise ArgumentError(f"pad must be a tuple of ints, got {pad!r}")
    if len(pad) % 2:
        raise ShapeError("Padding length must be divisible by 2")
    if len(pad) > 2 * x.ndim:
        raise ShapeError(
            f"Padding length should be less than or equal to two times the input dimension but "
            f"got padding length {len(pad)} and input of dimension {x.ndim}"
        )
    if mode not in _MODES:
        raise ArgumentError(f"mode must be one of {_MODES}, got {mode!r}")
    k = len(pad) // 2
    if mode != "constant" and x.ndim not in (k + 1, k + 2):
        raise ShapeError(
            f"Padding size {len(pad)} is not supported for {x.ndim}D input tensor: {mode} "
            f"padding of {k} dims takes a {k + 1}D or {k + 2}D input"
        )
    inner = x.shape[1:] if x.ndim == k + 2 else x.shape  # all but a batch dim
    if mode in ("reflect", "replicate") and any(d == 0 for d in inner):
        raise ShapeError(
            f"{mode} padding needs non-zero dims (a batch dim may be 0), got {list(x.shape)}"
        )


def _source(mode, n, left, right):
    """For each output entry of a padded dim, the input entry it copies (ATen's formulas, which
    negative amounts crop)."""
    size = n + left + right
    if mode == "circular":  # the cropped middle, then each end copied from the other end of it
        src = np.zeros(size, dtype=np.int64)
        lo, hi = max(left, 0), size - max(right, 0)
        src[lo:hi] = np.arange(max(-left, 0), n - max(-right, 0))
        if left > 0:
            src[:left] = src[hi - left : hi]
        if right > 0:
            src[size - right :] = src[lo : lo + right]
        return src
    i = np.arange(size) - left
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    return np.where(i < 0, -i, np.where(i >= n, 2 * (n - 1) - i, i))  # reflect


def _pad_dim(x, dim, left, right, mode, value):
    n = x.shape[dim]
    kept = n - max(-left, 0) - max(-right, 0)  # what negative amounts leave of the dim
    if mode == "constant":
        if isinstance(kept, int) and kept < 0:
            raise ShapeError(
                f"padding ({left}, {right}) crops more than the {n} entries of dim {dim}"
            )
        x = _narrow(x, dim, max(-left, 0), max(-left, 0) + kept)
        parts = []
        for amount in (left, right):
            shape = list(x.shape)
            shape[dim] = amount
            parts.append(fn.expand(full((), value, dtype=x.dtype), *shape) if amount > 0 else None)
        return fn.cat([p for p in (parts[0], x, parts[1]) if p is not None], dim)
    if not isinstance(n, int):
        raise ShapeError(f"{mode} padding needs a static size of dim {dim}, got {n}")
    size = n + left + right
    if mode == "reflect" and (left >= n or right >= n):
        raise ShapeError(
            f"reflect padding ({left}, {right}) should be less than the size {n} of dim {dim}"
        )
    if mode == "circular" and (left > kept or right > kept):
        raise ShapeError(
            f"circular padding ({left}, {right}) of dim {dim} of size {n} wraps around more "
            f"than once (torch copies overlapping memory when a crop leaves less than the pad)"
        )
    if size < (0 if mode == "circular" else 1):
        raise ShapeError(
            f"padding ({left}, {right}) leaves dim {dim} of size {n} too small: {size}"
        )
    index = tensor(_source(mode, n, left, right), dtype=dtypes.int64)
    return index_select(x, dim, index)


@with_op_context
def pad(input, pad, mode="constant", value=None):
    """``input`` padded by ``pad = (left, right, top, bottom, ...)``, pairs from the last dim
    backwards (torch.nn.functional.pad)."""
    _check(input, pad, mode)
    if mode != "constant" and value is not None:
        raise ArgumentError(f'Padding mode "{mode}" doesn\'t take in value argument')
    value = 0 if value is None else value  # full() casts it to the input's dtype, as torch
    out = input
    for k in range(len(pad) // 2):
        out = _pad_dim(out, input.ndim - 1 - k, pad[2 * k], pad[2 * k + 1], mode, value)
    return input.clone() if out is input else out  # a new tensor, never the input itself
