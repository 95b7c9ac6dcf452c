"""torch's selection by indices: ``gather``, ``scatter_add`` (and ``x.scatter_add_``),
``argsort``, ``sort`` and ``topk``.

``gather``, ``scatter_add`` and ``argsort`` are ops of the table (``gradc/ops/gather.py``);
``sort`` and ``topk`` gather their values with argsort's indices, so the values' gradient is
gather's (a scatter-add to where each value came from), as torch's.

>>> x = gradc.tensor([[3.0, 1.0, 2.0]], requires_grad=True)
>>> x.sort(), x.topk(2), x.gather(1, gradc.tensor([[2, 0]]))
"""

from __future__ import annotations

import builtins
from collections import namedtuple

from gradc import functions as fn
from gradc.dispatch import apply
from gradc.errors import IndexRangeError, with_op_context
from gradc.shapes import axis_alias, norm_dim

__all__: list = []

SortResult = namedtuple("sort", ["values", "indices"])  # torch.return_types.sort
TopkResult = namedtuple("topk", ["values", "indices"])  # torch.return_types.topk


def _public(f):
    __all__.append(f.__name__)
    return with_op_context(axis_alias(f))


def _dim(dim, t) -> int:
    return norm_dim(dim, builtins.max(t.ndim, 1))


@_public
def gather(input, dim, index, *, sparse_grad=False):
    """``out[i][j][k] = input[index[i][j][k]][j][k]`` for ``dim`` 0 (and so on); the result has
    the index's shape, an int64 tensor no larger than ``input`` outside ``dim``."""
    return apply("gather", input, index, dim=_dim(dim, input))


@_public
def scatter_add(input, dim, index, src):
    """``input`` with ``src[i][j][k]`` added at ``[index[i][j][k]][j][k]`` for ``dim`` 0 (and so
    on); duplicates accumulate. Only the part of ``src`` the index covers is used, as in torch."""
    src = fn.as_tensor(src)
    if tuple(src.shape) != tuple(index.shape) and src.ndim == index.ndim:
        if builtins.any(
            isinstance(a, int) and isinstance(b, int) and a > b
            for a, b in zip(index.shape, src.shape)
        ):
            raise IndexRangeError(
                f"scatter_add(): Expected index {list(index.shape)} to be no larger than src "
                f"{list(src.shape)}"
            )
        src = fn.getitem(src, tuple(slice(0, n) for n in index.shape))
    return apply("scatter_add", input, index, src, dim=_dim(dim, input))


@_public
def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort ``input`` along ``dim``; always stable here (ties keep their
    order), nan sorts as the largest value, as torch's."""
    return apply("argsort", input, dim=_dim(dim, input), descending=builtins.bool(descending))


@_public
def sort(input, dim=-1, descending=False, stable=False):
    """``(values, indices)`` sorted along ``dim``; see ``argsort``."""
    d = _dim(dim, input)
    indices = argsort(input, d, descending, stable)
    return SortResult(gather(input, d, indices), indices)


@_public
def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) values along ``dim`` and their indices, largest first
    (smallest first for ``largest=False``); ties go to the lower index."""
    d = _dim(dim, input)
    n = input.shape[d] if input.ndim else 1
    if not isinstance(k, int) or isinstance(n, int) and not 0 <= k <= n:
        raise IndexRangeError(f"selected index k out of range: k={k} for a dim of size {n}")
    order = argsort(input, d, descending=largest)
    indices = fn.getitem(order, (slice(None),) * d + (slice(0, k),)) if input.ndim else order
    return TopkResult(gather(input, d, indices), indices)


def _scatter_add_(self, dim, index, src):
    return self._inplace("scatter_add_", lambda s: scatter_add(s, dim, index, src), index, src)


def _methods():
    from gradc._tensor import Tensor

    for name in __all__:
        setattr(Tensor, name, globals()[name])
    Tensor.scatter_add_ = _scatter_add_


_methods()
