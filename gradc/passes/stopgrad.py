"""Drop ``stop_gradient``: it is the identity once no more differentiation can happen.

The pass pipeline runs last, before code generation, so it replaces each ``stop_gradient`` by
its input, and each ``no_grad_write(old, new)`` by ``new``; graphs that may still be
differentiated keep theirs.
"""

from __future__ import annotations

from gradc.ir.graph import Graph
from gradc.passes.rewrite import Rewriter


def strip_stop_gradient(graph: Graph) -> Graph:
    rw = Rewriter(graph)
    for node in rw.walk():
        if node.op.name == "stop_gradient":
            rw.alias(node.out, rw[node.inputs[0]])
        elif node.op.name == "no_grad_write":
            rw.alias(node.out, rw[node.inputs[1]])
        else:
            rw.copy(node)
    return rw.finish()
