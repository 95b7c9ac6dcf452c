"""``embedding`` (rows of a table at integer indices) and ``embedding_backward`` (gradient rows
summed into a zero table at their indices, duplicates accumulating; ``padding_idx``'s row zeroed).

Indices wrap from the end as numpy's do (``-1`` is the last row); one outside ``[-V, V)``
raises ``IndexError``, where the interpreter raises ``IndexRangeError``.
"""

from __future__ import annotations

from codegen.cpu.lowerings import lowering


def _row(w, ind, at, rows):
    """Emit the table row of index ``ind[at]`` in a table of ``rows`` rows; returns its name."""
    r = w.fresh("r")
    w.line(f"{r} = np.int64({ind}{w.index(at)})")
    with w.block(f"if {r} < 0:"):
        w.line(f"{r} += {rows}")
    with w.block(f"if {r} < 0 or {r} >= {rows}:"):
        w.line('raise IndexError("embedding: index out of range of the table")')
    return r


@lowering("embedding")
def _embedding(w, node, ins, out):
    weight, ind = ins
    w.empty(out, node.out)
    with w.loops([w.dim(d) for d in node.inputs[1].type.shape]) as at:
        r = _row(w, ind, at, f"{weight}.shape[0]")
        with w.loops([f"{weight}.shape[1]"], "d") as (d,):
            w.line(f"{out}{w.index([*at, d])} = {weight}[{r}, {d}]")


@lowering("embedding_backward")
def _embedding_backward(w, node, ins, out):
    ct, ind = ins
    w.zeros(out, node.out)
    with w.loops([w.dim(d) for d in node.inputs[1].type.shape]) as at:
        r = _row(w, ind, at, f"{out}.shape[0]")
        with w.loops([f"{out}.shape[1]"], "d") as (d,):
            w.line(f"{out}[{r}, {d}] += {ct}{w.index([*at, d])}")
    p = node.attrs.get("padding_idx")
    if p is not None:
        w.line(f"{out}[{int(p)}, :] = 0  # padding_idx: that row gets no gradient")
