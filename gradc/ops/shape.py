"""Ops that move or select elements: reshape, expand, permute, getitem, cat, and constants."""

from __future__ import annotations

import numpy as np
import sympy

from gradc import dtypes
from gradc.errors import ShapeError
from gradc.ops.table import OPS, Op, register
from gradc.shapes import TensorType, canon, dim_str, infer_reshape, same_dim, shape_str


def _reshape_infer(t: TensorType, *, shape) -> TensorType:
    return TensorType(t.dtype, infer_reshape(t.shape, shape))


def _reshape_vjp(ct, x, *, out, shape):
    from gradc import functions as fn

    return fn.reshape(ct, x.shape)


register(
    Op(
        "reshape",
        _reshape_infer,
        lambda a, *, shape: np.reshape(a, shape),
        (_reshape_vjp,),
        "shape",
        doc="same elements, new shape (-1 is inferred)",
        view=True,
    )
)


def _expand_shape(old, new):
    new = tuple(canon(d) for d in new)
    if len(new) < len(old):
        raise ShapeError(f"cannot expand {shape_str(old)} to fewer dims {shape_str(new)}")
    lead = len(new) - len(old)
    out = list(new[:lead])
    if any(isinstance(d, int) and d < 0 for d in out):
        raise ShapeError(f"-1 is not allowed in the new leading dims of expand {shape_str(new)}")
    for o, n in zip(old, new[lead:]):
        if isinstance(n, int) and n == -1:
            out.append(o)
        elif (isinstance(o, int) and o == 1) or same_dim(o, n):
            out.append(n)
        else:
            raise ShapeError(
                f"cannot expand {shape_str(old)} to {shape_str(new)}: a dim of size "
                f"{dim_str(o)} can only expand if it is 1"
            )
    return tuple(out)


def _expand_infer(t: TensorType, *, shape) -> TensorType:
    return TensorType(t.dtype, _expand_shape(t.shape, shape))


def _expand_impl(a, *, shape):
    r = np.broadcast_to(a, _expand_shape(a.shape, shape))
    if a.flags.writeable and not any(s == 0 and n > 1 for s, n in zip(r.strides, r.shape)):
        # nothing is repeated: a writeable view, so in-place writes reach the base (torch)
        r = np.lib.stride_tricks.as_strided(a, r.shape, r.strides)
    return r


def _expand_vjp(ct, x, *, out, shape):
    from gradc import functions as fn

    return fn.sum_to(ct, x.shape)


register(
    Op(
        "expand",
        _expand_infer,
        _expand_impl,
        (_expand_vjp,),
        "shape",
        doc="broadcast size-1 dims to a larger shape (a view)",
        view=True,
    )
)


def _permute_infer(t: TensorType, *, dims) -> TensorType:
    if sorted(dims) != list(range(t.ndim)):
        raise ShapeError(f"dims {tuple(dims)} are not a permutation of {t.ndim} dims")
    return TensorType(t.dtype, tuple(t.shape[d] for d in dims))


def _permute_vjp(ct, x, *, out, dims):
    from gradc import functions as fn

    return fn.permute(ct, tuple(int(i) for i in np.argsort(dims)))


register(
    Op(
        "permute",
        _permute_infer,
        lambda a, *, dims: np.transpose(a, dims),
        (_permute_vjp,),
        "shape",
        doc="reorder dims",
        view=True,
    )
)


def _flip_infer(t: TensorType, *, dims) -> TensorType:
    if any(not 0 <= d < t.ndim for d in dims) or len(set(dims)) != len(dims):
        raise ShapeError(f"flip dims {tuple(dims)} are not distinct dims of {t}")
    return TensorType(t.dtype, t.shape)


def _flip_vjp(ct, x, *, out, dims):
    from gradc.dispatch import apply

    return apply("flip", ct, dims=dims)


register(
    Op(
        "flip",
        _flip_infer,
        lambda a, *, dims: np.flip(a, dims).copy(),  # torch's flip copies
        (_flip_vjp,),
        "shape",
        doc="reverse the order of elements along dims",
    )
)


def index_shape(shape, index) -> tuple:
    """Shape after basic indexing; ``index`` holds ints, slices and None, one per dim used."""
    out, d = [], 0
    for item in index:
        if item is None:
            out.append(1)
            continue
        if d >= len(shape):
            raise ShapeError(f"too many indices for a tensor of shape {shape_str(shape)}")
        size = shape[d]
        if isinstance(item, slice):
            start, stop, step = item.start, item.stop, item.step
            out.append(canon(sympy.Max(0, sympy.ceiling((sympy.sympify(stop) - start) / step))))
        else:
            if isinstance(size, int) and not -size <= item < size:
                raise ShapeError(f"index {item} is out of bounds for dimension {d} of size {size}")
        d += 1
    return (*out, *shape[d:])


def _getitem_infer(t: TensorType, *, index) -> TensorType:
    return TensorType(t.dtype, index_shape(t.shape, index))


def _getitem_vjp(ct, x, *, out, index):
    from gradc import functions as fn

    return fn.apply("getitem_backward", ct, shape=tuple(x.shape), index=index)


def _bwd_infer(t: TensorType, *, shape, index) -> TensorType:
    return TensorType(t.dtype, shape)


def _bwd_impl(g, *, shape, index):
    out = np.zeros(shape, dtype=g.dtype)
    out[index] = g
    return out


def _bwd_vjp(ct, g, *, out, shape, index):
    from gradc import functions as fn

    return fn.apply("getitem", ct, index=index)


register(
    Op(
        "getitem",
        _getitem_infer,
        lambda a, *, index: a[(*index, Ellipsis)],  # with ..., x[0] of a 1-d x is a view too
        (_getitem_vjp,),
        "index",
        doc="basic indexing: ints, slices, None",
        view=True,
    )
)
register(
    Op(
        "getitem_backward",
        _bwd_infer,
        _bwd_impl,
        (_bwd_vjp,),
        "index",
        doc="scatter into zeros: the vjp of getitem",
    )
)


def _view_type(t: TensorType, path) -> TensorType:
    for name, attrs in path:
        t = OPS[name].infer(t, **dict(attrs))
    return t


def _copy_slices_infer(base: TensorType, src: TensorType, *, path) -> TensorType:
    view = _view_type(base, path)
    if len(view.shape) != len(src.shape) or not all(
        same_dim(a, b) for a, b in zip(view.shape, src.shape)
    ):
        raise ShapeError(f"the view is {shape_str(view.shape)} but the source {src}")
    return TensorType(base.dtype, base.shape)


def _copy_slices_impl(base, src, *, path):
    """``base`` with the elements that ``path`` views replaced by ``src``: the view ops run on
    an array of flat positions, so a reshape that would copy still says where each one goes."""
    pos = np.arange(base.size).reshape(base.shape)
    for name, attrs in path:
        pos = OPS[name].impl(pos, **dict(attrs))
    out = base.copy()
    out.reshape(-1)[np.asarray(pos).reshape(-1)] = np.broadcast_to(src, np.shape(pos)).reshape(-1)
    return out


def _copy_slices_vjp_base(ct, base, src, *, out, path):
    from gradc import functions as fn

    return fn.apply("copy_slices", ct, fn.zeros_like(src, dtype=ct.dtype), path=path)


def _copy_slices_vjp_src(ct, base, src, *, out, path):
    from gradc import functions as fn
    from gradc.views import replay

    g = replay(ct, path)
    return g if g.dtype is src.dtype else fn.cast(g, src.dtype)


register(
    Op(
        "copy_slices",
        _copy_slices_infer,
        _copy_slices_impl,
        (_copy_slices_vjp_base, _copy_slices_vjp_src),
        "index",
        doc="write src into the view of base that path (view ops with attrs) selects",
    )
)


def _cat_infer(*ts: TensorType, dim) -> TensorType:
    if not ts:
        raise ShapeError("cat needs at least one tensor")
    first = ts[0]
    dt = dtypes.promote(*(t.dtype for t in ts))
    for t in ts[1:]:
        if t.ndim != first.ndim or any(
            k != dim and not same_dim(a, b) for k, (a, b) in enumerate(zip(t.shape, first.shape))
        ):
            raise ShapeError(
                f"sizes must match except in dimension {dim}: " + ", ".join(str(u) for u in ts)
            )
    if not 0 <= dim < first.ndim:
        raise ShapeError(f"dim {dim} is out of range for tensors of {first.ndim} dims")
    size = canon(sum((t.shape[dim] for t in ts), sympy.Integer(0)))
    return TensorType(dt, (*first.shape[:dim], size, *first.shape[dim + 1 :]))


def _cat_vjp(ct, *xs, out, dim, i):
    """The slice of ``ct`` that input ``i`` filled."""
    from gradc import functions as fn

    start = canon(sum((x.shape[dim] for x in xs[:i]), sympy.Integer(0)))
    stop = canon(start + sympy.sympify(xs[i].shape[dim]))
    index = tuple(slice(0, ct.shape[k], 1) for k in range(dim)) + (slice(start, stop, 1),)
    g = fn.apply("getitem", ct, index=index)
    return g if g.dtype is xs[i].dtype else fn.cast(g, xs[i].dtype)


register(
    Op(
        "cat",
        _cat_infer,
        lambda *arrays, dim: np.concatenate(arrays, axis=dim),
        (_cat_vjp,),
        "shape",
        variadic=True,
        doc="join tensors along an existing dim",
    )
)


def _full_infer(*, shape, value, dtype) -> TensorType:
    if any(isinstance(d, int) and d < 0 for d in shape):
        raise ShapeError(f"negative dimension in {shape_str(shape)}")
    return TensorType(dtype, shape)


def _full_impl(*, shape, value, dtype):
    return np.full(shape, value, dtype=dtype.np)


register(Op("full", _full_infer, _full_impl, (), "const", doc="a tensor filled with one value"))


def _constant_infer(*, value) -> TensorType:
    return TensorType(dtypes.as_dtype(value.dtype), value.shape)


register(
    Op(
        "constant",
        _constant_infer,
        lambda *, value: value,
        (),
        "const",
        doc="a captured array (a tensor from outside the traced function)",
    )
)
