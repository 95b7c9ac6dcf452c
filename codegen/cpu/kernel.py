"""One kernel of a plan as its own module text: one ``@njit`` function with an explicit
signature, compiled when the module is imported and kept by numba's cache.

Names inside are canonical (inputs ``a0, a1, ...``, outputs ``o0, ...``, values the kernel keeps
to itself ``t0, ...``) and the comments carry no source lines, so the same kernel in two programs
(the first and the later steps of a training loop, two layers of one shape) is the same text:
one module, compiled once. The program module names the IR nodes and user lines at each call.

A kernel writes its results into arrays it is given (the memory plan's buffers); it allocates
only values it keeps to itself.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import sympy

from codegen.cpu.lowerings import LOWERINGS
from codegen.cpu.lowerings.reduce import REDUCE_OPS, emit_reduce
from codegen.cpu.pointwise import allocate, emit_body, emit_loop
from codegen.cpu.writer import NB_TYPES, Writer
from codegen.exprs import CodegenError, int_code
from gradc.ir.printer import format_node

JIT = 'cache=True, nogil=True, error_model="numpy"'
# A lowering that sets ``Writer.reassociate``: its sums vectorise. No flag that assumes away NaN,
# inf or signed zeros.
REASSOCIATE = ', fastmath={"reassoc", "contract"}'


@dataclass
class KernelSource:
    name: str  # e.g. fused_relu_conv2d (the plan's group name without its index)
    text: str  # the module
    inputs: list  # plan Values, in parameter order
    outputs: list
    symbols: list[str]  # shape symbols passed after the arrays, in order
    scratch: list  # (dims, dtype name) of each buffer passed after the outputs


def emit_node(w: Writer, node) -> None:
    """Statements computing one non-pointwise node (its op's lowering)."""
    fn = LOWERINGS.get(node.op.name)
    if fn is None:
        raise CodegenError(
            f"op {node.op.name!r} ({node.op.kind}) has no CPU lowering: add one to "
            "codegen/cpu/lowerings (a pointwise op needs only its sympy expression)"
        )
    fn(w, node, [w.name(v) for v in node.inputs], w.name(node.out))


def _symbols(kernel) -> list[str]:
    found: set = set()

    def add(a):
        if isinstance(a, sympy.Basic):
            found.update(s.name for s in a.free_symbols)
        elif isinstance(a, (tuple, list)):
            for x in a:
                add(x)
        elif isinstance(a, slice):
            add([a.start, a.stop, a.step])
        elif isinstance(a, dict):
            add(list(a.values()))

    for n in kernel.nodes:
        add(list(n.out.type.shape))
        add([list(v.type.shape) for v in n.inputs])
        add(list(n.attrs.values()))
    return sorted(found)


def _in_place(kernel, names: dict) -> None:
    """Let an op step write straight into the output its following loop stores, when that loop
    is the value's only reader and reads it element for element (conv + bias + relu: one
    buffer, no temporary). Not into an output that is also an input (an optimizer's new
    state): the loop still reads the old value there."""
    outs = {id(v) for v in kernel.outputs}
    read = {names[v] for v in kernel.inputs}
    free = {id(v) for v in kernel.outputs if names[v] not in read}
    steps = kernel.steps
    for i in range(len(steps) - 1):
        op, loop = steps[i], steps[i + 1]
        if op.kind != "op" or loop.kind != "loop":
            continue
        t = op.nodes[0].out
        if id(t) in outs or tuple(t.type.shape) != tuple(loop.shape):
            continue
        readers = [n for s in steps[i + 1 :] for n in s.nodes if any(a is t for a in n.inputs)]
        if any(n not in loop.nodes for n in readers):
            continue
        stored = [n.out for n in loop.nodes if id(n.out) in free and n.out.type == t.type]
        if stored:
            names[t] = names[stored[-1]]


def _read_after(kernel, i: int) -> set:
    """Values read by steps after step ``i``, or returned by the kernel."""
    out = set(kernel.outputs)
    for later in kernel.steps[i + 1 :]:
        for n in later.nodes:
            out.update(n.inputs)
    return out


def _reduces(step, nxt) -> bool:
    """Does ``nxt`` reduce a value of the loop ``step`` over the loop's own domain? Then the
    loop body runs inside the reduction: its values stay in registers."""
    if step.kind != "loop" or nxt is None or nxt.kind != "op":
        return False
    node = nxt.nodes[0]
    if node.op.name not in REDUCE_OPS:
        return False
    x = node.inputs[0]
    return any(n.out is x for n in step.nodes) and tuple(x.type.shape) == tuple(step.shape)


def _transpose_view(kernel, step) -> bool:
    """A 2-D transpose the kernel keeps to itself and only matmuls and pointwise loops read
    (they index any layout) needs no copy."""
    node = step.nodes[0]
    if node.op.name != "permute" or tuple(node.attrs["dims"]) != (1, 0):
        return False
    if any(v is node.out for v in kernel.outputs):
        return False
    readers = [n for n in kernel.nodes if any(a is node.out for a in n.inputs)]
    return all(n.op.name == "matmul" or n.op.kind == "pointwise" for n in readers)


def _per_image(step, nxt) -> bool:
    """Is ``nxt`` a pointwise chain over the output of ``step``, an op whose lowering takes an
    epilogue per image (conv2d)?"""
    if step.kind != "op" or nxt is None or nxt.kind != "loop":
        return False
    node = step.nodes[0]
    fn = LOWERINGS.get(node.op.name)
    return getattr(fn, "takes_epilogue", False) and tuple(node.out.type.shape) == tuple(nxt.shape)


class Epilogue:
    """The pointwise chain after an op whose lowering takes it (conv2d): ``epilogue(n)`` emits
    it over image ``n``; ``at(idx, reg)`` on one element, the op's value of it in register
    ``reg`` (not stored unless ``keeps_input``: read later or returned)."""

    def __init__(self, w, step, stored, x):
        self.w, self.step, self.stored, self.x = w, step, stored, x
        self.keeps_input = x in stored

    def __call__(self, n: str) -> None:
        with self.w.loops([self.w.dim(d) for d in self.step.shape[1:]]) as idx:
            emit_body(self.w, self.step, self.stored, [n, *idx])

    def at(self, idx: list[str], reg: str) -> None:
        emit_body(self.w, self.step, self.stored, idx, {id(self.x): reg})


def _element(w, step, stored, x, idx) -> str:
    return emit_body(w, step, stored, idx)[id(x)]


def _emit_steps(w: Writer, kernel) -> None:
    steps, i = kernel.steps, 0
    while i < len(steps):
        step = steps[i]
        nxt = steps[i + 1] if i + 1 < len(steps) else None
        if _reduces(step, nxt):
            node = nxt.nodes[0]
            stored = _read_after(kernel, i + 1)
            allocate(w, step, stored)
            emit_reduce(
                w,
                node,
                w.name(node.out),
                functools.partial(_element, w, step, stored, node.inputs[0]),
            )
            i += 2
        elif _per_image(step, nxt):
            stored = _read_after(kernel, i + 1)
            allocate(w, nxt, stored)
            node = step.nodes[0]
            fn = LOWERINGS[node.op.name]
            ins = [w.name(v) for v in node.inputs]
            fn(w, node, ins, w.name(node.out), Epilogue(w, nxt, stored, node.out))
            i += 2
        elif step.kind == "loop":
            emit_loop(w, step, _read_after(kernel, i))
            i += 1
        elif _transpose_view(kernel, step) and w.name(step.nodes[0].out) not in w.prealloc:
            node = step.nodes[0]  # (one stored into an output array, by _in_place, is copied)
            w.line(f"{w.name(node.out)} = {w.name(node.inputs[0])}.T  # a view: BLAS reads it")
            i += 1
        else:
            emit_node(w, step.nodes[0])
            i += 1


def kernel_source(kernel, same: dict | None = None, hoist: bool = True) -> KernelSource:
    """The module text of ``kernel`` (a ``gradc.passes.plan.Kernel``). ``same`` maps an output
    to the input whose array the program writes it into (an optimizer's new state): the kernel
    takes one parameter for both, so LLVM sees one array and vectorizes the update (two names
    for one memory fail its overlap checks, and the loop runs scalar: 2.5x slower).
    ``hoist``: the kernel's scratch arrays are parameters (``KernelSource.scratch``) that the
    program's workspace makes once, not arrays it allocates at every call."""
    same = same or {}
    names: dict = {}
    for k, v in enumerate(kernel.inputs):
        names[v] = f"a{k}"
    outputs = [v for v in kernel.outputs if id(v) not in same]
    for k, v in enumerate(outputs):
        names[v] = f"o{k}"
    for v in kernel.outputs:
        if id(v) in same:
            names[v] = names[same[id(v)]]
    t = 0
    for n in kernel.nodes:
        if n.out not in names:
            names[n.out] = f"t{t}"
            t += 1
    comments = [f"    # {format_node(n, lambda v: names.get(v, '?'))[0]}" for n in kernel.nodes]
    _in_place(kernel, names)
    syms = _symbols(kernel)
    w = Writer(names, prealloc={names[v] for v in kernel.outputs}, hoist=hoist)
    _emit_steps(w, kernel)
    scratch = [(dims, dt) for _, dims, dt in w.scratch]
    params = [names[v] for v in kernel.inputs] + [names[v] for v in outputs]
    params += [n for n, _, _ in w.scratch] + syms
    types = [_nb_type(v.type.dtype.name, v.type.ndim) for v in (*kernel.inputs, *outputs)]
    types += [_nb_type(dt, len(dims)) for dims, dt in scratch] + ["nt.int64"] * len(syms)
    loop = ", ".join(int_code(d) for d in kernel.loop)
    name = kernel.name.rpartition("_")[0] or kernel.name
    text = "\n".join(
        [
            f"# gradc kernel {name} ({kernel.kind}) over [{loop}]",
            "import math  # noqa: F401",
            "",
            "import numpy as np",
            "from numba import njit",
            "from numba import types as nt",
            "",
            f"SIGNATURE = nt.void({', '.join(types)})",
            "",
            "",
            f"@njit(SIGNATURE, {JIT}{REASSOCIATE if w.reassociate else ''})",
            f"def kernel({', '.join(params)}):",
            *comments,
            *(w.lines or ["    pass"]),
            "",
        ]
    )
    return KernelSource(name, text, list(kernel.inputs), outputs, syms, scratch)


def _nb_type(dtype: str, ndim: int) -> str:
    return f'nt.Array({NB_TYPES[dtype]}, {ndim}, "C")'
