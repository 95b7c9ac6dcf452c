"""``gradc.trace``: run a function or module once on graph values and record a ``Graph``.

Every op goes through ``dispatch.apply``, which appends a node when an input holds a graph value;
tracing only has to make the inputs (and a module's parameters) graph values and collect the
outputs. Shapes may hold sympy symbols (``gradc.Dim("N")``), so one graph serves every batch size.
"""

from __future__ import annotations

import inspect
import linecache
import os
import sys

import numpy as np
import sympy

from gradc import dispatch, dtypes
from gradc._tensor import Tensor
from gradc.autograd import grad_mode
from gradc.autograd.engine import stale_saved
from gradc.capture import Capture, flatten, leftovers, reachable
from gradc.errors import TraceError
from gradc.ir.graph import RESULT, Graph, Role
from gradc.ir.symbols import Dim
from gradc.shapes import TensorType, canon
from gradc.slots import (
    GradSlot,
    RngSlot,
    TensorSlot,
    is_module,
    optimizer_state_slots,
    state_slots,
)
from gradc.views import current as current_view

_SKIP_DIRS = tuple(
    os.path.dirname(os.path.abspath(m.__file__)) + os.sep for m in (sys.modules["gradc"], sympy)
)


class TensorSpec:
    """A traced input known only by shape and dtype; shape entries may be ``gradc.Dim``\\ s.

    >>> N = gradc.Dim("N")
    >>> gradc.trace(net, gradc.TensorSpec((N, 1, 32, 32), gradc.float64))
    """

    def __init__(self, shape, dtype=None):
        self.shape = tuple(canon(d) for d in shape)
        self.dtype = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()

    @property
    def type(self) -> TensorType:
        return TensorType(self.dtype, self.shape)

    def __repr__(self) -> str:
        return f"TensorSpec({self.type})"


def trace(fn, *inputs, dynamic=None, params=None, name: str = "forward") -> Graph:
    """Trace ``fn`` (a function or an ``nn.Module``) into a ``Graph``.

    ``inputs`` are example Tensors (or arrays), ``TensorSpec``\\ s or ``(shape, dtype)`` pairs;
    anything else (ints, flags) is passed through as a Python value. ``dynamic`` makes example
    tensors' dims symbolic: ``True`` turns dim 0 of each into ``N``; ``{0: "N"}`` names dims for
    every tensor input; a list gives one such dict (or None) per input. A module's parameters
    and buffers become graph inputs after the user's (``param %fc.weight``), never constants;
    so do ``params`` (a module or a ``{name: Tensor}`` dict) and every tensor the function
    reaches through a closure or a global (a module's weights, an optimizer's state). Tensors
    the function changes in place come back as ``new(NAME)`` outputs.

    >>> g = gradc.trace(net, gradc.randn(8, 1, 32, 32), dynamic=True)
    >>> print(g)                         # graph forward(%x: f32[N,1,32,32], param %conv1.weight...
    >>> loss = gradc.trace(lambda x, y: F.mse_loss(net(x), y), x, y)
    """
    graph = Graph(name)
    names = _input_names(fn, len(inputs))
    args = []
    for i, (a, nm) in enumerate(zip(inputs, names)):
        spec = _spec_of(a, _dynamic_for(dynamic, i, len(inputs)))
        if spec is None:
            args.append(a)
            continue
        t = Tensor._wrap(graph.add_input(nm, spec.type))
        # every float input counts as differentiable, so that detach() and no_grad() blocks
        # inside become stop_gradient whatever ``wrt`` the graph is later differentiated by
        t.requires_grad = spec.dtype.is_floating_point
        args.append(t)
    named: dict = {}
    owner = fn if params is None else params
    if is_module(owner):  # parameters, their .grad, buffers (reassignable), by module names
        slots = state_slots([("", owner)], named)
    else:
        slots = []
        for pname, p in _named_tensors(owner):
            named[id(p)] = pname
            slots.append(TensorSlot(pname, _role_of(p, fn, params), p))
            if p.dtype.is_floating_point:
                slots.append(GradSlot(f"{pname}.grad", pname, p))
    explicit = [s for s in slots if not isinstance(s, GradSlot)]
    found = flatten(reachable(getattr(fn, "forward", fn)))
    slots += state_slots(found, named) + [RngSlot()]
    traced = run(graph, fn, args, slots, found, keep=len(graph.inputs), keep_slots=explicit)
    return traced.graph


class Traced:
    """What ``run`` made: the graph (results, then ``new`` values), the slots its state inputs
    read, the places its ``new`` outputs go (or None: set to None), and ``wrt``."""

    def __init__(self, graph, inputs, writes, n_results, wrt):
        self.graph, self.inputs, self.writes = graph, inputs, writes
        self.n_results, self.wrt = n_results, wrt

    @property
    def called_backward(self) -> bool:
        return any(isinstance(slot, GradSlot) for slot, _ in self.writes)


def run(graph, fn, args, slots, found=(), *, keep: int = 0, keep_slots=(), slot_args=()) -> Traced:
    """Trace ``fn(*args)`` into ``graph`` with ``slots`` lifted to inputs (unused ones dropped,
    but never the first ``keep`` inputs nor those of ``keep_slots``); restore every lifted
    tensor afterwards."""
    cap = Capture(graph, slots, slot_args)
    optimizers = [(n, o) for n, o in found if hasattr(o, "param_groups")]
    cap.snapshot_states([o for _, o in optimizers])
    try:
        cap.lift_all()
        dispatch._trace_stack.append(graph)
        try:
            out = fn(*args)
            for t in _items(out):  # results that are views of bases written since: re-derived
                if isinstance(t, Tensor):
                    current_view(t)
        except TypeError as e:
            raise _undecidable(e) from None
        finally:
            dispatch._trace_stack.pop()
        named = {id(s.read(slot_args)): s.name for s in cap.slots if isinstance(s, TensorSlot)}
        extra = [s for n, o in optimizers for s in optimizer_state_slots(n, o, named)]
        results, names = _outputs(graph, () if out is None else out)  # a step may return None
        items = _items(out)
        requires_grad = [t.requires_grad and t.dtype.is_floating_point for t in items]
        changed = cap.changes(extra)
        rebased = _rebased(cap, changed)
        results += [graph.lift(t) for _, t in rebased]
        items += [t for _, t in rebased]
        requires_grad += [True] * len(rebased)
        stale = [stale_saved(t._grad_fn) if rg else None for t, rg in zip(items, requires_grad)]
        changes = [(slot, graph.lift(t, const=True) if t is not None else None)
                   for slot, t in changed]  # fmt: skip
    finally:
        cap.restore()
    left = leftovers(found)
    if left:
        raise TraceError(
            f"the traced function stored traced values where gradc cannot write them back: "
            f"{', '.join(left)}; keep state in parameters, registered buffers or optimizer state",
            op="trace",
        )
    news = [(s, v) for s, v in changes if v is not None]
    n_user = len(results) - len(rebased)
    graph.set_outputs(
        results + [v for _, v in news],
        (names or _default_names(n_user))
        + [f"{s.name}.rebased" for s, _ in rebased]
        + [s.name for s, _ in news],
        [RESULT] * len(results) + [Role("new", of=s.name) for s, _ in news],
    )
    if not news and names is None:
        graph.output_names = None
        graph.output_roles = None
    if not graph.outputs:
        raise TraceError("the traced function returns nothing and changes no state", op="trace")
    inputs = _prune(graph, cap.inputs, keep, keep_slots)
    writes, k = [], len(results)
    for slot, v in changes:
        writes.append((slot, None if v is None else k))
        k += v is not None
    wrt = [v for v in cap.wrt if v in set(graph.inputs)]
    traced = Traced(graph, inputs, writes, len(results), wrt)
    traced.requires_grad = requires_grad
    traced.n_user = n_user  # results the function returned; then one per rebased tensor
    traced.rebased = [(slot, n_user + i) for i, (slot, _) in enumerate(rebased)]
    traced.stale = stale  # per result: what eager backward from it would refuse, or None
    traced.structure = (
        type(out).__name__ if isinstance(out, (tuple, list, dict)) or out is None else None
    )
    traced.names = names
    return traced


class recording:
    """``with recording(graph):`` ops on its values append to ``graph`` (the active trace)."""

    def __init__(self, graph: Graph):
        self.graph = graph

    def __enter__(self):
        dispatch._trace_stack.append(self.graph)
        return self.graph

    def __exit__(self, *exc):
        dispatch._trace_stack.pop()
        return False


def _rebased(cap, changed) -> list:
    """``(slot, tensor)`` for arguments and captured tensors whose autograd history the
    function changed (a non-leaf written in place with grad on): their new value is also a
    result, so that after the call the tensor's ``grad_fn`` runs the compiled backward."""
    if not grad_mode.is_grad_enabled():
        return []
    out = []
    for slot, t in changed:
        held = cap.saved.get(id(t)) if isinstance(slot, TensorSlot) and t is not None else None
        if held is not None and t.requires_grad and t._grad_fn is not held[1][2]:
            out.append((slot, t))
    return out


def _items(out) -> list:
    items = list(out.values()) if isinstance(out, dict) else out
    return list(items) if isinstance(items, (tuple, list)) else [] if out is None else [items]


def _default_names(n: int) -> list[str]:
    return ["out"] if n == 1 else [f"out{i}" for i in range(n)]


def _prune(graph, inputs, keep: int, keep_slots) -> list:
    """Drop state inputs nothing reads; the slots of the inputs that remain, in order."""
    used = {id(v) for n in graph.nodes for v in n.inputs} | {id(v) for v in graph.outputs}
    kept = {id(s) for s in keep_slots}
    keep_ids = {id(v) for v in graph.inputs[:keep]} | {id(v) for s, v in inputs if id(s) in kept}
    graph.inputs = [v for v in graph.inputs if id(v) in used or id(v) in keep_ids]
    alive = {id(v) for v in graph.inputs}
    return [(slot, v) for slot, v in inputs if id(v) in alive]


def _role_of(t, fn, params) -> Role:
    owner = fn if params is None else params
    buffers = {id(b) for _, b in owner.named_buffers()} if hasattr(owner, "named_buffers") else ()
    if id(t) in buffers:
        return Role("buffer")
    return Role("param", frozen=not t.requires_grad)


def _input_names(fn, n: int) -> list[str]:
    target = getattr(fn, "forward", fn)
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return [f"x{i}" for i in range(n)]
    names, star = [], None
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        elif p.kind is p.VAR_POSITIONAL:
            star = p.name
    names = names[:n]
    names += [f"{star or 'x'}{i}" for i in range(len(names), n)]
    return names


def _named_tensors(fn) -> list:
    """A module's parameters, then its buffers, by qualified name (or a dict's items)."""
    if isinstance(fn, dict):
        return list(fn.items())
    if not hasattr(fn, "named_parameters"):
        return []
    out = list(fn.named_parameters())
    if hasattr(fn, "named_buffers"):
        out += [(n, b) for n, b in fn.named_buffers() if b is not None]
    seen, unique = set(), []
    for n, t in out:
        if id(t) not in seen:  # shared (tied) tensors are one input
            seen.add(id(t))
            unique.append((n, t))
    return unique


def _dynamic_for(dynamic, i: int, n: int):
    if dynamic is None or dynamic is False:
        return None
    if dynamic is True:
        return {0: "N"}
    if isinstance(dynamic, dict):
        return dynamic
    if isinstance(dynamic, (list, tuple)):
        if len(dynamic) != n:
            raise TraceError(f"dynamic= has {len(dynamic)} entries for {n} inputs", op="trace")
        return _dynamic_for(dynamic[i], i, n)
    raise TraceError(f"dynamic= must be True, a dict or a list of dicts, got {dynamic!r}")


def _spec_of(a, dyn) -> TensorSpec | None:
    if isinstance(a, TensorSpec):
        spec = a
    elif isinstance(a, Tensor):
        if a.is_traced:
            raise TraceError("an input is already a traced tensor", op="trace")
        spec = TensorSpec(a.shape, a.dtype)
    elif isinstance(a, np.ndarray):
        spec = TensorSpec(a.shape, a.dtype)
    elif (
        isinstance(a, tuple)
        and len(a) == 2
        and isinstance(a[0], (tuple, list))
        and not isinstance(a[1], (int, sympy.Basic))
    ):
        spec = TensorSpec(a[0], a[1])
    else:
        return None
    if dyn and not isinstance(a, TensorSpec):
        shape = list(spec.shape)
        for d, sym in dyn.items():
            if -len(shape) <= d < len(shape):
                shape[d] = Dim(sym) if isinstance(sym, str) else sym
        spec = TensorSpec(shape, spec.dtype)
    return spec


def _outputs(graph, out):
    if isinstance(out, dict):
        names, items = [str(k) for k in out], list(out.values())
    elif isinstance(out, (tuple, list)):
        names, items = None, list(out)
    else:
        names, items = None, [out]
    values = []
    for t in items:
        if not isinstance(t, Tensor):
            raise TraceError(
                f"the traced function must return Tensors (or a tuple, list or dict of them), "
                f"got {type(t).__name__}",
                op="trace",
            )
        values.append(graph.lift(t))
    return values, names


def _undecidable(e: TypeError) -> Exception:
    """Python ``if`` on a symbolic shape (``if x.shape[0] > 1``) becomes a TraceError."""
    if "truth value of Relational" not in str(e):
        return e
    tb, where = e.__traceback__, None
    while tb is not None:
        f = tb.tb_frame
        if not f.f_code.co_filename.startswith(_SKIP_DIRS):
            src = linecache.getline(f.f_code.co_filename, tb.tb_lineno).strip()
            where = f"{f.f_code.co_filename}:{tb.tb_lineno}: {src}"
        tb = tb.tb_next
    cond = str(e).rpartition(": ")[2]
    return TraceError(
        f"the Python condition {cond} on a symbolic dimension cannot be decided for every size; "
        "trace with a static shape (no dynamic=/Dim for that dim) or avoid branching on it",
        op="trace",
        where=where,
    )


__all__ = ["trace", "TensorSpec", "Dim"]
