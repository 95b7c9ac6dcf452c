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


REDUCE_OPS = ("sum", "prod", "amax", "amin")


@lowering(*REDUCE_OPS)
def _reduce(w, node, ins, out):
    (a,) = ins
    emit_reduce(w, node, out, lambda idx: f"{a}{w.index(idx)}")


def emit_reduce(w, node, out, value_at) -> None:
    """``out = op(x, dim, keepdim)`` where ``value_at(idx)`` emits the statements of the element
    of ``x`` at ``idx`` and returns its code (a load, or a fused pointwise body).

    When the innermost dim is reduced, the kept dims loop outside and a register accumulates
    the reduced ones (no store per element), or a row of lanes along the innermost dim where
    more dims are reduced (``_lanes``); otherwise the loops run in memory order and add
    into the kept row, which vectorises. float sums and products accumulate in float64."""
    x = node.inputs[0]
    op, dt = node.op.name, node.out.type.dtype.name
    dims, keep = set(node.attrs["dim"]), node.attrs.get("keepdim", False)
    shape = [w.dim(d) for d in x.type.shape]
    r = len(shape)
    acc_dt = "float64" if op in ("sum", "prod") and dt in ("float32", "float64") else dt
    w.empty(out, node.out)

    def out_index(idx):
        return [("0" if keep else None) if k in dims else i for k, i in enumerate(idx)]

    def target(idx):
        return out + w.index([i for i in out_index(idx) if i is not None])

    init = w.convert(_init(op, dt), acc_dt) if acc_dt != "bool" else _init(op, dt)
    if r == 0 or (r - 1) in dims:  # scalar accumulator over the reduced dims
        kept = [k for k in range(r) if k not in dims]
        red = [k for k in range(r) if k in dims]
        idx = [None] * r
        depth = w.depth
        for k in kept:
            idx[k] = w.fresh("i")
            w.line(f"for {idx[k]} in range({shape[k]}):")
            w.depth += 1
        acc = w.fresh("acc")
        lanes = _lanes(w, op, acc_dt, red, x.type.shape)
        if lanes is not None:
            lane = w.fresh("l")
            with w.block(f"for {lane} in range({shape[-1]}):"):
                w.line(f"{lanes}[{lane}] = {init}")
        else:
            w.line(f"{acc} = {init}")
        inner = w.depth
        for k in red:
            idx[k] = w.fresh("i")
            w.line(f"for {idx[k]} in range({shape[k]}):")
            w.depth += 1
        _combine(w, op, acc if lanes is None else f"{lanes}[{idx[-1]}]", value_at(idx), acc_dt)
        w.depth = inner
        if lanes is not None:  # the lanes summed in order
            w.line(f"{acc} = {init}")
            with w.block(f"for {lane} in range({shape[-1]}):"):
                _combine(w, op, acc, f"{lanes}[{lane}]", acc_dt)
        w.line(f"{target(idx)} = {w.convert(acc, dt) if acc_dt != dt else acc}")
        w.depth = depth
        return
    buf = out
    if acc_dt != dt:  # a float64 row to add into, converted once at the end
        buf = w.fresh("accrow")
        w.buffer(buf, node.out.type.shape, "float64")
        w.line(f"{buf}[...] = {1 if op == 'prod' else 0}")
    else:
        w.line(f"{out}[...] = {init}")
    with w.loops(shape) as idx:
        o = buf + w.index([i for i in out_index(idx) if i is not None])
        _combine(w, op, o, value_at(idx), acc_dt)
    if buf != out:  # element by element: numba takes seconds to compile an array assignment
        with w.loops([w.dim(d) for d in node.out.type.shape]) as idx:
            at = w.index(idx)
            w.line(f"{out}{at} = {w.convert(buf + at, dt)}")


def _lanes(w, op: str, acc_dt: str, red: list, shape) -> str | None:
    """A float64 row that sums (or multiplies) along the innermost dim, one lane per position,
    when other dims are reduced too: a single accumulator is one dependent chain of adds (a
    bias gradient over N*28*28 values: 3x slower than lanes the loop vectorises over)."""
    last = shape[-1]
    if op not in ("sum", "prod") or acc_dt != "float64" or len(red) < 2:
        return None
    if not (getattr(last, "is_Integer", False) or isinstance(last, int)) or not 4 <= last <= 4096:
        return None
    lanes = w.fresh("lanes")
    w.buffer(lanes, (last,), "float64")
    return lanes


def _combine(w, op: str, acc: str, code: str, acc_dt: str) -> None:
    v = w.fresh("v")
    w.line(f"{v} = {code}")
    if acc_dt == "bool" and op in ("sum", "prod"):
        w.line(f"{acc} = {acc} {'or' if op == 'sum' else 'and'} ({v} != 0)")
    elif op == "sum":
        w.line(f"{acc} = {acc} + {w.convert(v, acc_dt)}")
    elif op == "prod":
        w.line(f"{acc} = {acc} * {w.convert(v, acc_dt)}")
    else:
        cmp = ">" if op == "amax" else "<"
        with w.block(f"if {v} {cmp} {acc} or {v} != {v}:"):
            w.line(f"{acc} = {v}")


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
