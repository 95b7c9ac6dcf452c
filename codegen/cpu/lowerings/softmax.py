"""softmax and log_softmax along one dim: per row, its max (NaN-propagating), the sum of
``exp(x - max)`` in float64, then the row written out."""

from __future__ import annotations

from codegen.cpu.lowerings import lowering


@lowering("softmax", "log_softmax")
def _softmax(w, node, ins, out):
    (a,) = ins
    x = node.inputs[0]
    dim, dt, log = node.attrs["dim"], node.out.type.dtype.name, node.op.name == "log_softmax"
    w.empty(out, node.out)
    scalar = x.type.ndim == 0
    outer = [] if scalar else [w.dim(d) for k, d in enumerate(x.type.shape) if k != dim]
    n = "1" if scalar else w.dim(x.type.shape[dim])
    with w.loops(outer) as idx:
        m, s, t, v = w.fresh("m"), w.fresh("s"), w.fresh("t"), w.fresh("v")
        at = w.index([] if scalar else idx[:dim] + [t] + idx[dim:])  # each row loop runs t
        x_at, o_at = a + at, out + at
        w.line(f"{m} = {w.convert('-np.inf', dt)}")
        with w.block(f"for {t} in range({n}):"):
            w.line(f"{v} = {x_at}")
            with w.block(f"if {v} > {m} or {v} != {v}:"):  # a NaN stays the max
                w.line(f"{m} = {v}")
        w.line(f"{s} = 0.0")
        with w.block(f"for {t} in range({n}):"):
            if log:
                w.line(f"{s} += np.exp(np.float64({x_at} - {m}))")
            else:
                w.line(f"{v} = np.exp({x_at} - {m})")
                w.line(f"{o_at} = {v}")
                w.line(f"{s} += np.float64({v})")
        if log:
            w.line(f"{s} = {w.convert(f'np.log({s})', dt)}")
        with w.block(f"for {t} in range({n}):"):
            value = f"{x_at} - {m} - {s}" if log else w.convert(f"{o_at} / {s}", dt)
            w.line(f"{o_at} = {value}")
