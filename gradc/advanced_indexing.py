"""Indexing with integer tensors, lists and bool masks (``x[idx]``, ``x[:, [0, 2]]``,
``x[mask]``) and writing through them (``x[mask] = 0``), as torch has them.

No new op: ints, slices and None go to basic indexing first (torch's order); the dims that
integer tensors index merge into one (moved together first if a slice parts them), whose flat
index is the tensors' row-major combination, and ``gather`` picks along it (other dims, a
symbolic batch too, stay as they are). Its vjp, a scatter-add of the cotangent, accumulates
duplicates: torch's IndexBackward. A bool mask becomes the integer
coordinates of its true elements, which needs its values: eager mode only, as the result's
shape depends on them.

>>> x = gradc.arange(6.0).reshape(2, 3)
>>> x[[1, 0]], x[:, gradc.tensor([2, 2])], x[x > 2], x.index_select(1, gradc.tensor([0]))
"""

from __future__ import annotations

import numpy as np

from gradc import dtypes
from gradc import functions as fn
from gradc.dispatch import apply
from gradc.errors import DTypeError, GradcError, IndexRangeError, TraceError, with_op_context
from gradc.shapes import broadcast_shapes, norm_dim, prod

__all__ = ["index_select", "masked_select", "index_put"]


def _tensor_cls():
    from gradc._tensor import Tensor

    return Tensor


def _is_array(item) -> bool:
    return isinstance(item, (_tensor_cls(), list, np.ndarray))


def is_advanced(idx) -> bool:
    """Whether ``idx`` holds an integer tensor, a list or a bool mask."""
    items = idx if isinstance(idx, tuple) else (idx,)
    return any(_is_array(item) for item in items)


def _as_index_tensor(item):
    if isinstance(item, _tensor_cls()):
        return item
    if isinstance(item, list) and not item:
        return fn.as_tensor(np.zeros(0, np.int64))  # x[[]]: an empty integer index, as torch
    return fn.as_tensor(item)


def _mask_coords(mask, shape, at: int) -> list:
    """The coordinates of ``mask``'s true elements, one int64 tensor per dim it covers."""
    if mask.is_traced:
        raise TraceError(
            "indexing with a bool mask gives a shape that depends on the mask's values, which a "
            "traced graph cannot have: use gradc.where(mask, x, 0) or masked_fill instead"
        )
    covered = tuple(shape[at : at + mask.ndim])
    if tuple(mask.shape) != covered:
        k = next((i for i, (a, b) in enumerate(zip(mask.shape, covered)) if a != b), 0)
        raise IndexRangeError(
            f"The shape of the mask {list(mask.shape)} at index {k} does not match the shape of "
            f"the indexed tensor {list(shape)} at index {at + k}"
        )
    return [fn.as_tensor(c.astype(np.int64)) for c in np.nonzero(mask.numpy())]


def _split(shape, idx):
    """``(basic, tensors)``: the basic index with a full slice for each advanced dim, and
    ``(dim in x, index tensor)`` for each advanced dim; ``...`` expanded."""
    items = list(idx) if isinstance(idx, tuple) else [idx]
    items = [_as_index_tensor(i) if _is_array(i) else i for i in items]
    for i in items:
        if isinstance(i, _tensor_cls()) and i.dtype.is_floating_point:
            raise IndexRangeError("tensors used as indices must be long, int, byte or bool tensors")
    used = sum(
        (i.ndim if i.dtype in (dtypes.bool_, dtypes.uint8) else 1)
        if isinstance(i, _tensor_cls())
        else 0
        if i is None or i is Ellipsis
        else 1
        for i in items
    )
    if used > len(shape):
        raise IndexRangeError(f"too many indices for tensor of dimension {len(shape)} (got {used})")
    if Ellipsis in [i for i in items if not isinstance(i, _tensor_cls())]:
        k = next(n for n, i in enumerate(items) if i is Ellipsis)
        items[k : k + 1] = [slice(None)] * (len(shape) - used)
    basic, tensors, d = [], [], 0
    for item in items:
        if isinstance(item, _tensor_cls()):
            if item.dtype in (dtypes.bool_, dtypes.uint8):  # torch reads a byte tensor as a mask
                if item.ndim == 0:
                    raise GradcError("indexing with a 0-d bool tensor is not supported")
                for c in _mask_coords(item, shape, d):
                    tensors.append((d, c))
                    basic.append(slice(None))
                    d += 1
                continue
            tensors.append((d, item))
            basic.append(slice(None))
            d += 1
        else:
            basic.append(item)
            d += item is not None
    return tuple(basic), tensors


def _check_range(t, size, dim: int):
    if t.is_traced or not isinstance(size, int):
        return
    a = t.numpy()
    if a.size and (a.min() < -size or a.max() >= size):
        bad = a[(a < -size) | (a >= size)].flat[0]
        raise IndexRangeError(f"index {bad} is out of bounds for dimension {dim} with size {size}")


def advanced_getitem(x, idx):
    """``x[idx]`` where ``idx`` holds integer tensors, lists or bool masks (see the module)."""
    basic, tensors = _split(tuple(x.shape), idx)
    # the dims of ``y`` (after basic indexing) that the tensors index
    pos, p, dims_of_x = [], 0, iter(range(len(x.shape)))
    adv = {d for d, _ in tensors}
    for item in basic:
        if item is None:
            p += 1
            continue
        d = next(dims_of_x)
        if isinstance(item, slice):
            if d in adv:
                pos.append(p)
            p += 1
    y = fn.getitem(x, basic)
    sizes = [y.shape[q] for q in pos]
    index = []
    for (d, t), n in zip(tensors, sizes):
        if t.dtype not in (dtypes.int64, dtypes.int32):
            t = fn.cast(t, dtypes.int64)
        _check_range(t, n, d)
        index.append(fn.where(fn.lt(t, 0), fn.add(t, n), t))  # gather's indices do not wrap
    shape = broadcast_shapes(*(tuple(t.shape) for t in index))
    flat, stride = index[-1], sizes[-1]
    for t, n in zip(index[-2::-1], sizes[-2::-1]):  # row-major over the indexed dims
        flat = fn.add(flat, fn.mul(t, stride))
        stride = stride * n
    # adjacent indexed dims: the result's dims take their place (torch, numpy); else they lead
    k = pos[0] if pos == list(range(pos[0], pos[0] + len(pos))) else 0
    rest = [q for q in range(y.ndim) if q not in pos]
    z = fn.permute(y, *rest[:k], *pos, *rest[k:])  # the identity when adjacent
    z = fn.reshape(z, (*z.shape[:k], prod(sizes), *z.shape[k + len(pos) :]))
    n = prod(shape)
    flat = fn.reshape(fn.expand(flat, shape), (1,) * k + (n,) + (1,) * (z.ndim - k - 1))
    out = apply("gather", z, fn.expand(flat, (*z.shape[:k], n, *z.shape[k + 1 :])), dim=k)
    return fn.reshape(out, (*z.shape[:k], *shape, *z.shape[k + 1 :]))


def put(x, idx, value, accumulate: bool = False):
    """``x`` with ``value`` (broadcast) written where ``x[idx]`` reads: the flat positions that
    ``idx`` selects, found by indexing a tensor of positions, get the value scattered there. Where
    an index repeats, the last write wins (eager mode; torch leaves that order undefined), or
    with ``accumulate`` every value is added."""
    positions = advanced_getitem(_flat_positions(x), idx).detach()
    items = idx if isinstance(idx, tuple) else (idx,)
    mask = any(isinstance(i, _tensor_cls()) and i.dtype is dtypes.bool_ for i in items)
    if isinstance(value, _tensor_cls()) and value.dtype is not x.dtype and not mask:
        raise DTypeError(  # torch casts a number, and a tensor written through a mask
            f"Index put requires the source and destination dtypes match, got "
            f"{x.dtype.name} for the destination and {value.dtype.name} for the source."
        )
    value = fn.as_tensor(value)
    if value.dtype is not x.dtype:
        value = fn.cast(value, x.dtype)
    shape = tuple(positions.shape)
    v = fn.expand(value, shape) if tuple(value.shape) != shape else value
    flat_pos, flat_v = fn.reshape(positions, (-1,)), fn.reshape(v, (-1, 1))
    n = prod(tuple(x.shape))
    if accumulate:
        added = apply("embedding_backward", flat_v, flat_pos, num_weights=n)
        return fn.add(x, fn.reshape(added, tuple(x.shape)))
    if not positions.is_traced:
        p = flat_pos.numpy()
        _, first = np.unique(p[::-1], return_index=True)  # the last write of each position
        if len(first) != len(p):
            keep = fn.as_tensor(np.sort(len(p) - 1 - first).astype(np.int64))
            flat_pos = apply("embedding", fn.reshape(flat_pos, (-1, 1)), keep)
            flat_pos, flat_v = fn.reshape(flat_pos, (-1,)), apply("embedding", flat_v, keep)
    scattered = apply("embedding_backward", flat_v, flat_pos, num_weights=n)
    hit = apply("embedding_backward", fn.ones_like(flat_v), flat_pos, num_weights=n)
    hit = fn.reshape(fn.gt(hit, 0), tuple(x.shape)).detach()
    return fn.where(hit, fn.reshape(scattered, tuple(x.shape)), x)


def _flat_positions(x):
    """An int64 tensor shaped like ``x`` holding each element's flat position: a running sum
    of ones, so a symbolic batch dim traces (``arange`` needs a number)."""
    ones = fn.reshape(fn.ones_like(x, dtype=dtypes.int64), (-1,))
    return fn.reshape(fn.sub(apply("cumsum", ones, dim=0), 1), tuple(x.shape))


@with_op_context
def index_select(input, dim, index):
    """The entries of ``input`` at the 1-D integer ``index`` along ``dim`` (torch.index_select)."""
    if index.ndim > 1:
        raise IndexRangeError("index_select(): Index is supposed to be a vector")
    d = norm_dim(dim, max(input.ndim, 1))
    return advanced_getitem(input, (slice(None),) * d + (fn.reshape(index, (-1,)),))


@with_op_context
def masked_select(input, mask):
    """The entries of ``input`` where ``mask`` (broadcast against it) holds, as a 1-D tensor."""
    if mask.dtype is not dtypes.bool_:
        raise DTypeError(f"masked_select: expected BoolTensor for mask, got {mask.dtype.name}")
    shape = broadcast_shapes(tuple(input.shape), tuple(mask.shape))
    x = fn.expand(input, shape) if tuple(input.shape) != shape else input
    m = fn.expand(mask, shape) if tuple(mask.shape) != shape else mask
    return advanced_getitem(fn.reshape(x, (-1,)), fn.reshape(m, (-1,)))


@with_op_context
def index_put(input, indices, values, accumulate: bool = False):
    """``input`` with ``values`` written at ``input[indices]`` (a tuple of index tensors), or
    added there with ``accumulate`` (duplicates summing), as torch.index_put."""
    return put(input, tuple(indices), values, accumulate)


def _index_put_(self, indices, values, accumulate=False):
    return self._inplace("index_put_", lambda s: put(s, tuple(indices), values, accumulate), values)


def _methods():
    from gradc._tensor import Tensor

    for name in __all__:
        setattr(Tensor, name, globals()[name])
    Tensor.index_put_ = _index_put_


_methods()
