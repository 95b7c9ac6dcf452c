"""Constant folding: nodes whose inputs are all constants become ``constant``/``full`` nodes.

Folded values are computed with the op's own ``impl`` (the reference semantics), so folding is
exact. Uniform results become ``full`` (a scalar the code generator inlines, and that the
pointwise simplifier can substitute); others become ``constant`` up to ``FOLD_LIMIT`` elements.
Shape ops of a ``full`` are a ``full`` of the new shape, even when that shape is symbolic.
"""

from __future__ import annotations

import numpy as np

from gradc.ir.graph import Graph
from gradc.ir.interpret import run_node
from gradc.ops.table import get_op
from gradc.passes.dce import dce
from gradc.passes.rewrite import Rewriter
from gradc.shapes import TensorType, is_static, is_symbolic, prod

FOLD_LIMIT = 1 << 16  # elements; larger results stay computed at run time


def evaluate(node, arrays) -> np.ndarray:
    """Run one node exactly as the interpreter (and eager mode) does."""
    return run_node(node, arrays, {})


def scalar_of(node):
    """The one value a ``full`` node (or a uniform size-1 ``constant``) holds, else None."""
    if node is None:
        return None
    if node.op.name == "full" and not is_symbolic(node.attrs["value"]):
        return np.asarray(node.attrs["value"], dtype=node.out.type.dtype.np).item()
    if node.op.name == "constant" and node.attrs["value"].size == 1:
        return node.attrs["value"].reshape(-1)[0].item()
    return None


def _const_array(node):
    if node is None or node.op.kind != "const" or not is_static(node.out.type.shape):
        return None
    if is_symbolic(node.attrs) or prod(node.out.type.shape) > FOLD_LIMIT:
        return None
    return evaluate(node, [])


def _uniform(a: np.ndarray):
    flat = a.reshape(-1)
    if flat.size and flat[:1].tobytes() * flat.size == flat.tobytes():
        return flat[0].item()
    return None


def _emit_value(rw, node, value) -> None:
    t: TensorType = node.out.type
    u = _uniform(value) if value.size else None
    if u is not None:
        attrs = {"shape": t.shape, "value": u, "dtype": t.dtype}
        rw.alias(node.out, rw.emit(get_op("full"), [], attrs, t, node.loc, node.rule))
    else:
        rw.alias(
            node.out, rw.emit(get_op("constant"), [], {"value": value}, t, node.loc, node.rule)
        )


def fold(graph: Graph) -> Graph:
    """A new graph with constant subexpressions evaluated (``FOLD_LIMIT`` bounds their size)
    and the constants they used dropped if nothing else reads them."""
    rw = Rewriter(graph)
    for node in rw.walk():
        srcs = [rw[v].node for v in node.inputs]
        t = node.out.type
        if node.op.kind == "const" or not srcs:
            rw.copy(node)
            continue
        # a pointwise op or a view of fulls is a full, whatever (symbolic) shape it has
        scalars = [scalar_of(s) for s in srcs]
        uniform_ok = node.op.kind == "pointwise" or node.op.view
        if uniform_ok and all(s is not None for s in scalars) and not is_symbolic(node.attrs):
            arrays = [np.asarray(s, dtype=v.type.dtype.np) for s, v in zip(scalars, node.inputs)]
            if node.op.view:
                value = arrays[0].astype(t.dtype.np).item()
            else:
                value = node.op.run(arrays, node.attrs, t.dtype.np, ()).item()
            attrs = {"shape": t.shape, "value": value, "dtype": t.dtype}
            rw.alias(node.out, rw.emit(get_op("full"), [], attrs, t, node.loc, node.rule))
            continue
        arrays = [_const_array(s) for s in srcs]
        if (
            all(a is not None for a in arrays)
            and is_static(t.shape)
            and prod(t.shape) <= FOLD_LIMIT
            and not is_symbolic(node.attrs)
        ):
            _emit_value(rw, node, evaluate(node, arrays))
            continue
        rw.copy(node)
    return dce(rw.finish())
