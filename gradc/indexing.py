"""Basic indexing (``x[0]``, ``x[:, 1:3]``, ``x[..., None]``) normalised into a getitem attr."""

from __future__ import annotations

import numpy as np

from gradc.errors import ArgumentError, GradcError, IndexRangeError
from gradc.shapes import canon


def normalize_index(shape, idx) -> tuple:
    """One entry per used dim: ints in range, slices with explicit start/stop/step (symbolic
    bounds allowed), None for new dims; Ellipsis expanded. Advanced indexing is refused."""
    from gradc._tensor import Tensor

    ndim = len(shape)
    if not isinstance(idx, tuple):
        idx = (idx,)
    for item in idx:
        if isinstance(item, (Tensor, list, np.ndarray)) or isinstance(item, (bool, np.bool_)):
            raise GradcError(
                f"indexing with {type(item).__name__} (advanced indexing) is not supported; use "
                "ints, slices, None and ..., or gradc.where / one-hot masks"
            )
        if not (item is None or item is Ellipsis or isinstance(item, (int, np.integer, slice))):
            raise GradcError(f"invalid index {item!r}")
    n_ell = sum(1 for i in idx if i is Ellipsis)
    if n_ell > 1:
        raise GradcError("an index can only have a single ellipsis ('...')")
    used = sum(1 for i in idx if i is not None and i is not Ellipsis)
    if used > ndim:
        raise IndexRangeError(f"too many indices for a tensor of {ndim} dims: {used}")
    if n_ell:
        k = idx.index(Ellipsis)
        idx = idx[:k] + (slice(None),) * (ndim - used) + idx[k + 1 :]
    out, d = [], 0
    for item in idx:
        if item is None:
            out.append(None)
            continue
        size = shape[d]
        if isinstance(item, slice):
            out.append(_norm_slice(item, size))
        else:
            i = int(item)
            if isinstance(size, int):
                if not -size <= i < size:
                    raise IndexRangeError(
                        f"index {i} is out of bounds for dimension {d} with size {size}"
                    )
                i %= size
            elif i < 0:
                i = canon(size + i)
            out.append(i)
        d += 1
    return tuple(out)


def _norm_slice(s: slice, size) -> slice:
    step = 1 if s.step is None else int(s.step)
    if step <= 0:
        raise ArgumentError("slice step must be positive")
    if isinstance(size, int):
        start, stop, step = s.indices(size)
        return slice(start, max(start, stop), step)
    start = 0 if s.start is None else int(s.start)
    stop = size if s.stop is None else int(s.stop)
    start = canon(size + start) if start < 0 else start
    stop = canon(size + stop) if isinstance(stop, int) and stop < 0 else stop
    return slice(start, stop, step)
