"""cumsum: a running sum along one dim, accumulated in the result dtype in order, as numpy's."""

from __future__ import annotations

from codegen.cpu.lowerings import lowering


@lowering("cumsum")
def _cumsum(w, node, ins, out):
    (a,) = ins
    x = node.inputs[0]
    dim, dt = node.attrs["dim"], node.out.type.dtype.name
    w.empty(out, node.out)
    if x.type.ndim == 0:
        w.line(f"{out}[()] = {w.convert(a + '[()]', dt)}")
        return
    outer = [d for k, d in enumerate(x.type.shape) if k != dim]
    with w.loops([w.dim(d) for d in outer]) as idx:
        acc, t = w.fresh("acc"), w.fresh("t")
        w.line(f"{acc} = {w.convert('0', dt)}")
        with w.block(f"for {t} in range({w.dim(x.type.shape[dim])}):"):
            at = w.index(idx[:dim] + [t] + idx[dim:])
            w.line(f"{acc} = {acc} + {w.convert(a + at, dt)}")
            w.line(f"{out}{at} = {acc}")
