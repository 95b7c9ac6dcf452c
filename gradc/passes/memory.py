"""The memory plan: where every value that crosses a kernel boundary lives.

Each such value gets one ``Buffer``:
- ``input``: a graph input, a captured constant or a per-shape constant (``full``), read only;
- ``alias``: a view that costs nothing (``reshape`` of a contiguous buffer, ``stop_gradient``):
  the same memory as its ``source``, reshaped;
- ``output``: written straight into the caller's output array ``index`` (allocated by the
  runtime, or handed in by the caller, e.g. last call's ``.grad`` storage);
- ``donated``: the new value of a state input, written in place into that input's array
  (``index`` is the input's position), when the caller allows it (``donate``) and no kernel reads
  the old value after it is overwritten;
- ``temp``: an intermediate in workspace slot ``index``. Slots hold one dtype and are reused by
  values whose lifetimes (first writer to last reader, in kernel order) do not overlap; the
  workspace is allocated once per binding of the shape symbols and reused by every call.

Graph outputs that no kernel writes in place (an input passed through, a view, a value returned
twice) are ``copies``: the entry copies them into their output arrays after the last kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from gradc.ir.graph import Value
from gradc.passes.parallel import run_ends

ALIAS_OPS = frozenset({"reshape", "stop_gradient"})  # free on C-contiguous buffers


@dataclass
class Buffer:
    kind: str  # input | alias | output | donated | temp
    index: int = -1
    source: Value | None = None  # alias: the value whose memory this is


@dataclass
class Slot:
    dtype: str
    size: object  # elements: an int or a sympy expression of the shape symbols


@dataclass
class MemoryPlan:
    buffers: dict = field(default_factory=dict)  # id(Value) -> Buffer
    slots: list[Slot] = field(default_factory=list)
    copies: list[tuple] = field(default_factory=list)  # (output index, Value) after the kernels

    def of(self, v: Value) -> Buffer:
        return self.buffers[id(v)]


def _size(v: Value):
    out = sympy.Integer(1)
    for d in v.type.shape:
        out = out * d
    return out


def is_alias_kernel(kernel) -> bool:
    """A kernel that is one free view: no function, its value shares its input's memory."""
    return len(kernel.nodes) == 1 and kernel.nodes[0].op.name in ALIAS_OPS


def memory_plan(plan, donate: dict | None = None) -> MemoryPlan:
    """The memory plan of ``plan`` (a ``ProgramPlan``). ``donate`` maps an output index to the
    input index whose array may receive that output's value in place."""
    g = plan.graph
    donate = donate or {}
    mem = MemoryPlan()
    for v in plan.params:
        mem.buffers[id(v)] = Buffer("input")
    for n in plan.prelude:
        mem.buffers[id(n.out)] = Buffer("input")
    end = len(plan.kernels)
    out_pos: dict[int, list[int]] = {}
    for k, v in enumerate(g.outputs):
        out_pos.setdefault(id(v), []).append(k)

    # storage roots: an alias shares its source's memory, so its readers keep that alive
    root: dict[int, Value] = {}

    def root_of(v):
        return root.get(id(v), v)

    last: dict[int, int] = {}  # id(root) -> index of the last kernel reading it
    for k, kernel in enumerate(plan.kernels):
        if is_alias_kernel(kernel):
            root[id(kernel.outputs[0])] = root_of(kernel.nodes[0].inputs[0])
        for v in kernel.inputs:
            r = root_of(v)
            last[id(r)] = max(last.get(id(r), -1), k)
    for v in g.outputs:  # copied out after the last kernel
        r = root_of(v)
        last[id(r)] = end

    donated = _donations(plan, donate, out_pos, root_of, last)
    ends = run_ends(plan.kernels) + [end]
    free: list[int] = []
    live: list[tuple[int, int]] = []  # (last reader's run's end, slot)
    for k, kernel in enumerate(plan.kernels):
        free += [s for lst, s in live if lst < k]
        live = [(lst, s) for lst, s in live if lst >= k]
        if is_alias_kernel(kernel):
            (v,) = kernel.outputs
            mem.buffers[id(v)] = Buffer("alias", source=kernel.nodes[0].inputs[0])
            continue
        for v in kernel.outputs:
            pos = out_pos.get(id(v))
            if id(v) in donated:
                mem.buffers[id(v)] = Buffer("donated", donated[id(v)])
            elif pos:
                mem.buffers[id(v)] = Buffer("output", pos[0])
            else:
                s = _take(mem, free, v)
                mem.buffers[id(v)] = Buffer("temp", s)
                live.append((ends[last.get(id(v), k)], s))
    for k, v in enumerate(g.outputs):  # written directly: the first output of a kernel value
        if mem.buffers[id(v)].kind not in ("output", "donated") or out_pos[id(v)][0] != k:
            mem.copies.append((k, v))
    return mem


def _take(mem: MemoryPlan, free: list[int], v: Value) -> int:
    """A free slot of ``v``'s dtype (grown to fit), else a new one."""
    dt, size = v.type.dtype.name, _size(v)
    for i, s in enumerate(free):
        slot = mem.slots[s]
        if slot.dtype == dt:
            free.pop(i)
            slot.size = sympy.Max(slot.size, size)
            return s
    mem.slots.append(Slot(dt, size))
    return len(mem.slots) - 1


def _donations(plan, donate, out_pos, root_of, last) -> dict:
    """``id(value) -> input index`` for the donated outputs that can be written in place.

    The new value ``V`` of input ``X`` goes into ``X``'s array when: ``V`` is a kernel's own
    value returned once; no kernel after ``V``'s reads ``X`` (or a view of it); ``X`` is not
    itself returned; and inside that kernel ``V``'s loop reads ``X`` only at the element it
    writes (no broadcast), and no later step reads ``X`` at all."""
    g = plan.graph
    producer = {id(v): (k, kern) for k, kern in enumerate(plan.kernels) for v in kern.outputs}
    returned = {id(root_of(v)) for v in g.outputs}
    out = {}
    for k_out, i_in in donate.items():
        v, x = g.outputs[k_out], g.inputs[i_in]
        if id(v) not in producer or len(out_pos[id(v)]) != 1 or id(x) in returned:
            continue
        if any(id(v) == id(w) for w in g.inputs):
            continue
        k, kern = producer[id(v)]
        if last.get(id(x), -1) > k:
            continue
        if x.type != v.type or not _elementwise_in_kernel(kern, v, x, root_of):
            continue
        out[id(v)] = i_in
    return out


def _elementwise_in_kernel(kern, v, x, root_of) -> bool:
    if any(a is not x and root_of(a) is x for a in kern.inputs):
        return False  # a view of x indexes it differently
    steps = kern.steps
    at = next((i for i, s in enumerate(steps) if any(n.out is v for n in s.nodes)), None)
    if at is None or steps[at].kind != "loop":
        return False
    step = steps[at]
    for n in step.nodes:
        for a in n.inputs:
            if a is x and tuple(a.type.shape) != tuple(step.shape):
                return False
    return not any(a is x for s in steps[at + 1 :] for n in s.nodes for a in n.inputs)
