"""A kernel plan as a program module: plain Python that binds the shape symbols, checks the
inputs and calls the kernels (``codegen.cpu.kernel``: one numba module each) in order.

The entry is Python, not numba: a call into a compiled kernel costs about a microsecond, while
an ``@njit`` entry makes numba link and re-optimise the code of every kernel it calls (12 s of
a 38 s LeNet compile, measured), and kernels shared between programs (the first and the later
steps of a training loop) could not be compiled once. The module defines:
- ``symbols(*inputs) -> tuple``: the shape symbols from the input dims; a wrong dim raises
  ``ValueError`` naming it;
- ``workspace(*symbols) -> tuple``: the memory plan's slots and the per-shape constants
  (``full``), made once per binding and reused by every call;
- ``outputs(*symbols) -> list``: ``(shape, dtype)`` of each output the caller provides an array
  for (None for a donated one: it is written into its input's array);
- ``run(*inputs, *constants, *symbols, ws, outs)``: the kernels, in order; returns the outputs.

Text only: nothing here imports numba or runs the code it writes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import sympy

from codegen.cpu.kernel import KernelSource, kernel_source
from codegen.cpu.lowerings import LOWERINGS
from codegen.cpu.writer import Writer, check_dtypes
from codegen.exprs import int_code, shape_code
from gradc.ir.printer import format_node, value_names
from gradc.passes.memory import is_alias_kernel

ENTRY = "run"


@dataclass
class Source:
    """The program module's text and the kernel modules it imports (``module name -> text``)."""

    text: str
    entry: str
    params: list[str]  # the entry's array parameters (inputs, then constants), in order
    kernels: dict = field(default_factory=dict)  # module name -> KernelSource


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


def _symbols_fn(plan, names) -> list[str]:
    g = plan.graph
    params = [names[v] for v in g.inputs]
    w = Writer(names)
    for s, i, d in plan.bindings:
        w.line(f"{s.name} = {params[i]}.shape[{d}]")
    for i in dict.fromkeys(i for i, _, _ in plan.checks):
        v = g.inputs[i]
        want = shape_code(v.type.shape)
        text = tuple(int_code(e) for e in v.type.shape)
        with w.block(f"if {params[i]}.shape != {want}:"):
            w.line(f"_mismatch({v.name!r}, {params[i]}.shape, {want}, {text!r})")
    syms = [s.name for s in plan.symbols]
    w.line(f"return ({', '.join(syms)}{',' if len(syms) == 1 else ''})")
    return [
        "",
        "",
        "def symbols(" + ", ".join(params) + "):",
        '    """The shape symbols, bound from the inputs\' dims."""',
        *w.lines,
    ]


def _workspace_fn(plan, names, printed, scratch: dict) -> list[str]:
    mem = plan.memory
    syms = [s.name for s in plan.symbols]
    w = Writer(names)
    from codegen.cpu.writer import NP_DTYPES

    for k, slot in enumerate(mem.slots):
        w.line(f"_s{k} = np.empty(max({int_code(slot.size)}, 1), {NP_DTYPES[slot.dtype]})")
    ws = []
    for (shape, dt, _), name in scratch.items():  # kernels' own arrays; they run one at a time
        w.line(f"{name} = np.empty({shape}, {NP_DTYPES[dt]})")
        ws.append(name)
    for kernel in plan.kernels:
        for v in kernel.outputs:
            b = mem.of(v)
            if b.kind == "temp":
                size = int_code(_numel(v))
                w.line(f"{names[v]} = _s{b.index}[:{size}].reshape({shape_code(v.type.shape)})")
                ws.append(names[v])
    for n in plan.prelude:
        w.line(node_comment(n, printed))
        LOWERINGS[n.op.name](w, n, [names[v] for v in n.inputs], names[n.out])
        ws.append(names[n.out])
    if any(k.split is not None for k in plan.kernels):
        w.line("_parts = {}  # partial sums of kernels split over the batch")
        ws.append("_parts")
    w.line(f"return ({', '.join(ws)}{',' if len(ws) == 1 else ''})")
    return [
        "",
        "",
        f"def workspace({', '.join(syms)}):",
        '    """The buffers of one binding of the shape symbols, reused by every call."""',
        *w.lines,
    ], ws


def _numel(v):
    out = 1
    for d in v.type.shape:
        out = out * d
    return out


def _outputs_fn(plan) -> list[str]:
    from codegen.cpu.writer import NP_DTYPES

    mem, g = plan.memory, plan.graph
    syms = [s.name for s in plan.symbols]
    specs = []
    for v in g.outputs:
        b = mem.of(v)
        donated = b.kind == "donated" and not any(v is c for _, c in mem.copies)
        if donated:
            specs.append("None")
        else:
            specs.append(f"({shape_code(v.type.shape)}, {NP_DTYPES[v.type.dtype.name]})")
    return [
        "",
        "",
        f"def outputs({', '.join(syms)}):",
        '    """Shape and dtype of each output array the caller hands in (None: donated)."""',
        f"    return [{', '.join(specs)}]",
    ]


def _home(plan, names, v) -> str:
    """The program's name of the array that holds ``v``."""
    b = plan.memory.of(v)
    if b.kind == "output":
        return f"_o{b.index}"
    if b.kind == "donated":
        return names[plan.params[b.index]]
    return names[v]


def _same(plan, names, kernel) -> dict:
    """``id(output) -> input`` of ``kernel`` where the program hands both the same array."""
    homes = {_home(plan, names, v): v for v in kernel.inputs}
    out = {}
    for v in kernel.outputs:
        src = homes.get(_home(plan, names, v))
        if src is not None and src.type == v.type:
            out[id(v)] = src
    return out


def _scratch_kinds(ks, symbol) -> list[int] | None:
    """How ``split`` hands each scratch array of a kernel split over ``symbol`` to its threads:
    1 sliced (led by the batch), 3 one copy per thread (no batch dim); None if neither fits."""
    kinds = []
    for dims, _ in ks.scratch:
        free = [d.free_symbols if hasattr(d, "free_symbols") else set() for d in dims]
        if not any(symbol in {s.name for s in f} for f in free):
            kinds.append(3)
        elif int_code(dims[0]) == symbol and not any(
            symbol in {s.name for s in f} for f in free[1:]
        ):
            kinds.append(1)
        else:
            return None
    return kinds


def _memory(plan, names, v):
    """What ``v``'s array is: its workspace slot (values of one slot share memory), else the
    program's name of its array; a view is its source's memory."""
    b = plan.memory.of(v)
    while b.kind == "alias":
        v, b = b.source, plan.memory.of(b.source)
    return ("slot", b.index) if b.kind == "temp" else ("array", _home(plan, names, v))


def _joins(region: dict, accesses: list) -> bool:
    """May a kernel with ``accesses`` (memory, value, kind, written) run in the same threads as
    the kernels before it in ``region`` (memory -> their accesses)? Only when no thread can see
    another's unfinished work: an array both read and written in the region is only ever
    sliced, by values of equal rows (each thread its own rows of it), and a sum over the images
    (kind 2) is the region's only use of its array (the halves are added after the join)."""
    for mem, value, kind, written in accesses:
        prior = region.get(mem, [])
        if not prior:
            continue
        every = prior + [(value, kind, written)]
        if not any(w for _, _, w in every):
            continue  # read only
        if any(k != 1 for _, k, _ in every):
            return False
        if any(_row(v) != _row(value) for v, _, _ in every):
            return False  # one slot, two values whose rows do not line up
    return True


def _row(v):
    """The elements of one image of a batch-led value (sympy: equal rows compare equal)."""
    return sympy.simplify(_numel(v) / v.type.shape[0])


def _regions(plan, names, calls) -> list:
    """``calls`` grouped: ``("view", kernel)``, ``("call", kernel, call)`` and ``("split",
    [(kernel, call, kinds)])``, a run of kernels split over one batch symbol whose threads
    run them all before joining (one handoff, not one per kernel: 10-25 us each, and a thread
    asleep takes ~50 us to wake)."""
    items, region, symbol = [], {}, None
    for kernel, call in calls:
        if call is None:  # before the open region: its kernels may read the view
            items.insert(len(items) - (symbol is not None), ("view", kernel))
            continue
        fname, ks, scratch, scratch_kinds = call
        if scratch_kinds is None:
            items.append(("call", kernel, call))
            symbol = None
            continue
        sp = kernel.split
        sums = [x for v, x in zip(kernel.outputs, sp.sums) if any(v is o for o in ks.outputs)]
        kinds = [int(x) for x in sp.inputs] + [2 if x else 1 for x in sums] + scratch_kinds
        values = [(v, False) for v in ks.inputs] + [(v, True) for v in ks.outputs]
        accesses = [(_memory(plan, names, v), v, k, wr) for (v, wr), k in zip(values, kinds)]
        if symbol != sp.symbol or not _joins(region, accesses):
            items.append(("split", []))
            region, symbol = {}, sp.symbol
        items[-1][1].append((kernel, call, kinds))
        for mem, v, k, wr in accesses:
            region.setdefault(mem, []).append((v, k, wr))
    return items


def _run_fn(plan, names, printed, calls, ws) -> list[str]:
    mem, g = plan.memory, plan.graph
    outs = [f"_o{k}" for k in range(len(g.outputs))]
    syms = [s.name for s in plan.symbols]
    params = [names[v] for v in plan.params]
    w = Writer(names)
    if ws:
        w.line(f"({', '.join(ws)},) = ws")
    if outs:
        w.line(f"({', '.join(outs)},) = outs")

    home = functools.partial(_home, plan, names)

    def arrays(call):
        fname, ks, scratch, _ = call
        return [home(v) for v in ks.inputs] + [home(v) for v in ks.outputs] + scratch

    def direct(kernel, call, comment=True):
        if comment:
            for n in kernel.nodes:
                w.line(node_comment(n, printed))
        w.line(f"{call[0]}({', '.join(arrays(call) + call[1].symbols)})")

    for item in _regions(plan, names, calls):
        if item[0] == "view":  # a free view: the same memory, reshaped
            kernel = item[1]
            for n in kernel.nodes:
                w.line(node_comment(n, printed))
            (v,) = kernel.outputs
            src = kernel.nodes[0].inputs[0]
            w.line(f"{names[v]} = {home(src)}.reshape({shape_code(v.type.shape)})")
            continue
        if item[0] == "call":
            direct(item[1], item[2])
            continue
        region = item[1]
        symbol = region[0][0].split.symbol
        for kernel, _, _ in region:
            for n in kernel.nodes:
                w.line(node_comment(n, printed))
        with w.block(f"if {symbol} < _MIN_BATCH:"):
            for kernel, call, _ in region:
                direct(kernel, call, comment=False)
        with w.block("else:  # halves of the batch in parallel threads, one join"):
            site = len(w.lines)
            parts = [
                f"({call[0]}, ({', '.join(arrays(call))},), {tuple(kinds)})"
                for _, call, kinds in region
            ]
            w.line(f"_split(({', '.join(parts)},), {symbol}, _parts, {site})")
    for k, v in mem.copies:
        w.line(f"{outs[k]}[...] = {home(v)}")
    result = [
        params[mem.of(v).index]
        if mem.of(v).kind == "donated" and not any(v is c for _, c in mem.copies)
        else outs[k]
        for k, v in enumerate(g.outputs)
    ]
    w.line(f"return [{', '.join(result)}]")
    return [
        "",
        "",
        f"def {ENTRY}({', '.join([*params, *syms, 'ws', 'outs'])}):",
        *w.lines,
    ]


def generate(plan, *, graph_hash: str, module_name) -> Source:
    """The program module for ``plan`` (a ``gradc.passes.plan.ProgramPlan``).

    ``module_name(text) -> str`` names a kernel module by its text (the caller's cache key)."""
    check_dtypes(plan.graph)
    names = _names(plan)
    printed = value_names(plan.graph)
    g = plan.graph
    kernels: dict[str, KernelSource] = {}
    calls, imports, seen = [], [], {}
    scratch: dict = {}  # (shape code, dtype name, k-th of a kernel) -> workspace name
    for kernel in plan.kernels:
        if is_alias_kernel(kernel):
            calls.append((kernel, None))
            continue
        ks = kernel_source(kernel, _same(plan, names, kernel))
        kinds = None  # how split hands each scratch array to its threads; None: not split
        if kernel.split is not None and ks.symbols == [kernel.split.symbol]:
            kinds = _scratch_kinds(ks, kernel.split.symbol)
            if kinds is None:  # scratch split cannot slice: the kernel allocates its own
                ks = kernel_source(kernel, _same(plan, names, kernel), hoist=False)
                kinds = []
        own, counts = [], {}
        for dims, dt in ks.scratch:  # kernels share buffers; the arrays of one kernel do not
            key = (shape_code(dims), dt)
            counts[key] = counts.get(key, 0) + 1
            own.append(scratch.setdefault((*key, counts[key]), f"_x{len(scratch)}"))
        mod = module_name(ks.text)
        if mod not in seen:
            seen[mod] = f"k{len(seen)}_{_ident(ks.name)}"
            kernels[mod] = ks
            imports.append(f"from {mod} import kernel as {seen[mod]}")
        calls.append((kernel, (seen[mod], ks, own, kinds)))
    if any(k.split is not None for k in plan.kernels):
        imports.append("from runtime.parallel import MIN_BATCH as _MIN_BATCH")
        imports.append("from runtime.parallel import split as _split")
    header = [
        f"# gradc generated program: graph {g.name}, hash {graph_hash}",
        f"# {len(kernels)} kernels; entry {ENTRY}("
        + ", ".join(names[v] for v in plan.params)
        + ")",
        "import numpy as np",
        "",
        *imports,
        "",
        "",
        "def _mismatch(name, got, want, text):",
        "    for d, (a, b) in enumerate(zip(got, want)):",
        "        if a != b:",
        '            raise ValueError(f"input {name} dim {d} must be {text[d]}")',
    ]
    ws_lines, ws = _workspace_fn(plan, names, printed, scratch)
    body = (
        _symbols_fn(plan, names)
        + ws_lines
        + _outputs_fn(plan)
        + _run_fn(plan, names, printed, calls, ws)
    )
    text = "\n".join(header + body) + "\n"
    return Source(text, ENTRY, [names[v] for v in plan.params], kernels)
