"""sum, prod, amax, amin (NaN propagates, as numpy's); argmax, argmin (first extreme or NaN)."""

from __future__ import annotations

from codegen.cpu.lowerings import lowering

_INT_LIMITS = {"amax": "-9223372036854775808", "amin": "9223372036854775807"}


def _init(op: str, dtype: str) -> str:
    if op == "sum":
        return "False" if dtype == "bool" else "0"
    if op == "prod":
        return "1"
    if dtype == "bool":
        return "False" if op == "amax" else "True"
    if dtype == "int64":
        return _INT_LIMITS[op]
    return "-np.inf" if op == "amax" else "np.inf"


@lowering("sum", "prod", "amax", "amin")
def _reduce(w, node, ins, out):
    (a,) = ins
    x = node.inputs[0]
    dims, keep = node.attrs["dim"], node.attrs.get("keepdim", False)
    dt = node.out.type.dtype.name
    w.empty(out, node.out)
    w.line(f"{out}[...] = {_init(node.op.name, dt)}")
    with w.loops([w.dim(d) for d in x.type.shape]) as idx:
        oidx = [("0" if keep else None) if k in dims else i for k, i in enumerate(idx)]
        o = out + w.index([i for i in oidx if i is not None])
        v = w.fresh("v")
        w.line(f"{v} = {a}{w.index(idx)}")
        if node.op.name == "sum":
            w.line(f"{o} = {o} + {w.convert(v, dt)}")
        elif node.op.name == "prod":
            w.line(f"{o} = {o} * {w.convert(v, dt)}")
        else:
            cmp = ">" if node.op.name == "amax" else "<"
            with w.block(f"if {v} {cmp} {o} or {v} != {v}:"):
                w.line(f"{o} = {v}")


@lowering("argmax", "argmin")
def _arg(w, node, ins, out):
    (a,) = ins
    x = node.inputs[0]
    dim, keep = node.attrs.get("dim"), node.attrs.get("keepdim", False)
    cmp = ">" if node.op.name == "argmax" else "<"
    w.empty(out, node.out)
    if dim is None:  # over the flattened tensor, C order
        best, bi, k = w.fresh("best"), w.fresh("bi"), w.fresh("k")
        w.line(f"{bi} = 0")
        w.line(f"{k} = 0")
        w.line(f"{best} = {a}.ravel()[0]" if x.type.ndim else f"{best} = {a}[()]")
        with w.loops([w.dim(d) for d in x.type.shape]) as idx:
            v = w.fresh("v")
            w.line(f"{v} = {a}{w.index(idx)}")
            with w.block(f"if {best} == {best} and ({v} {cmp} {best} or {v} != {v}):"):
                w.line(f"{best} = {v}")
                w.line(f"{bi} = {k}")
            w.line(f"{k} += 1")
        w.line(f"{out}{w.index(['0'] * node.out.type.ndim)} = {bi}")
        return
    outer = [d for k, d in enumerate(x.type.shape) if k != dim]
    with w.loops([w.dim(d) for d in outer]) as idx:
        full = list(idx)
        best, bi, t = w.fresh("best"), w.fresh("bi"), w.fresh("t")
        w.line(f"{best} = {a}{w.index(full[:dim] + ['0'] + full[dim:])}")
        w.line(f"{bi} = 0")
        with w.block(f"for {t} in range(1, {w.dim(x.type.shape[dim])}):"):
            v = w.fresh("v")
            w.line(f"{v} = {a}{w.index(full[:dim] + [t] + full[dim:])}")
            with w.block(f"if {best} == {best} and ({v} {cmp} {best} or {v} != {v}):"):
                w.line(f"{best} = {v}")
                w.line(f"{bi} = {t}")
        oidx = full[:dim] + ["0"] + full[dim:] if keep else full
        w.line(f"{out}{w.index(oidx)} = {bi}")
