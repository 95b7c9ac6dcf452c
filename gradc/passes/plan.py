"""The kernel plan: what the code generators print from, as plain data.

``plan(graph, groups)`` turns the fused graph into a ``ProgramPlan``:
- ``kernels``: one per fusion group, in schedule order, with its loop domain (the anchor's input
  shape for reductions and pools, else the last node's shape), the values it reads and writes,
  and its ``steps``: maximal runs of pointwise nodes over one shape (one loop nest, values kept in
  registers) and single nodes lowered by their op's rule;
- ``prelude``: nodes outside every group (``full``), computed in the entry function;
- ``params``: what the entry function takes, in order: the graph's inputs, then the captured
  constants (``rand`` draws from its RNG-state input inside the program, as the interpreter);
- ``bindings`` / ``checks``: how each shape symbol is bound from an input dim, and which dims are
  checked against ints or expressions of the bound symbols.

- ``memory``: the memory plan (``gradc.passes.memory``): which buffer each value crossing a
  kernel boundary lives in, and the workspace slots reused between values.

Layout convention: every buffer is row-major and contiguous. A kernel that is a free view
(``reshape``, ``stop_gradient``) is an alias of its input's memory; any other view is a step
writing a contiguous copy, or index arithmetic inside the kernel that reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from gradc.errors import GradcError
from gradc.ir.graph import Graph, Node, Value
from gradc.passes.memory import MemoryPlan, memory_plan
from gradc.passes.parallel import Split, split_of
from gradc.shapes import same_dim


@dataclass
class Step:
    """``loop``: pointwise nodes sharing one loop nest over ``shape``; ``op``: one node."""

    kind: str
    nodes: list[Node]
    shape: tuple = ()


@dataclass
class Kernel:
    name: str
    kind: str
    loop: tuple  # the loop domain (symbolic)
    nodes: list[Node]
    inputs: list[Value]
    outputs: list[Value]
    steps: list[Step] = field(default_factory=list)
    split: Split | None = None  # how it runs on halves of the batch (gradc.passes.parallel)


@dataclass
class ProgramPlan:
    graph: Graph
    params: list[Value]  # graph inputs, then constants
    constants: list[Node]
    prelude: list[Node]
    kernels: list[Kernel]
    symbols: list[sympy.Symbol]
    bindings: list[tuple]  # (symbol, input index, dim)
    checks: list[tuple]  # (input index, dim, expected int or expression)
    memory: MemoryPlan | None = None


def _steps(nodes: list[Node]) -> list[Step]:
    steps: list[Step] = []
    for n in nodes:
        shape = n.out.type.shape
        if n.op.kind == "pointwise":
            last = steps[-1] if steps else None
            if (
                last is not None
                and last.kind == "loop"
                and len(last.shape) == len(shape)
                and all(same_dim(a, b) for a, b in zip(last.shape, shape))
            ):
                last.nodes.append(n)
                continue
            steps.append(Step("loop", [n], shape))
        else:
            steps.append(Step("op", [n], shape))
    return steps


def _loop(group) -> tuple:
    a = group.anchor
    if a is not None and a.op.kind in ("reduce", "pool") and a.inputs:
        return a.inputs[0].type.shape
    return group.nodes[-1].out.type.shape


def _symbols(graph: Graph):
    bindings, checks, bound = [], [], {}
    for i, v in enumerate(graph.inputs):
        for d, e in enumerate(v.type.shape):
            if isinstance(e, sympy.Symbol) and e not in bound:
                bound[e] = (i, d)
                bindings.append((e, i, d))
            else:
                checks.append((i, d, e))
    used = set()
    for n in graph.nodes:
        used |= _free(n.out.type.shape) | _free(list(n.attrs.values()))
    used |= _free([e for _, _, e in checks])
    missing = sorted(str(s) for s in used if s not in bound)
    if missing:
        raise GradcError(
            f"cannot lower graph {graph.name}: the symbols {', '.join(missing)} are not the size "
            "of any input dim, so a program cannot bind them from its inputs"
        )
    return [b[0] for b in bindings], bindings, checks


def _free(a) -> set:
    """Shape symbols anywhere in ``a`` (dims, attrs: tuples, lists, slices, dicts)."""
    if isinstance(a, sympy.Basic):
        return set(a.free_symbols)
    if isinstance(a, (tuple, list)):
        return set().union(*(_free(x) for x in a)) if a else set()
    if isinstance(a, slice):
        return _free([a.start, a.stop, a.step])
    if isinstance(a, dict):
        return _free(list(a.values()))
    return set()


def plan(graph: Graph, groups, donate: dict | None = None) -> ProgramPlan:
    """The plan of ``graph`` (as ``fuse`` returned it) and its fusion ``groups``; ``donate``
    (output index -> input index) lets new values of state be written into the old arrays."""
    grouped = {id(n) for g in groups for n in g.nodes}
    constants = [n for n in graph.nodes if n.op.name == "constant"]
    prelude = [n for n in graph.nodes if id(n) not in grouped and n.op.name != "constant"]
    kernels = []
    for g in groups:
        nodes = list(g.nodes)
        inside = {id(n) for n in nodes}
        outs = [v for v in g.outputs if id(v.node) in inside]
        kernels.append(Kernel(g.name, g.kind, _loop(g), nodes, list(g.inputs), outs, _steps(nodes)))
    symbols, bindings, checks = _symbols(graph)
    for k in kernels:
        k.split = split_of(k, symbols)
    params = list(graph.inputs) + [n.out for n in constants]
    p = ProgramPlan(graph, params, constants, prelude, kernels, symbols, bindings, checks)
    p.memory = memory_plan(p, donate)
    return p
