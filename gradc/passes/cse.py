"""Common-subexpression elimination: one node per distinct ``(op, inputs, attrs)``.

Attrs hold tuples, ``slice`` objects (unhashable before Python 3.12), sympy expressions, dtypes
and numpy arrays (``constant``), so keys are built by ``attr_key``, which also keeps apart values
Python calls equal but that mean different things (``1`` vs ``1.0`` vs ``True``, ``0.0`` vs
``-0.0``).
"""

from __future__ import annotations

import numpy as np
import sympy

from gradc.ir.graph import Graph
from gradc.passes.rewrite import Rewriter


def attr_key(a):
    """A hashable key equal for attrs that mean the same thing, and only for those."""
    if isinstance(a, np.ndarray):
        return ("ndarray", a.dtype.str, a.shape, np.ascontiguousarray(a).tobytes())
    if isinstance(a, (bool, np.bool_)):
        return ("bool", bool(a))
    if isinstance(a, (int, np.integer)):
        return ("int", int(a))
    if isinstance(a, (float, np.floating)):
        return ("float", float(a).hex())
    if isinstance(a, slice):
        return ("slice", attr_key(a.start), attr_key(a.stop), attr_key(a.step))
    if isinstance(a, (tuple, list)):
        return (type(a).__name__, *(attr_key(x) for x in a))
    if isinstance(a, dict):
        return ("dict", *sorted((k, attr_key(v)) for k, v in a.items()))
    if isinstance(a, sympy.Basic):
        return ("sympy", sympy.srepr(a))
    if a is None or isinstance(a, str):
        return a
    try:
        hash(a)
    except TypeError:
        return ("id", id(a))  # unknown and unhashable: equal only to itself
    return (type(a).__qualname__, a)


def node_key(node, inputs) -> tuple:
    return (node.op.name, tuple(id(v) for v in inputs), attr_key(node.attrs))


def cse(graph: Graph) -> Graph:
    """A new graph in which identical nodes (after their inputs were merged) appear once."""
    rw = Rewriter(graph)
    seen: dict[tuple, object] = {}
    for node in rw.walk():
        if not node.op.pure:  # two draws of rand are two different values
            rw.copy(node)
            continue
        inputs = [rw[v] for v in node.inputs]
        key = node_key(node, inputs)
        if key in seen:
            rw.alias(node.out, seen[key])
        else:
            seen[key] = rw.copy(node)
    return rw.finish()
