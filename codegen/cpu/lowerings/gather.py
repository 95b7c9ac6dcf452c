"""gather, scatter_add (loops over the index's shape, each index range-checked: torch's never
wrap) and argsort (numba's stable mergesort per lane, nan last as numpy's)."""

from __future__ import annotations

from codegen.cpu.lowerings import lowering


def _position(w, node, x, ind, at):
    """The coordinates in ``x`` (an input value) that index entry ``at`` selects."""
    dim, t = node.attrs["dim"], x.type
    size = w.dim(t.shape[dim]) if t.ndim else "1"
    r = w.fresh("r")
    w.line(f"{r} = np.int64({ind}{w.index(at)})")
    with w.block(f"if {r} < 0 or {r} >= {size}:"):
        w.line(f'raise IndexError("{node.op.name}: index out of bounds for dimension {dim}")')
    if t.ndim == 0:
        return []
    if len(at) == 0:  # a 0-d index into a 1-d tensor
        return [r]
    return [r if k == dim else i for k, i in enumerate(at)]


@lowering("gather")
def _gather(w, node, ins, out):
    x, ind = ins
    w.empty(out, node.out)
    with w.loops([w.dim(d) for d in node.inputs[1].type.shape]) as at:
        pos = _position(w, node, node.inputs[0], ind, at)
        w.line(f"{out}{w.index(at)} = {x}{w.index(pos)}")


@lowering("scatter_add")
def _scatter_add(w, node, ins, out):
    base, ind, src = ins
    w.copy(out, node.out, base)
    with w.loops([w.dim(d) for d in node.inputs[1].type.shape]) as at:
        pos = _position(w, node, node.inputs[0], ind, at)
        w.line(f"{out}{w.index(pos)} += {src}{w.index(at)}")


@lowering("argsort")
def _argsort(w, node, ins, out):
    (a,) = ins
    x = node.inputs[0]
    dim, down = node.attrs["dim"], node.attrs["descending"]
    w.empty(out, node.out)
    if x.type.ndim == 0:
        w.line(f"{out}[()] = 0")
        return
    n = w.dim(x.type.shape[dim])
    outer = [d for k, d in enumerate(x.type.shape) if k != dim]
    lane = w.fresh("lane")
    w.buffer(lane, (x.type.shape[dim],), x.type.dtype.name)
    with w.loops([w.dim(d) for d in outer]) as idx:
        order, t = w.fresh("order"), w.fresh("t")
        with w.block(f"for {t} in range({n}):"):  # descending: sort the reversed lane
            src = f"{n} - 1 - {t}" if down else t
            w.line(f"{lane}[{t}] = {a}{w.index(idx[:dim] + [src] + idx[dim:])}")
        w.line(f"{order} = np.argsort({lane}, kind='mergesort')")
        with w.block(f"for {t} in range({n}):"):
            at = w.index(idx[:dim] + [t] + idx[dim:])
            value = f"{n} - 1 - {order}[{n} - 1 - {t}]" if down else f"{order}[{t}]"
            w.line(f"{out}{at} = {value}")
