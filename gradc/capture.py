"""What a trace reaches outside its arguments: state lifted to graph inputs, written back after.

A function that trains reads and writes tensors it was never given: a module's parameters
through a closure or ``self``, their ``.grad``, the optimizer's state and learning rate, the
random generator. ``Capture`` turns each of them into a graph input with a role (swapping the
tensor's payload for the input value while tracing), lets the function update them the way it
does eagerly (in-place writes rebind the payload to a new SSA value: functionalisation), and at
the end turns every changed place into a ``new`` output, then restores everything, so no traced
value is left behind. A ``Slot`` names one place, so the compiled function can read it before a
call and write its new value after.
"""

from __future__ import annotations

import types

from gradc._tensor import Tensor
from gradc.ir.graph import Graph, Role
from gradc.slots import HyperSlot, Slot, TensorSlot, is_module, is_optimizer, join

# ---- finding the state a function reaches ------------------------------------------------------


def reachable(fn) -> list[tuple[str, object]]:
    """``(name, obj)`` for the modules, optimizers and tensors ``fn`` can reach without
    arguments: ``self`` of a bound method, closure cells, and the globals its code names."""
    found: list = []
    if isinstance(fn, types.MethodType):
        found.append(("self", fn.__self__))
        fn = fn.__func__
    code = getattr(fn, "__code__", None)
    if code is None:
        return found + [(n, v) for n, v in vars(fn).items()] if hasattr(fn, "__dict__") else found
    for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
        try:
            found.append((name, cell.cell_contents))
        except ValueError:  # an empty cell
            pass
    names, stack = set(), [code]
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    g = getattr(fn, "__globals__", {})
    found += [(n, g[n]) for n in sorted(names) if n in g]
    return found


def flatten(found, depth: int = 2):
    """The modules, optimizers and tensors among ``found``, looking into lists, tuples, dicts
    and plain objects' attributes ``depth`` levels deep."""
    out, seen = [], set()

    def visit(name, obj, d):
        if id(obj) in seen or isinstance(obj, (type, types.ModuleType, types.FunctionType)):
            return
        obj = obj.__dict__.get("_orig_mod", obj) if hasattr(obj, "__dict__") else obj  # compiled
        if isinstance(obj, Tensor) or is_module(obj) or is_optimizer(obj):
            seen.add(id(obj))
            out.append((name, obj))
            return
        if d == 0:
            return
        seen.add(id(obj))
        if isinstance(obj, dict):
            items = [(f"{name}.{k}", v) for k, v in obj.items() if isinstance(k, (str, int))]
        elif isinstance(obj, (list, tuple)):
            items = [(f"{name}.{k}", v) for k, v in enumerate(obj)]
        elif hasattr(obj, "__dict__") and not callable(obj):
            items = [(f"{name}.{k}", v) for k, v in vars(obj).items() if not k.startswith("__")]
        else:
            return
        for n, v in items:
            visit(n, v, d - 1)

    for name, obj in found:
        visit(name, obj, depth)
    return out


# ---- the capture of one trace ------------------------------------------------------------------


class Capture:
    """Lifts slots to graph inputs for one trace and collects what changed.

    >>> cap = Capture(graph, slots, args)
    >>> cap.lift_all(); out = fn(*traced_args); news = cap.changes(); cap.restore()
    """

    def __init__(self, graph: Graph, slots: list[Slot], args=()):
        self.graph, self.slots, self.args = graph, list(slots), args
        self.inputs: list[tuple] = []  # (slot, Value), in graph input order
        self.saved: dict[int, tuple] = {}  # id(tensor) -> (tensor, its attributes before)
        self.refs: list[tuple] = []  # (slot, tensor object there before) for every slot
        self.states: list[tuple] = []  # (optimizer state dict, its items before)
        self.born: set[int] = set()
        self.keep: list = []  # born tensors, kept alive so their ids stay unique
        self.captured = 0
        self.wrt: list = []  # inputs whose tensors require grad: what gradients are taken of
        graph.capture = self

    # while tracing ---------------------------------------------------------------------------
    def note_born(self, t) -> None:
        self.born.add(id(t))
        self.keep.append(t)

    def lift(self, slot: Slot, t: Tensor | None = None):
        """Make the tensor in ``slot`` a graph input (once per tensor object)."""
        t = slot.read(self.args) if t is None else t
        self.refs.append((slot, slot.group[slot.key] if isinstance(slot, HyperSlot) else t))
        if t is None:
            return None
        if t.is_traced:  # already lifted (a tied weight; a param that is also an argument)
            return t._data
        if id(t) not in self.saved:
            self.saved[id(t)] = (
                t,
                (t._data, t.grad, t.grad_fn, t.requires_grad, t._accumulator, t._version, t._view),
            )
            t._view = None  # an eager view is its own input: its write-back reaches its base
        name = self._fresh(slot.name)
        v = self.graph.add_input(name, getattr(slot, "type", None) or t.type, slot.role)
        if t.requires_grad and not isinstance(slot, HyperSlot):
            self.wrt.append(v)
        if isinstance(slot, HyperSlot):
            t = Tensor._wrap(v)
            slot.replace(self.args, t)
        else:
            t._data = v
        self.inputs.append((slot, v))
        return v

    def lift_all(self) -> None:
        for slot in self.slots:
            self.lift(slot)

    def snapshot_states(self, optimizers) -> None:
        for opt in optimizers:
            for st in list(opt.state.values()):
                self.states.append((st, dict(st)))
            self.states.append((opt.state, dict(opt.state)))

    def outside(self, t: Tensor):
        """A concrete tensor an op met while tracing: a constant if the function made it,
        else state it reached some other way, lifted as an input (never baked)."""
        if id(t) in self.born:
            return None
        self.captured += 1
        role = "param" if t.requires_grad else "buffer"
        slot = TensorSlot(f"captured_{self.captured}", Role(role), t)
        self.slots.append(slot)
        return self.lift(slot)

    def _fresh(self, name: str) -> str:
        taken = {v.name for v in self.graph.inputs}
        base, k = name, 1
        while "%" + name in taken:
            k += 1
            name = f"{base}_{k}"
        return name

    # after tracing -------------------------------------------------------------------------
    def changes(self, extra_slots=()) -> list[tuple]:
        """``(slot, tensor or None)`` for every place whose content the function changed."""
        out, done = [], set()
        lifted = {id(s): v for s, v in self.inputs}
        for slot, before in [*self.refs, *((s, None) for s in extra_slots)]:
            key = (type(slot), slot.name)
            if key in done or isinstance(slot, HyperSlot):
                continue
            done.add(key)
            now = slot.read(self.args)
            if isinstance(slot, TensorSlot):
                v = lifted.get(id(slot))
                if v is not None and now._data is not v:
                    out.append((slot, now))
            elif now is not before:
                out.append((slot, now))
            elif now is not None and now._data is not lifted.get(id(slot)):
                out.append((slot, now))
        return out

    def restore(self) -> None:
        """Put back every tensor's payload and autograd state, and every place's object."""
        for slot, before in reversed(self.refs):
            if not isinstance(slot, TensorSlot):
                slot.replace(self.args, before)
        for st, items in reversed(self.states):
            st.clear()
            st.update(items)
        for t, (data, grad, grad_fn, rg, acc, version, view) in self.saved.values():
            t._data, t.grad, t.grad_fn, t.requires_grad = data, grad, grad_fn, rg
            t._accumulator, t._version, t._view = acc, version, view
            t.__dict__.pop("_layout", None)  # the trace's stand-in (gradc.views.layout)
        self.graph.capture = None


def leftovers(found) -> list[str]:
    """Where a traced value is still held after a trace (a module attribute the function
    assigned, an optimizer entry): such state cannot be written back, so it is an error."""
    out = []
    for name, obj in found:
        if is_module(obj):
            for mname, m in obj.named_modules():
                where = join(name, mname)
                for k, v in [*vars(m).items(), *m._parameters.items(), *m._buffers.items()]:
                    if isinstance(v, Tensor) and v.is_traced:
                        out.append(join(where, k))
        elif is_optimizer(obj):
            for group in obj.param_groups:
                out += [f"{name}.param_groups.{k}" for k, v in group.items() if _traced(v)]
            for st in obj.state.values():
                out += [f"{name}.state.{k}" for k, v in st.items() if _traced(v)]
    return out


def _traced(v) -> bool:
    return isinstance(v, Tensor) and v.is_traced


def tensor_desc(t) -> tuple | None:
    """What a guard checks of a state tensor: dtype, shape, requires_grad."""
    if t is None:
        return None
    if not isinstance(t, Tensor):
        return (type(t).__name__,)
    return (t.dtype.name, tuple(t.shape), bool(t.requires_grad))


__all__ = ["Capture", "reachable", "flatten", "leftovers"]
