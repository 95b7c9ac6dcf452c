"""``max_pool2d(x)`` read off its argmax: when the graph also computes
``max_pool2d_indices(x)`` with the same window (a training step keeps the argmax for backward),
the pooled values become ``max_pool2d_gather(x, indices)``, so the windows are scanned once.

Only without padding: there every window's taps lie inside ``x`` and the gather returns exactly
the max (a NaN where a window has one, -inf for a window of -infs), as ``max_pool2d`` does.
"""

from __future__ import annotations

from gradc.ir.graph import Graph
from gradc.ops.table import get_op
from gradc.passes.rewrite import Rewriter


def _key(node) -> tuple:
    return id(node.inputs[0]), tuple(sorted((k, repr(v)) for k, v in node.attrs.items()))


def share_pool_indices(graph: Graph) -> Graph:
    indices = {
        _key(n): n for n in graph.nodes if n.op.name == "max_pool2d_indices"
    }  # the first of each window: cse has merged the rest
    if not indices:
        return graph
    rw = Rewriter(graph)
    gather = get_op("max_pool2d_gather")
    index_nodes = list(indices.values())
    for node in rw.walk():
        idx = indices.get(_key(node)) if node.op.name == "max_pool2d" else None
        if idx is None or any(node.attrs.get("padding", (0, 0))):
            if node not in index_nodes or id(node.out) not in rw.map:
                rw.copy(node)
            continue
        x = rw[node.inputs[0]]
        if id(idx.out) not in rw.map:  # computed here, ahead of its place in the graph
            rw.map[id(idx.out)] = rw.emit(idx.op, [x], idx.attrs, idx.out.type, idx.loc, idx.rule)
        v = rw.emit(gather, [x, rw[idx.out]], node.attrs, node.out.type, node.loc, node.rule)
        rw.alias(node.out, v)
    return rw.finish()
