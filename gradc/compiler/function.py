"""``CompiledFunction``: trace on first call (per guard set), run the graph, write state back.

One call: find the state the function reaches (modules, optimizers, tensors through closures,
globals, ``self`` or arguments), check the guards, trace and compile if no cached graph fits,
then read every input slot, run the backend, write each ``new`` output to its place (parameter
storage, ``.grad``, optimizer state, the RNG state) and wrap the results as Tensors.

Results that require grad (a module's forward) come from the forward half of the partitioned
joint graph and carry a ``grad_fn`` that runs the backward half, so ``loss.backward()`` fills
``.grad`` as eager mode does. A function that itself calls ``backward()`` (a training step) is
one graph, and its results are plain values.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from gradc import autodiff
from gradc._tensor import Tensor
from gradc.autograd import grad_mode
from gradc.autograd.function import Node, edge_of
from gradc.capture import flatten, reachable
from gradc.compiler import guards as G
from gradc.dispatch import current_graph
from gradc.errors import AutogradError, ShapeError, TraceError
from gradc.ir.graph import Graph
from gradc.ir.printer import format_graph
from gradc.ir.symbols import Dim
from gradc.shapes import TensorType
from gradc.slots import ArgGradSlot, ArgSlot, GradSlot, RngSlot, state_slots
from gradc.trace import _input_names, run
from gradc.views import set_history

COUNTERS = {"compiles": 0}
_ABSENT = object()  # every trace-and-compile in this process, for tests and logs


class Entry:
    """One compiled variant: the traced graph, its backend callables and its calling plan."""

    def __init__(self, traced, call, fwd=None, bwd=None, bwd_call=None):
        self.traced, self.call, self.fwd, self.bwd, self.bwd_call = traced, call, fwd, bwd, bwd_call


class CompiledFunction:
    """``gradc.compile(fn)``: call it like ``fn``."""

    def __init__(self, fn, backend, *, dynamic: bool = True, module=None, name=None):
        self.fn, self.make, self.dynamic, self.module = fn, backend, dynamic, module
        self.name = name or getattr(fn, "__qualname__", type(fn).__name__)
        self.entries: list[Entry] = []
        self.last: list | None = None
        self.compiles = 0
        self._names: dict = {}  # number of arguments -> their names (from the signature)
        self._fast = None  # (structure fingerprint, entry, [(probe, expected value)])

    # ---- one call ------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if kwargs:
            raise TypeError(
                f"gradc.compile: call {self.name} with positional arguments only "
                f"(got {', '.join(kwargs)} by keyword)"
            )
        if current_graph() is not None:  # called inside another trace: inline the function
            return (self.module or self.fn)(*args)
        found = self._found(args)
        fp = (len(args), G.fingerprint(found))
        fast = self._fast
        if fast is not None and fast[0] == fp and all(fn(args) == v for fn, v in fast[2]):
            return self._run(fast[1], args)
        names = self._names.get(len(args))
        if names is None:
            target = self.module if self.module is not None else self.fn
            names = self._names[len(args)] = _input_names(target, len(args))
        slots = self._slots(names, args, found)
        probes = G.probes(names, args, found, slots, self.dynamic)
        guard_list = [(label, fn(args)) for label, fn in probes]
        now = dict(guard_list)
        entry = next(
            (e for e in self.entries if all(now.get(k, _ABSENT) == v for k, v in e.guards)), None
        )
        if entry is None:
            if self.last is not None:
                G.log_recompile(self.name, G.failed(self.last, guard_list), self.compiles + 1)
            dynamic = self.dynamic
            entry = self._compile(names, args, found, slots)
            if self.dynamic != dynamic:  # specialised to static shapes: guard every dim
                probes = G.probes(names, args, found, slots, self.dynamic)
                guard_list = [(label, fn(args)) for label, fn in probes]
            entry.guards = self._relevant(guard_list, slots, entry)
            self.entries.append(entry)
            self.last = entry.guards
        # the next call of this structure checks just this entry's guards (~20 us, where
        # finding slots and building guards took ~150 us a call for LeNet's step)
        want = dict(entry.guards)
        self._fast = (fp, entry, [(fn, want[label]) for label, fn in probes if label in want])
        return self._run(entry, args)

    def _relevant(self, guard_list, slots, entry):
        """A module's forward neither reads nor writes ``.grad`` (backward does, eagerly):
        whether a ``.grad`` exists is no guard of its graph."""
        if self.module is None:
            return guard_list
        used = {id(s) for s, _ in entry.traced.inputs} | {id(s) for s, _ in entry.traced.writes}
        skip = {s.name for s in slots if isinstance(s, GradSlot) and id(s) not in used}
        return [(k, v) for k, v in guard_list if k.rpartition(".")[0] not in skip and k not in skip]

    def _found(self, args):
        roots = [("", self.module)] if self.module is not None else []
        target = self.module.forward if self.module is not None else self.fn
        roots += reachable(target)
        roots += [(f"arg{i}", a) for i, a in enumerate(args) if not isinstance(a, Tensor)]
        return flatten(roots)

    def _slots(self, names, args, found):
        slots, named = [], {}
        for i, (name, a) in enumerate(zip(names, args)):
            if isinstance(a, Tensor) and id(a) not in named:
                named[id(a)] = name
                slots.append(ArgSlot(name, i))
                if a.dtype.is_floating_point and a.requires_grad:
                    slots.append(ArgGradSlot(f"{name}.grad", name, i))
        return slots + state_slots(found, named) + [RngSlot()]

    # ---- compiling -----------------------------------------------------------------------------
    def _compile(self, names, args, found, slots):
        graph = Graph(_graph_name(self.name))
        symbols: dict = {}
        for slot in slots:
            if isinstance(slot, ArgSlot):
                t = args[slot.index]
                shape = list(t.shape)
                if self.dynamic and shape:
                    sym = symbols.setdefault(shape[0], "N" if not symbols else f"N{len(symbols)}")
                    shape[0] = Dim(sym)
                slot.type = TensorType(t.dtype, tuple(shape))
        n_args = sum(isinstance(s, ArgSlot) for s in slots)
        try:
            traced = run(graph, self.fn, list(args), slots, found, keep=n_args, slot_args=args)
        except (TraceError, ShapeError, TypeError) as e:
            why = _static_reason(e) if self.dynamic else None
            if why is None:
                raise
        else:
            return self._compile_traced(traced)
        self.dynamic = False  # specialise; if this call's sizes fail too, that error is the user's
        try:
            entry = self._compile(names, args, found, self._slots(names, args, found))
        except Exception:
            self.dynamic = True
            raise
        G.log_recompile(self.name, f"{why}: static", 0)
        return entry

    def _compile_traced(self, traced):
        self.compiles += 1
        COUNTERS["compiles"] += 1
        want_grad = (
            grad_mode.is_grad_enabled()
            and not traced.called_backward
            and any(traced.requires_grad)
            and traced.wrt
        )
        if not want_grad:
            _debug(2, "forward", traced.graph)  # a whole step: forward, backward and update
            return Entry(traced, self._backend(traced))
        joint = autodiff.joint_graph(traced.graph, wrt=traced.wrt, name="joint")
        fwd, bwd = autodiff.partition(joint, names=("forward", "backward"))
        _debug(2, "forward", fwd)
        _debug(3, "backward", bwd)
        return Entry(traced, self.make(fwd), fwd, bwd, self.make(bwd))

    def _backend(self, traced):
        """The backend's callable for a graph with no compiled backward: a backend that can
        (``make.donates``) writes new values of state into the arrays they replace."""
        if not getattr(self.make, "donates", False):
            return self.make(traced.graph)
        at = {id(slot): k for k, (slot, _) in enumerate(traced.inputs)}
        donate = {i: at[id(s)] for s, i in traced.writes if i is not None and id(s) in at}
        return self.make(traced.graph, donate=donate)

    # ---- running -------------------------------------------------------------------------------
    def _run(self, entry, args):
        traced = entry.traced
        feed = [_array(slot.read(args)) for slot, _ in traced.inputs]
        if getattr(self.make, "donates", False) and entry.bwd is None:
            outs = list(entry.call(*feed, out=_reusable(traced, args)))
        else:
            outs = list(entry.call(*feed))
        kept = _kept(entry, feed) if entry.bwd is not None else {}
        for slot, idx in traced.writes:
            slot.write(args, None if idx is None else outs[idx])
        results = [Tensor._wrap(a) for a in outs[: traced.n_results]]
        if entry.bwd is not None:
            self._attach_grad(entry, args, feed, outs, results, kept)
            for slot, k in traced.rebased:  # a non-leaf written in place: its new history
                set_history(slot.read(args), results[k].grad_fn, True)
        return _structure(traced, results[: traced.n_user])

    def _attach_grad(self, entry, args, feed, outs, results, kept):
        traced = entry.traced
        by_value = {id(v): slot for slot, v in traced.inputs}
        wrt = [by_value[id(v)].read(args) for v in traced.wrt]
        env = {v.name: a for (_, v), a in zip(traced.inputs, feed)} | kept
        needed = {v.name for v in entry.bwd.inputs}
        watch = [  # the backward reads these arrays: an in-place change before it is an error
            (t, t._version)
            for slot, v in traced.inputs
            if v.name in needed and v.name not in kept and isinstance(t := slot.read(args), Tensor)
        ]
        for name, role, a in zip(entry.fwd.output_names, entry.fwd.roles(), outs):
            if role.kind == "saved":
                env["%" + name] = a
        floats = [k for k, t in enumerate(results) if t.dtype.is_floating_point]
        for k, rg in enumerate(traced.requires_grad):
            if rg:
                node = CompiledBackward(entry, env, wrt, results, floats, k, watch)
                results[k].grad_fn, results[k].requires_grad = node, True


class CompiledBackward(Node):
    """The ``grad_fn`` of a compiled result: runs the compiled backward graph with the saved
    values of its forward call; edges lead to the parameters' and inputs' own tape nodes."""

    def __init__(self, entry, env, wrt, results, floats, index, watch=()):
        self.entry, self.env, self.floats, self.index = entry, env, floats, index
        self.watch = list(watch)
        self.shapes = [(results[k]._data.shape, results[k]._data.dtype) for k in floats]
        self._next = tuple(edge_of(t) if t.requires_grad else (None, 0) for t in wrt)
        self.released = False

    def name(self) -> str:
        return "CompiledFunctionBackward"

    @property
    def next_functions(self) -> tuple:
        return self._next

    def apply(self, ct):
        if self.released:
            raise AutogradError(
                "Trying to backward through the compiled graph a second time: pass "
                "retain_graph=True to the first backward()",
                op=self.name(),
            )
        if grad_mode.is_grad_enabled():
            raise AutogradError(
                "create_graph=True through a compiled module is not supported: its backward "
                "is a compiled graph; differentiate the eager module (or gradc.grad_graph)",
                op=self.name(),
            )
        stale = self.entry.traced.stale[self.index]
        if stale is not None:  # a saved value the function itself wrote in place afterwards
            raise AutogradError(stale.msg, op=stale.op, where=stale.where)
        for t, version in self.watch:
            if t._version != version:
                raise AutogradError(
                    f"one of the tensors needed for gradient computation has been modified by "
                    f"an in-place operation: {t.type} is at version {t._version}; expected "
                    f"version {version}",
                    op=self.name(),
                )
        tangents = iter(
            ct._concrete("backward") if k == self.index else np.zeros(shape, dtype)
            for k, (shape, dtype) in zip(self.floats, self.shapes)
        )
        env = dict(self.env)
        feed = []
        for v in self.entry.bwd.inputs:
            feed.append(next(tangents) if v.role.kind == "tangent" else env[v.name])
        grads = self.entry.bwd_call(*feed)
        return [Tensor._wrap(np.asarray(g)) for g in grads]

    def release(self) -> None:
        self.env, self.watch, self.released = None, None, True


def _static_reason(e: Exception) -> str | None:
    """Why a trace with a symbolic batch dim failed where one with this call's sizes may not:
    control flow on the batch size, or shapes that fit only this size (``x.view(3, 2)``,
    ``y * w`` with a [2, 3] ``w``, slicing a symbolic dim with a step)."""
    if isinstance(e, TraceError):
        return "the batch size decides control flow" if "symbolic dimension" in str(e) else None
    if isinstance(e, ShapeError):
        return f"shapes that hold only for this batch size ({e.msg})"
    if "symbols" in str(e):  # sympy: a symbolic dim where numbers are needed
        return f"a symbolic batch size where a number is needed ({e})"
    return None


def _kept(entry, feed) -> dict:
    """Copies of the input arrays that the backward reads and the call writes back into (a
    non-leaf argument written in place): the backward needs their values before the write."""
    traced = entry.traced
    needed = {v.name for v in entry.bwd.inputs}
    written = {id(slot) for slot, idx in traced.writes if idx is not None}
    return {
        v.name: np.array(a)
        for (slot, v), a in zip(traced.inputs, feed)
        if id(slot) in written and v.name in needed
    }


def _reusable(traced, args) -> list | None:
    """For each output, an array the program may write it into: the storage of a ``.grad``
    it replaces when nothing but its owner holds that tensor or its array (so reusing it cannot
    be observed, and steady steps allocate nothing)."""
    out = None
    for slot, idx in traced.writes:
        if idx is None or not isinstance(slot, GradSlot):
            continue
        t = slot.read(args)
        # references: the owner's attribute, the local ``t`` and getrefcount's argument
        if isinstance(t, Tensor) and sys.getrefcount(t) <= 3 and sys.getrefcount(t._data) <= 3:
            if out is None:
                out = [None] * (max(i for _, i in traced.writes if i is not None) + 1)
            out[idx] = t._data
    return out


def _holds(guard_list, now: dict) -> bool:
    return all(now.get(k, _ABSENT) == v for k, v in guard_list)


def _array(t):
    return t._concrete("gradc.compile") if isinstance(t, Tensor) else np.asarray(t)


def _structure(traced, results):
    if traced.structure == "NoneType":
        return None
    if traced.structure is None:
        return results[0]
    if traced.structure == "dict":
        return dict(zip(traced.names, results))
    return list(results) if traced.structure == "list" else tuple(results)


def _graph_name(name: str) -> str:
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in name).strip("_")
    return out or "compiled"


def _debug(level: int, stage: str, graph) -> None:
    """``GRADC_DEBUG>=2`` prints the forward IR of each compile, ``>=3`` the backward IR too
    (``>=4``: the generated source, printed by ``gradc.lower``; ``1``: kernel timings)."""
    if int(os.environ.get("GRADC_DEBUG", "0") or 0) >= level:
        print(f"gradc: {stage} IR\n{format_graph(graph)}", file=sys.stderr)
