"""The verifier: a graph is well formed (SSA, topological order, types agree with ``infer``).

Every pass's output goes through ``verify`` in the tests, so a pass that breaks the IR fails
where it broke it, not three stages later in generated code.
"""

from __future__ import annotations

import sympy

from gradc import dtypes
from gradc.errors import GradcError
from gradc.ir.graph import INPUT_ROLES, OUTPUT_ROLES
from gradc.ops.table import OPS, Op
from gradc.shapes import TensorType


class VerifyError(GradcError, ValueError):
    """A malformed graph: the message names the graph, the node and what is wrong."""


def _check_type(t, what: str) -> str | None:
    if not isinstance(t, TensorType):
        return f"{what} has type {t!r}, expected a TensorType"
    if t.dtype not in dtypes.ALL:
        return f"{what} has an unknown dtype {t.dtype!r}"
    if not isinstance(t.shape, tuple):
        return f"{what} has a shape {t.shape!r} that is not a tuple"
    for d in t.shape:
        if isinstance(d, bool) or not isinstance(d, (int, sympy.Expr)):
            return f"{what} has a dimension {d!r} that is neither an int nor a sympy expression"
        if isinstance(d, int) and d < 0:
            return f"{what} has a negative dimension {d}"
        if isinstance(d, sympy.Expr) and not d.free_symbols:
            return f"{what} has a constant sympy dimension {d!r}; dims must be canonical ints"
    return None


def _where(node) -> str:
    return f"{node.out.name if node.out is not None else '?'} = {node.op.name}(...)" + (
        f"  # {node.loc}" if node.loc else ""
    )


def verify(graph) -> object:
    """Check ``graph`` and return it; raise ``VerifyError`` naming the first problem found.

    Checks: inputs are named, typed and unique; each node's op is the registered one; every
    node input is defined earlier in the same graph (SSA in topological order); no value is
    defined twice; each node's type equals ``op.infer`` on its input types and attrs; every
    output is defined.
    """
    name = getattr(graph, "name", "?")

    def fail(msg: str):
        raise VerifyError(f"graph {name}: {msg}")

    defined: set[int] = set()
    names: set[str] = set()
    for v in graph.inputs:
        what = f"input {getattr(v, 'name', v)!r}"
        if v.graph is not graph:
            fail(f"{what} belongs to another graph")
        if v.node is not None:
            fail(f"{what} is the result of a node; inputs have no defining node")
        if not isinstance(v.name, str) or not v.name.startswith("%") or len(v.name) < 2:
            fail(f"{what} needs a name like '%x'")
        if msg := _check_type(v.type, what):
            fail(msg)
        if v.name in names:
            fail(f"the name {v.name} is defined twice")
        role = getattr(v, "role", None)
        if role is None or role.kind not in INPUT_ROLES:
            fail(f"{what} has no valid role ({role!r}); roles: {', '.join(INPUT_ROLES)}")
        names.add(v.name)
        defined.add(id(v))

    later = {id(n.out) for n in graph.nodes if n.out is not None}
    for node in graph.nodes:
        if not isinstance(node.op, Op) or OPS.get(node.op.name) is not node.op:
            fail(f"{_where(node)}: op {node.op!r} is not the registered op of that name")
        out = node.out
        if out is None or out.node is not node or out.graph is not graph:
            fail(f"{_where(node)}: the node's result does not point back to it in this graph")
        for i, v in enumerate(node.inputs):
            if id(v) in defined:
                continue
            if getattr(v, "graph", None) is not graph:
                fail(f"{_where(node)}: input {i} ({getattr(v, 'name', v)}) is not in this graph")
            if id(v) in later:
                fail(f"{_where(node)}: input {i} ({v.name}) is used before its definition")
            fail(f"{_where(node)}: input {i} ({v.name}) is never defined")
        if id(out) in defined or out.name in names:
            fail(f"{_where(node)}: {out.name} is defined twice")
        if msg := _check_type(out.type, f"{_where(node)}: the result"):
            fail(msg)
        try:
            expected = node.op.infer(*(v.type for v in node.inputs), **node.attrs)
        except GradcError as e:
            fail(f"{_where(node)}: its op rejects the inputs: {e.msg}")
        except TypeError as e:
            fail(f"{_where(node)}: bad attributes or arity for {node.op.name}: {e}")
        if expected != out.type:
            fail(f"{_where(node)}: typed {out.type} but {node.op.name} infers {expected}")
        defined.add(id(out))
        names.add(out.name)

    if not graph.outputs:
        fail("it has no outputs")
    for k, v in enumerate(graph.outputs):
        if id(v) not in defined:
            fail(f"output {k} ({getattr(v, 'name', v)}) is not defined in this graph")
    out_names = getattr(graph, "output_names", None)
    if out_names is not None and len(out_names) != len(graph.outputs):
        fail(f"{len(out_names)} output names for {len(graph.outputs)} outputs")
    roles = getattr(graph, "output_roles", None)
    if roles is not None:
        if len(roles) != len(graph.outputs):
            fail(f"{len(roles)} output roles for {len(graph.outputs)} outputs")
        for k, r in enumerate(roles):
            if getattr(r, "kind", None) not in OUTPUT_ROLES:
                fail(f"output {k} has no valid role ({r!r}); roles: {', '.join(OUTPUT_ROLES)}")
    return graph
