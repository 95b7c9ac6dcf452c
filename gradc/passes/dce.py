"""Dead-code elimination: drop nodes whose results no output depends on (ops have no effects)."""

from __future__ import annotations

from gradc.ir.graph import Graph
from gradc.passes.rewrite import Rewriter


def dce(graph: Graph) -> Graph:
    """A new graph without the nodes that no output reaches; inputs are kept (the signature)."""
    live = {id(v) for v in graph.outputs}
    for node in reversed(graph.nodes):
        if id(node.out) in live:
            live.update(id(v) for v in node.inputs)
    rw = Rewriter(graph)
    for node in rw.walk():
        if id(node.out) in live:
            rw.copy(node)
    return rw.finish()
