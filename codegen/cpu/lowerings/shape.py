"""Ops that move elements: reshape, expand, permute, flip, getitem (+ backward), cat, full,
constant.

Layout convention: every array is row-major and contiguous, so a view op writes a copy
(``reshape`` of a contiguous array is free in numba and stays a view).
"""

from __future__ import annotations

import math

import sympy

from codegen.cpu.lowerings import lowering
from codegen.cpu.writer import Writer
from codegen.exprs import int_code, scalar_code


@lowering("reshape")
def _reshape(w, node, ins, out):
    w.assign(out, f"np.ascontiguousarray({ins[0]}).reshape({w.shape(node.out)})")


@lowering("stop_gradient")
def _stop_gradient(w, node, ins, out):
    w.assign(out, ins[0])  # the identity: only differentiation treats it specially


@lowering("no_grad_write")
def _no_grad_write(w, node, ins, out):
    w.assign(out, ins[1])  # the new value: only differentiation reads the old one


@lowering("expand")
def _expand(w, node, ins, out):
    shape = node.out.type.shape
    w.empty(out, node.out)
    with w.loops([w.dim(d) for d in shape]) as idx:
        src = w.broadcast_index(node.inputs[0].type.shape, shape, idx)
        w.line(f"{out}{w.index(idx)} = {ins[0]}{w.index(src)}")


@lowering("permute")
def _permute(w, node, ins, out):
    dims = node.attrs["dims"]
    w.empty(out, node.out)
    with w.loops([w.dim(d) for d in node.out.type.shape]) as idx:
        src = [idx[dims.index(k)] for k in range(len(dims))]
        w.line(f"{out}{w.index(idx)} = {ins[0]}{w.index(src)}")


@lowering("flip")
def _flip(w, node, ins, out):
    shape, dims = node.out.type.shape, node.attrs["dims"]
    w.empty(out, node.out)
    with w.loops([w.dim(d) for d in shape]) as idx:
        src = [f"{w.dim(shape[k])} - 1 - {i}" if k in dims else i for k, i in enumerate(idx)]
        w.line(f"{out}{w.index(idx)} = {ins[0]}{w.index(src)}")


def _gather_index(index, ndim_in: int, idx: list[str]) -> list[str]:
    """Input indices for the output position ``idx`` of ``x[index]`` (ints, slices, None)."""
    src, k = [], 0
    for item in index:
        if item is None:
            k += 1
        elif isinstance(item, slice):
            step = int_code(item.step if item.step is not None else 1)
            src.append(f"{int_code(item.start)} + {step} * {idx[k]}")
            k += 1
        else:
            src.append(int_code(item))
    src.extend(idx[k:])
    return src


@lowering("getitem")
def _getitem(w, node, ins, out):
    w.empty(out, node.out)
    with w.loops([w.dim(d) for d in node.out.type.shape]) as idx:
        src = _gather_index(node.attrs["index"], node.inputs[0].type.ndim, idx)
        w.line(f"{out}{w.index(idx)} = {ins[0]}{w.index(src)}")


@lowering("getitem_backward")
def _getitem_backward(w, node, ins, out):
    w.zeros(out, node.out)
    with w.loops([w.dim(d) for d in node.inputs[0].type.shape]) as idx:
        dst = _gather_index(node.attrs["index"], node.out.type.ndim, idx)
        w.line(f"{out}{w.index(dst)} = {ins[0]}{w.index(idx)}")


@lowering("cat")
def _cat(w, node, ins, out):
    dim = node.attrs["dim"]
    dt = node.out.type.dtype.name
    w.empty(out, node.out)
    off = w.fresh("off")
    w.line(f"{off} = 0")
    for a, v in zip(ins, node.inputs):
        with w.loops([w.dim(d) for d in v.type.shape]) as idx:
            dst = list(idx)
            dst[dim] = f"{off} + {idx[dim]}"
            w.line(f"{out}{w.index(dst)} = {w.convert(a + w.index(idx), dt)}")
        w.line(f"{off} += {a}.shape[{dim}]")


def _literal(value, dtype: str) -> str:
    """A fill value as code; a symbolic one (``1/N`` in a mean's gradient) is computed from the
    bound dims in float64 and converted, as the interpreter substitutes then casts."""
    if isinstance(value, sympy.Basic) and value.free_symbols:
        return Writer.convert(scalar_code(value), dtype)
    if dtype == "bool":
        return repr(bool(value))
    if dtype == "int64":
        return repr(int(value))
    v = float(value)
    if math.isnan(v):
        return "np.nan"
    if math.isinf(v):
        return "np.inf" if v > 0 else "-np.inf"
    return repr(v)


@lowering("full")
def _full(w, node, ins, out):
    w.empty(out, node.out)
    w.line(f"{out}[...] = {_literal(node.attrs['value'], node.out.type.dtype.name)}")


@lowering("copy_slices")
def _copy_slices(w, node, ins, out):
    """``base`` with the elements of the view ``path`` selects replaced by ``src``: as the op's
    impl does, the view ops run (through their own lowerings) on an array of flat positions,
    then ``src`` is scattered to the positions they select, cast to ``base``'s dtype."""
    from types import SimpleNamespace

    from codegen.cpu.lowerings import LOWERINGS
    from gradc import dtypes
    from gradc.ops import OPS
    from gradc.shapes import TensorType

    base, src = node.inputs
    t, pos = TensorType(dtypes.int64, base.type.shape), w.fresh("pos")
    size = " * ".join(w.dim(d) for d in t.shape) or "1"
    w.line(f"{pos} = np.arange({size}).reshape({w.shape(base)})")
    for name, attrs in node.attrs["path"]:
        attrs = dict(attrs)
        vt = OPS[name].infer(t, **attrs)
        typed = SimpleNamespace
        view = typed(op=OPS[name], attrs=attrs, inputs=[typed(type=t)], out=typed(type=vt))
        nxt = w.fresh("pos")
        LOWERINGS[name](w, view, [pos], nxt)
        t, pos = vt, nxt
    flat = w.fresh("flat")
    w.copy(out, node.out, ins[0])
    w.line(f"{flat} = {out}.reshape(-1)")
    with w.loops([w.dim(d) for d in t.shape]) as idx:
        value = w.convert(ins[1] + w.index(idx), node.out.type.dtype.name)
        w.line(f"{flat}[{pos}{w.index(idx)}] = {value}")
