"""torch's shape helpers that are compositions of existing ops: ``chunk``, ``split``, ``repeat``,
``tile``, ``repeat_interleave``, ``roll``, ``tril``, ``triu``, ``unflatten``, ``diag``,
``diagonal``, ``x.unfold`` (windows picked by one ``gather``), and ``flip`` (the one primitive
here: reversing is no slice gradc has).

Slices, ``cat``, ``reshape``/``expand`` and ``where`` masks: no new primitive, so each traces,
differentiates and lowers with what the op table already has. Sizes along the dims they cut
must be concrete (a symbolic batch elsewhere is fine).

>>> x = gradc.arange(6.0).reshape(2, 3)
>>> x.chunk(3, 1), x.repeat(2, 1), x.roll(1, 1), x.triu(), gradc.diag(gradc.ones(3))
>>> x.flip(0), x.diagonal(1), x.unfold(1, 2, 1)
"""

from __future__ import annotations

import builtins

import numpy as np

from gradc import functions as fn
from gradc.creation import arange, from_numpy, zeros
from gradc.errors import GradcError, ShapeError, with_op_context
from gradc.shapes import norm_dim, prod

__all__: list = []


def _public(f):
    __all__.append(f.__name__)
    return with_op_context(f)


def _size(x, dim: int, what: str) -> int:
    n = x.shape[dim]
    if not isinstance(n, int):
        raise ShapeError(f"{what} needs a concrete size along dim {dim}, got {n}")
    return n


def _slice(x, dim: int, start: int, stop: int):
    return fn.getitem(x, (slice(None),) * dim + (slice(start, stop),))


def _sizes(args):
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


@_public
def split(tensor, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the listed sizes."""
    d = norm_dim(dim, tensor.ndim)
    n = _size(tensor, d, "split")
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and n:
            raise GradcError(f"split expects split_size be positive, got {step}")
        sizes = [builtins.min(step, n - k) for k in range(0, n, builtins.max(step, 1))]
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != n or builtins.any(s < 0 for s in sizes):
            raise ShapeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size "
                f"at dimension {d}), but got split_sizes={sizes}"
            )
    out, start = [], 0
    for s in sizes:
        out.append(_slice(tensor, d, start, start + s))
        start += s
    return tuple(out)


@_public
def chunk(input, chunks: int, dim=0):
    """At most ``chunks`` pieces of equal size ``ceil(n / chunks)`` along ``dim``."""
    if chunks <= 0:
        raise GradcError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = norm_dim(dim, input.ndim)
    n = _size(input, d, "chunk")
    return split(input, builtins.max(-(-n // chunks), 1) if n else 1, d)


@_public
def repeat(input, *sizes):
    """Tile the whole tensor ``sizes[i]`` times along dim ``i`` (extra leading sizes add dims)."""
    reps = _sizes(sizes)
    if len(reps) < input.ndim:
        raise ShapeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions "
            "of tensor"
        )
    shape = (1,) * (len(reps) - input.ndim) + tuple(input.shape)
    interleaved = tuple(v for s in shape for v in (1, s))
    target = tuple(v for r, s in zip(reps, shape) for v in (r, s))
    x = fn.expand(fn.reshape(input, interleaved), target)
    return fn.reshape(x, tuple(r * s for r, s in zip(reps, shape)))


@_public
def tile(input, *dims):
    """``repeat`` with ``dims`` padded by leading 1s to the tensor's rank (a tuple, or ints as
    ``x.tile(2)`` takes them)."""
    dims = _sizes(dims)
    return repeat(input, (1,) * (input.ndim - len(dims)) + dims)


@_public
def repeat_interleave(input, repeats, dim=None, *, output_size=None):
    """Repeat each element ``repeats`` times along ``dim`` (of the flattened tensor if None);
    ``repeats`` an int, or an integer tensor with a count per element (the result's length
    then depends on its values: eager mode only, as torch.compile breaks the graph there)."""
    if dim is None:
        input, dim = fn.flatten(input), 0
    d = norm_dim(dim, input.ndim)
    if not isinstance(repeats, int):
        return _repeat_by_counts(input, repeats, d)
    x = fn.unsqueeze(input, d + 1)
    shape = list(x.shape)
    shape[d + 1] = repeats
    x = fn.expand(x, tuple(shape))
    out = list(input.shape)
    out[d] = out[d] * repeats
    return fn.reshape(x, tuple(out))


def _repeat_by_counts(input, repeats, d):
    from gradc._tensor import Tensor
    from gradc.advanced_indexing import index_select

    counts = repeats._concrete("repeat_interleave") if isinstance(repeats, Tensor) else repeats
    counts = np.asarray(counts)
    if counts.dtype.kind not in "iu" or counts.ndim > 1:
        raise GradcError(
            f"repeat_interleave: repeats must be an int or 1-D integer tensor, "
            f"got {counts.dtype} with {counts.ndim} dims"
        )
    n = input.shape[d]
    if counts.ndim == 1 and counts.shape[0] != n:
        raise ShapeError(
            f"repeat_interleave: repeats must have the same size as input along "
            f"dim {d}: {counts.shape[0]} vs {n}"
        )
    if (counts < 0).any():
        raise GradcError("repeat_interleave: repeats can not be negative")
    index = np.repeat(np.arange(n), np.broadcast_to(counts, (n,)))
    return index_select(input, d, from_numpy(index.astype(np.int64)))


@_public
def roll(input, shifts, dims=None):
    """Shift elements along ``dims`` cyclically (of the flattened tensor if ``dims`` is None)."""
    if dims is None:
        shift = shifts if isinstance(shifts, int) else shifts[0]
        return fn.reshape(roll(fn.flatten(input), shift, 0), tuple(input.shape))
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise ShapeError(
            f"shifts and dimensions must align. shifts: {len(shifts)}, dims: {len(dims)}"
        )
    x = input
    for shift, dim in zip(shifts, dims):
        d = norm_dim(dim, x.ndim)
        n = _size(x, d, "roll")
        s = shift % n if n else 0
        if s:
            x = fn.cat([_slice(x, d, n - s, n), _slice(x, d, 0, n - s)], d)
    return x if x is not input else fn.mul(input, 1)


def _band(input, keep_fn, name):
    if input.ndim < 2:
        raise ShapeError(f"{name}: input tensor must have at least 2 dimensions")
    h, w = input.shape[-2:]
    offset = fn.sub(fn.reshape(arange(w), (1, w)), fn.reshape(arange(h), (h, 1)))  # j - i
    return fn.where(keep_fn(offset), input, fn.zeros_like(input))


@_public
def tril(input, diagonal: int = 0):
    """The lower triangle (``j - i <= diagonal``) of the last two dims; the rest 0."""
    return _band(input, lambda off: fn.le(off, diagonal), "tril")


@_public
def triu(input, diagonal: int = 0):
    """The upper triangle (``j - i >= diagonal``) of the last two dims; the rest 0."""
    return _band(input, lambda off: fn.ge(off, diagonal), "triu")


@_public
def unflatten(input, dim, sizes):
    """Split dim ``dim`` into ``sizes`` (one entry may be -1)."""
    d = norm_dim(dim, input.ndim)
    sizes = tuple(sizes)
    if -1 not in sizes and prod(sizes) != input.shape[d]:
        raise ShapeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
            f"({input.shape[d]}) in the input tensor"
        )
    return fn.reshape(input, (*input.shape[:d], *sizes, *input.shape[d + 1 :]))


@_public
def diag(input, diagonal: int = 0):
    """1-D: a square matrix with ``input`` on diagonal ``diagonal``; 2-D: that diagonal."""
    k = diagonal
    if input.ndim == 1:
        n = _size(input, 0, "diag")
        m = n + abs(k)
        padded = fn.cat([input, zeros(abs(k), dtype=input.dtype)]) if k else input
        rows = fn.expand(fn.unsqueeze(padded, 1 if k >= 0 else 0), (m, m))
        off = fn.sub(fn.reshape(arange(m), (1, m)), fn.reshape(arange(m), (m, 1)))
        return fn.where(fn.eq(off, k), rows, fn.zeros_like(rows))
    if input.ndim == 2:
        h, w = _size(input, 0, "diag"), _size(input, 1, "diag")
        off = fn.sub(fn.reshape(arange(w), (1, w)), fn.reshape(arange(h), (h, 1)))
        on = fn.where(fn.eq(off, k), input, fn.zeros_like(input))
        n = builtins.max(0, builtins.min(h, w - k) if k >= 0 else builtins.min(w, h + k))
        return fn.sum(on, 1)[:n] if k >= 0 else fn.sum(on, 0)[:n]
    raise ShapeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


@_public
def flip(input, *dims):
    """Reverse the order of elements along ``dims`` (a copy, as torch's)."""
    dims = _sizes(dims)
    d = tuple(norm_dim(k, builtins.max(input.ndim, 1)) for k in dims)
    if len(set(d)) != len(d):
        raise ShapeError(
            f"dims has duplicates, original flip dims size={len(d)}, but unique "
            f"flip dims size={len(set(d))}"
        )
    d = tuple(k for k in d if k < input.ndim)  # a 0-d tensor takes dim 0: nothing to reverse
    return fn.apply("flip", input, dims=tuple(sorted(d)))  # no dims: a copy, dtype kept


@_public
def fliplr(input):
    """``flip(input, 1)``; at least 2 dims."""
    if input.ndim < 2:
        raise ShapeError("Input must be >= 2-d.")
    return flip(input, 1)


@_public
def flipud(input):
    """``flip(input, 0)``; at least 1 dim."""
    if input.ndim < 1:
        raise ShapeError("Input must be >= 1-d.")
    return flip(input, 0)


@_public
def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1):
    """The diagonal ``offset`` of the ``(dim1, dim2)`` planes, as a last dim: the two dims move
    to the end, merge, and a slice with step ``w + 1`` picks the diagonal (all views)."""
    d1, d2 = norm_dim(dim1, input.ndim), norm_dim(dim2, input.ndim)
    if d1 == d2:
        raise ShapeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    h, w = _size(input, d1, "diagonal"), _size(input, d2, "diagonal")
    rest = [k for k in range(input.ndim) if k not in (d1, d2)]
    x = fn.permute(input, *rest, d1, d2)
    x = fn.reshape(x, (*x.shape[:-2], h * w))
    k = offset
    n = builtins.max(0, builtins.min(h, w - k) if k >= 0 else builtins.min(h + k, w))
    start = k if k >= 0 else -k * w
    index = slice(start, start + (n - 1) * (w + 1) + 1, w + 1) if n else slice(0, 0)
    return fn.getitem(x, (Ellipsis, index))


@with_op_context
def unfold(input, dimension: int, size: int, step: int):
    """Tensor.unfold: the windows of ``size`` elements, ``step`` apart, along ``dimension``
    (which becomes the window count) as a new last dim. One ``gather`` of the window
    positions, so overlapping windows sum their gradients."""
    if input.ndim == 0:
        return fn.reshape(unfold(fn.reshape(input, (1,)), 0, size, step), (size,))
    d = norm_dim(dimension, input.ndim)
    n = _size(input, d, "unfold")
    if size > n:
        raise ShapeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise ShapeError(f"step is {step} but must be > 0")
    count = (n - size) // step + 1
    starts = fn.mul(fn.reshape(arange(count), (count, 1)), step)
    pos = fn.reshape(fn.add(starts, fn.reshape(arange(size), (1, size))), (-1,))
    pos = fn.reshape(pos, (1,) * d + (count * size,) + (1,) * (input.ndim - d - 1))
    shape = tuple(input.shape)
    pos = fn.expand(pos, (*shape[:d], count * size, *shape[d + 1 :]))
    out = fn.reshape(
        fn.apply("gather", input, pos, dim=d), (*shape[:d], count, size, *shape[d + 1 :])
    )
    last = out.ndim - 1
    return fn.permute(out, *range(d + 1), *range(d + 2, last + 1), d + 1)


def _methods():
    from gradc._tensor import Tensor

    for name in __all__:
        setattr(Tensor, name, globals()[name])
    Tensor.unfold = unfold  # torch has it as a method only (F.unfold is im2col)


_methods()
