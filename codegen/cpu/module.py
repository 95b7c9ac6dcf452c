"""A kernel plan as one Python module of numba functions: one ``@njit`` function per kernel and
one ``@njit`` entry function that binds the shape symbols, checks the inputs and calls the
kernels in order, so no Python runs between kernels.

Text only: nothing here imports numba or runs the code it writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from codegen.cpu.lowerings import LOWERINGS
from codegen.cpu.pointwise import emit_loop
from codegen.cpu.writer import Writer, check_dtypes
from codegen.exprs import CodegenError, int_code
from gradc.ir.printer import format_node, value_names

ENTRY = "run"
JIT = 'dict(cache=True, nogil=True, error_model="numpy")'


@dataclass
class Source:
    """Generated module text and how to call it: ``entry(*params)`` returns the outputs."""

    text: str
    entry: str
    params: list[str]  # the entry's parameter names, in order
    kernels: list[str]


def _ident(text: str) -> str:
    s = re.sub(r"\W", "_", text)
    return s if s and not s[0].isdigit() else "_" + s


def _names(plan) -> dict:
    printed = value_names(plan.graph)
    names, taken = {}, set()

    def add(v, stem):
        name, k = stem, 1
        while name in taken:
            k += 1
            name = f"{stem}_{k}"
        taken.add(name)
        names[v] = name

    for v in plan.graph.inputs:
        add(v, "in_" + _ident(v.name.lstrip("%")))
    for n in plan.graph.nodes:
        add(n.out, "v" + _ident(printed[n.out].lstrip("%")))
    return names


def node_comment(node, printed) -> str:
    """The node as the IR printer spells it, with the user's file:line (and vjp rule)."""
    text, note = format_node(node, lambda v: printed.get(v, v.name))
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"# {text}" + (f"  [{note}]" if note else "")


def emit_node(w: Writer, node) -> None:
    """Statements computing one non-pointwise node (its op's lowering)."""
    fn = LOWERINGS.get(node.op.name)
    if fn is None:
        raise CodegenError(
            f"op {node.op.name!r} ({node.op.kind}) has no CPU lowering: add one to "
            "codegen/cpu/lowerings (a pointwise op needs only its sympy expression)"
        )
    fn(w, node, [w.name(v) for v in node.inputs], w.name(node.out))


def _kernel(plan, k: int, kernel, names, printed) -> tuple[str, list[str]]:
    fname = f"k{k}_{_ident(kernel.name)}"
    syms = [s.name for s in plan.symbols]
    params = [names[v] for v in kernel.inputs] + syms
    w = Writer(names)
    for n in kernel.nodes:
        w.line(node_comment(n, printed))
    read_later: set = set(kernel.outputs)
    for i in range(len(kernel.steps)):
        for later in kernel.steps[i + 1 :]:
            for n in later.nodes:
                read_later.update(n.inputs)
    for step in kernel.steps:
        if step.kind == "loop":
            emit_loop(w, step, read_later)
        else:
            emit_node(w, step.nodes[0])
    outs = [names[v] for v in kernel.outputs]
    w.line(f"return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
    loop = ", ".join(int_code(d) for d in kernel.loop)
    head = [
        "",
        "",
        f"# kernel {k}: {kernel.name} ({kernel.kind}) over [{loop}]",
        "@njit(**_JIT)",
        f"def {fname}({', '.join(params)}):",
    ]
    return "\n".join(head + w.lines), [fname, *params]


def _entry(plan, names, printed, calls) -> list[str]:
    w = Writer(names)
    g = plan.graph
    params = [names[v] for v in plan.params]
    for s, i, d in plan.bindings:
        w.line(f"{s.name} = {params[i]}.shape[{d}]")
    for i, d, e in plan.checks:
        what = f"input {g.inputs[i].name} dim {d} must be {int_code(e)}"
        with w.block(f"if {params[i]}.shape[{d}] != {int_code(e)}:"):
            w.line(f"raise ValueError({what!r})")
    for n in plan.prelude:
        w.line(node_comment(n, printed))
        emit_node(w, n)
    for fname, kernel, kparams in calls:
        outs = [names[v] for v in kernel.outputs]
        lhs = ", ".join(outs) + ("," if len(outs) == 1 else "")
        w.line(f"({lhs}) = {fname}({', '.join(kparams)})")
    outs = [names[v] for v in g.outputs]
    w.line(f"return ({', '.join(outs)}{',' if len(outs) == 1 else ''})")
    return [
        "",
        "",
        f"# entry: graph {g.name}",
        "@njit(**_JIT)",
        f"def {ENTRY}({', '.join(params)}):",
        *w.lines,
    ]


def generate(plan, *, graph_hash: str) -> Source:
    """The module text for ``plan`` (a ``gradc.passes.plan.ProgramPlan``)."""
    check_dtypes(plan.graph)
    names = _names(plan)
    printed = value_names(plan.graph)
    g = plan.graph
    body, calls = [], []
    for k, kernel in enumerate(plan.kernels):
        text, (fname, *kparams) = _kernel(plan, k, kernel, names, printed)
        body.append(text)
        calls.append((fname, kernel, kparams))
    header = [
        f"# gradc generated module: graph {g.name}, hash {graph_hash}",
        f"# {len(plan.kernels)} kernels; entry {ENTRY}("
        + ", ".join(names[v] for v in plan.params)
        + ")",
        "import math  # noqa: F401",
        "",
        "import numpy as np",
        "from numba import njit",
        "",
        f"_JIT = {JIT}",
    ]
    text = "\n".join(header + body + _entry(plan, names, printed, calls)) + "\n"
    return Source(text, ENTRY, [names[v] for v in plan.params], [c[0] for c in calls])
