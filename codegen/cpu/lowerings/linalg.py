"""Batched matmul: float dtypes through ``np.dot`` (BLAS) per batch entry, others as loops."""

from __future__ import annotations

from codegen.cpu.lowerings import lowering


@lowering("matmul")
def _matmul(w, node, ins, out):
    a, b = ins
    ta, tb, to = node.inputs[0].type, node.inputs[1].type, node.out.type
    batch = to.shape[:-2]
    if not batch and to.dtype.is_floating_point:  # BLAS straight into a new array
        w.dot(out, a, b)
        return
    w.empty(out, node.out)
    with w.loops([w.dim(d) for d in batch], "b") as idx:
        ia = w.broadcast_index(ta.shape[:-2], batch, idx)
        ib = w.broadcast_index(tb.shape[:-2], batch, idx)
        pa = ", ".join([*ia, ":", ":"])
        pb = ", ".join([*ib, ":", ":"])
        po = ", ".join([*idx, ":", ":"])
        if to.dtype.is_floating_point:
            w.line(
                f"{out}[{po}] = np.dot(np.ascontiguousarray({a}[{pa}]), "
                f"np.ascontiguousarray({b}[{pb}]))"
            )
            return
        m, n, k = w.dim(ta.shape[-2]), w.dim(tb.shape[-1]), w.dim(ta.shape[-1])
        with w.loops([m, n], "m") as (i, j):
            acc, t = w.fresh("acc"), w.fresh("t")
            w.line(f"{acc} = 0")
            with w.block(f"for {t} in range({k}):"):
                w.line(f"{acc} += {a}[{', '.join([*ia, i, t])}] * {b}[{', '.join([*ib, t, j])}]")
            w.line(f"{out}[{', '.join([*idx, i, j])}] = {acc}")
