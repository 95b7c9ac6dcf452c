"""The differentiation pass: trace each op's ``vjp`` rule over a forward graph.

There is no second set of derivative rules. The forward graph is copied into a new graph, its
values are wrapped as traced Tensors, and walking the nodes in reverse we call
``op.vjp_rule(i)(ct, *inputs, out=out, **attrs)`` exactly as eager ``backward()`` does; the rules
are gradc code, so what they compute lands in the graph as more nodes. Fan-out sums with ``add``.

- ``joint_graph(g)``: forward outputs + gradients in one graph, inputs = the forward inputs
  (parameter names kept) + ``tangents_*`` (one cotangent per float output, as AOTAutograd names
  them); ``meta["saved"]`` lists the forward values the backward part reads.
- ``partition(joint)``: that graph cut in two: a forward graph that also returns the saved
  values, and a backward graph that takes them (plus ``tangents_*``) and returns the gradients.
- ``grad_graph(g)``: just the backward graph. With ``recompute=True`` it recomputes forward
  values from the primal inputs instead of taking them saved, which makes it a function of the
  primals alone: differentiate it again for second derivatives.

>>> g = gradc.trace(loss_fn, x, w)
>>> print(gradc.grad_graph(g, wrt=["w"]))      # graph backward(..., %tangents_1: f32[]) {...}
"""

from __future__ import annotations

import sympy

from gradc import dispatch
from gradc import functions as F
from gradc._tensor import Tensor
from gradc.autograd import grad_mode
from gradc.errors import GradcError
from gradc.ir.graph import Graph, Role
from gradc.ir.printer import value_names
from gradc.ops.table import get_op


def joint_graph(graph: Graph, wrt=None, *, name: str = "joint") -> Graph:
    """Forward outputs, then ``NAME.grad`` for each ``wrt`` input (default: the parameters of a
    traced module, else every float input); ``wrt`` holds input names, indices or Values."""
    wrt_values = _resolve_wrt(graph, wrt)
    j = Graph(name)
    # a backward graph's cotangents are plain inputs of the function differentiated again
    env = {v: j.add_input(v.name, v.type, _primal(v.role)) for v in graph.inputs}
    for node in graph.nodes:
        env[node.out] = _copy_node(j, node, env)
    n_fwd = len(j.nodes)
    outs = [env[v] for v in graph.outputs]
    roles = graph.roles()
    taken = {v.name for v in j.inputs}
    tangents = []
    for v, r in zip(outs, roles):  # outputs get cotangents; new values of state do not
        if v.type.dtype.is_floating_point and r.kind != "new":
            tangents.append((v, j.add_input(_fresh("tangents", taken), v.type, Role("tangent"))))
    grads = _backward(j, [env[v] for v in wrt_values], tangents)
    fwd_names = graph.output_names or (
        ["out"] if len(outs) == 1 else [f"out{i}" for i in range(len(outs))]
    )
    j.outputs = outs + grads
    j.output_names = list(fwd_names) + [f"{v.name.lstrip('%')}.grad" for v in wrt_values]
    j.output_roles = roles + [Role("grad", of=v.name.lstrip("%")) for v in wrt_values]
    j.meta.update(num_forward_nodes=n_fwd, num_forward_outputs=len(outs))
    if len(j.nodes) > n_fwd:
        j.meta["backward_start"] = j.nodes[n_fwd]
    j.meta["saved"] = _cut(j, recompute=False)[1]
    return j


def grad_graph(graph: Graph, wrt=None, *, recompute: bool = False, name="backward") -> Graph:
    """The backward graph of ``graph``: inputs are the forward values it needs and
    ``tangents_*``; outputs ``NAME.grad``. With ``recompute=True`` the inputs are exactly the
    forward graph's inputs then the tangents, and forward values are recomputed inside."""
    return partition(joint_graph(graph, wrt), recompute=recompute, names=("forward", name))[1]


def partition(joint: Graph, *, recompute: bool = False, names=("forward", "backward")):
    """Cut a joint graph into (forward returning its outputs + saved values, backward).

    Reads the section sizes ``joint_graph`` leaves in ``meta``: cut before rewriting the joint.
    """
    n_out = joint.meta["num_forward_outputs"]
    tangents = joint.inputs_of("tangent")
    keep, saved = _cut(joint, recompute)
    printed = value_names(joint)
    saved_names = {v: f"%{v.node.op.name}_{printed[v].lstrip('%')}" for v in saved if v.node}

    fwd = Graph(names[0])
    env = {v: fwd.add_input(v.name, v.type, v.role) for v in joint.inputs if v not in tangents}
    extra = [v for v in saved if v.node is not None]
    live = _ancestors([*joint.outputs[:n_out], *extra])
    for node in joint.nodes:
        if node in live:
            env[node.out] = _copy_node(fwd, node, env)
    fwd.set_outputs(
        [env[v] for v in joint.outputs[:n_out]] + [env[v] for v in extra],
        list(joint.output_names[:n_out]) + [saved_names[v][1:] for v in extra],
        joint.roles()[:n_out] + [Role("saved")] * len(extra),
    )
    fwd.meta["num_saved"] = len(extra)

    bwd = Graph(names[1])
    primals = [v for v in joint.inputs if v not in tangents and (recompute or v in saved)]
    primals += _binders(joint, [*primals, *extra, *tangents], keep, n_out)
    env = {v: bwd.add_input(v.name, v.type, v.role) for v in primals}
    env.update({v: bwd.add_input(saved_names[v], v.type, Role("saved")) for v in extra})
    env.update({v: bwd.add_input(v.name, v.type, v.role) for v in tangents})
    for node in joint.nodes:
        if node in keep:
            env[node.out] = _copy_node(bwd, node, env)
    bwd.set_outputs(
        [env[v] for v in joint.outputs[n_out:]],
        joint.output_names[n_out:],
        joint.roles()[n_out:],
    )
    return fwd, bwd


def _binders(joint, chosen, keep, n_out) -> list:
    """Forward inputs the backward reads only for their shapes: where no other input of it
    binds a symbol its nodes or gradients need (``s.grad: f64[N1]`` of an ``s`` that only
    the forward reads), so the backward can run at every size."""
    need: set = set()
    for node in keep:
        need |= _free_symbols((node.out.type.shape, tuple(node.attrs.values())))
    for v in joint.outputs[n_out:]:
        need |= _free_symbols(v.type.shape)
    need -= {d for v in chosen for d in v.type.shape if isinstance(d, sympy.Symbol)}
    if not need:
        return []
    taken = set(chosen)
    out = []
    for v in joint.inputs:
        binds = {d for d in v.type.shape if isinstance(d, sympy.Symbol)} & need
        if v not in taken and binds:
            out.append(v)
            need -= binds
    return out


def _free_symbols(obj) -> set:
    if isinstance(obj, sympy.Basic):
        return set(obj.free_symbols)
    if isinstance(obj, slice):
        obj = (obj.start, obj.stop, obj.step)
    if isinstance(obj, (tuple, list)):
        return set().union(*(_free_symbols(o) for o in obj))
    return set()


def _ancestors(values) -> set:
    """The nodes ``values`` are computed from."""
    out, stack = set(), [v.node for v in values if v.node is not None]
    while stack:
        node = stack.pop()
        if node not in out:
            out.add(node)
            stack.extend(v.node for v in node.inputs if v.node is not None)
    return out


def _forward_part(joint: Graph) -> set:
    """Nodes the forward graph can compute: the forward section, and the backward nodes that
    read no cotangent (max-pool's argmax, a mask), so they are computed once, in forward."""
    n_fwd = joint.meta["num_forward_nodes"]
    dep = set(joint.inputs_of("tangent"))
    part = set(joint.nodes[:n_fwd])
    for node in joint.nodes[n_fwd:]:
        if any(v in dep for v in node.inputs):
            dep.add(node.out)
        else:
            part.add(node)
    return part


def _cheap(node) -> bool:
    """Worth recomputing in backward rather than saving: views and pointwise ops."""
    return node.op.view or node.op.kind == "pointwise"


def _cut(joint: Graph, recompute: bool):
    """Backward nodes the gradients need, and the forward values (inputs or not) they read.

    The save policy: forward values that are views or pointwise (a transposed weight, a relu)
    are recomputed in backward from what they read, as are nodes without inputs (constants,
    ``full``); the rest (matmul, conv, reductions, pool indices) is saved. With ``recompute``
    every pure forward node is recomputed, so only primal inputs are saved.
    """
    n_out = joint.meta["num_forward_outputs"]
    fwd_nodes = _forward_part(joint)
    tangents = set(joint.inputs_of("tangent"))
    keep, saved, stack = set(), set(), list(joint.outputs[n_out:])
    seen = set()
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        node = v.node
        if node is None:
            if v not in tangents:
                saved.add(v)
            continue
        if node in fwd_nodes and (
            not node.op.pure or (node.inputs and not recompute and not _cheap(node))
        ):
            saved.add(v)
            continue
        keep.add(node)
        stack.extend(node.inputs)
    order = {v: k for k, v in enumerate(joint.inputs)}
    order.update({n.out: len(order) + k for k, n in enumerate(joint.nodes)})
    return keep, sorted(saved, key=order.__getitem__)


def _backward(j: Graph, wrt: list, tangents: list) -> list:
    """Trace the vjp rules of ``j``'s nodes in reverse; return one gradient Value per ``wrt``."""
    need = set(wrt)
    fwd = list(j.nodes)
    for node in fwd:  # which values carry gradient, as eager requires_grad would say
        if node.out.type.dtype.is_floating_point and any(
            v in need and node.op.vjp_rule(i) for i, v in enumerate(node.inputs)
        ):
            need.add(node.out)
    cts: dict = {}

    def accumulate(v, g):
        cts[v] = g if v not in cts else F.add(cts[v], g)

    dispatch._trace_stack.append(j)
    try:
        with grad_mode.no_grad():
            for out, t in tangents:
                if out in need:
                    start = len(j.nodes)
                    accumulate(out, Tensor._wrap(t))  # an output returned twice sums here
                    _mark(j.nodes[start:], out.node.loc if out.node else None, None)
            for node in reversed(fwd):
                ct = cts.pop(node.out, None)
                if ct is None:
                    continue
                start = len(j.nodes)
                ins = [Tensor._wrap(v) for v in node.inputs]
                out = Tensor._wrap(node.out)
                for i, v in enumerate(node.inputs):
                    rule = node.op.vjp_rule(i) if v in need else None
                    if rule is None:
                        continue
                    try:
                        g = rule(ct, *ins, out=out, **node.attrs)
                    except GradcError as e:
                        raise e.with_context(op=f"vjp of {node.op.name}", where=node.loc) from None
                    if g is not None:
                        accumulate(v, g)
                _mark(j.nodes[start:], node.loc, node.op.name)
            start = len(j.nodes)
            grads = [_gradient(j, v, cts.get(v)) for v in wrt]
            _mark(j.nodes[start:], None, None)
    finally:
        dispatch._trace_stack.pop()
    return grads


def _primal(role: Role) -> Role:
    return Role("input") if role.kind == "tangent" else role


def _mark(nodes, loc, rule) -> None:
    """Backward nodes point at the user's forward line and the op whose rule made them."""
    for n in nodes:
        n.loc, n.rule = loc, rule


def _gradient(j: Graph, v, g):
    if g is None:  # no path from this input to an output: the gradient is zero
        attrs = {"shape": v.type.shape, "value": 0, "dtype": v.type.dtype}
        return j.add_node(get_op("full"), [], attrs, v.type, None)
    return j.lift(g)


def _copy_node(dst: Graph, node, env: dict):
    out = dst.add_node(node.op, [env[v] for v in node.inputs], node.attrs, node.out.type, node.loc)
    out.node.rule = node.rule
    return out


def _fresh(stem: str, taken: set) -> str:
    k = 1
    while f"%{stem}_{k}" in taken:
        k += 1
    taken.add(f"%{stem}_{k}")
    return f"{stem}_{k}"


def _resolve_wrt(graph: Graph, wrt) -> list:
    by_name = {v.name.lstrip("%"): v for v in graph.inputs}
    if wrt is None:  # trainable parameters if there are any, else the float user inputs
        params = [v for v in graph.inputs_of("param") if not v.role.frozen]
        if params or graph.inputs_of("param", "buffer"):
            return [v for v in params if v.type.dtype.is_floating_point]
        return [v for v in graph.inputs_of("input") if v.type.dtype.is_floating_point]
    if isinstance(wrt, (str, int)) or not hasattr(wrt, "__iter__"):
        wrt = [wrt]
    out = []
    for w in wrt:
        if isinstance(w, int):
            v = graph.inputs[w]
        elif isinstance(w, str):
            v = by_name.get(w.lstrip("%"))
            if v is None:
                raise GradcError(
                    f"wrt={w!r} is not an input of graph {graph.name}; "
                    f"inputs: {', '.join(by_name)}",
                    op="grad_graph",
                )
        else:
            v = w
        if v not in graph.inputs:
            raise GradcError(f"{v.name} is not an input of graph {graph.name}", op="grad_graph")
        if not v.type.dtype.is_floating_point:
            raise GradcError(
                f"only float inputs have gradients; {v.name} is {v.type}", op="grad_graph"
            )
        out.append(v)
    return out


__all__ = ["joint_graph", "grad_graph", "partition"]
