"""cumsum: a running sum along one dim (from the end with ``reverse``), accumulated in the result
dtype in order, as numpy's; var: two passes in float64."""

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
        n = w.dim(x.type.shape[dim])
        order = f"range({n} - 1, -1, -1)" if node.attrs.get("reverse") else f"range({n})"
        with w.block(f"for {t} in {order}:"):
            at = w.index(idx[:dim] + [t] + idx[dim:])
            w.line(f"{acc} = {acc} + {w.convert(a + at, dt)}")
            w.line(f"{out}{at} = {acc}")


@lowering("var")
def _var(w, node, ins, out):
    """Two passes in memory order, both accumulated in float64: the mean of each kept row,
    then the squared deviations from it, divided by max(N - correction, 0)."""
    (a,) = ins
    x = node.inputs[0]
    dim, keep = node.attrs["dim"], node.attrs.get("keepdim", False)
    dims = set(range(x.type.ndim) if dim is None else dim)
    shape = [w.dim(d) for d in x.type.shape]
    kept = ["1" if k in dims else s for k, s in enumerate(shape)]
    rows = [1 if k in dims else s for k, s in enumerate(x.type.shape)]
    n, mean, sq, d = w.fresh("n"), w.fresh("mean"), w.fresh("sq"), w.fresh("d")
    w.line(f"{n} = " + " * ".join(["1"] + [shape[k] for k in sorted(dims)]))
    for acc in (mean, sq):  # scratch: the program's workspace holds them
        w.buffer(acc, rows, "float64")
        w.line(f"{acc}[...] = 0")

    def row(idx):
        return w.index(["0" if k in dims else i for k, i in enumerate(idx)])

    with w.loops(shape) as idx:
        w.line(f"{mean}{row(idx)} += {w.convert(a + w.index(idx), 'float64')}")
    with w.loops(kept) as idx:
        w.line(f"{mean}{w.index(idx)} = {mean}{w.index(idx)} / np.float64({n})")
    with w.loops(shape) as idx:
        t = w.fresh("t")
        w.line(f"{t} = {w.convert(a + w.index(idx), 'float64')} - {mean}{row(idx)}")
        w.line(f"{sq}{row(idx)} += {t} * {t}")
    w.line(f"{d} = np.float64(max({n} - {node.attrs.get('correction', 1)}, 0))")
    w.empty(out, node.out)
    dt = node.out.type.dtype.name
    with w.loops(kept) as idx:
        at = [i for k, i in enumerate(idx) if keep or k not in dims]
        w.line(f"{out}{w.index(at)} = {w.convert(f'{sq}{w.index(idx)} / {d}', dt)}")
