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

import numpy as np

from gradc import dtypes
from gradc._tensor import Tensor
from gradc.ir.graph import Graph, Role

# ---- slots: places outside the function that hold tensors ---------------------------------------


class Slot:
    """A place holding a tensor. ``read(args)`` is the tensor there now (or None)."""

    kind = "buffer"

    def __init__(self, name: str, role: Role):
        self.name, self.role = name, role

    def read(self, args):
        raise NotImplementedError

    def replace(self, args, tensor) -> None:
        """Put another tensor object (or None) in this place."""
        raise NotImplementedError

    def write(self, args, array) -> None:
        """Store the new value after a call: into the existing storage when it fits (as eager
        in-place updates do, so views and ``state_dict()`` results see it), else a new tensor."""
        old = self.read(args)
        if array is None:
            self.replace(args, None)
        elif (
            isinstance(old, Tensor)
            and not old.is_traced
            and old._data.shape == array.shape
            and old._data.dtype == array.dtype
            and old._data.flags.writeable
        ):
            old._data[...] = array
            old._version += 1
        else:
            self.replace(args, Tensor._wrap(np.asarray(array)))

    def __repr__(self) -> str:
        return f"<slot {self.name}: {self.role}>"


class TensorSlot(Slot):
    """A tensor object itself (a parameter, a buffer, a tensor reached through a closure)."""

    def __init__(self, name, role, tensor):
        super().__init__(name, role)
        self.tensor = tensor

    def read(self, args):
        return self.tensor

    def replace(self, args, tensor) -> None:
        self.tensor._data = tensor._data


class BufferSlot(Slot):
    """``module.NAME`` for a registered buffer: a function may update it in place or assign a
    new tensor (``self.running_mean = ...``); either way the new value is written back."""

    def __init__(self, name, module, attr):
        super().__init__(name, Role("buffer"))
        self.module, self.attr = module, attr

    def read(self, args):
        return self.module._buffers.get(self.attr)

    def replace(self, args, tensor) -> None:
        self.module._buffers[self.attr] = tensor


class ArgSlot(TensorSlot):
    """The ``index``-th argument of the call."""

    def __init__(self, name, index):
        Slot.__init__(self, name, Role("input"))
        self.index = index

    def read(self, args):
        return args[self.index]

    def replace(self, args, tensor) -> None:
        args[self.index]._data = tensor._data


class GradSlot(Slot):
    """``tensor.grad``."""

    def __init__(self, name, of: str, owner):
        super().__init__(name, Role("grad", of=of))
        self.owner = owner

    def read(self, args):
        return self.owner.grad

    def replace(self, args, tensor) -> None:
        self.owner.grad = tensor


class ArgGradSlot(GradSlot):
    def __init__(self, name, of, index):
        Slot.__init__(self, name, Role("grad", of=of))
        self.index = index

    def read(self, args):
        return args[self.index].grad

    def replace(self, args, tensor) -> None:
        args[self.index].grad = tensor


class StateSlot(Slot):
    """``optimizer.state[param][key]``."""

    def __init__(self, name, opt, param, key):
        super().__init__(name, Role("opt_state"))
        self.opt, self.param, self.key = opt, param, key

    def read(self, args):
        return self.opt.state[self.param].get(self.key)

    def replace(self, args, tensor) -> None:
        if tensor is None:
            self.opt.state[self.param].pop(self.key, None)
        else:
            self.opt.state[self.param][self.key] = tensor


class HyperSlot(Slot):
    """A float hyper-parameter of an optimizer group (``lr``): an input, so changing it needs
    no recompile. Read as a 0-d tensor of the group's parameter dtype."""

    def __init__(self, name, group: dict, key: str, dtype):
        super().__init__(name, Role("hyper"))
        self.group, self.key, self.dtype = group, key, dtype

    def read(self, args):
        v = self.group[self.key]
        return v if isinstance(v, Tensor) else Tensor._wrap(np.asarray(v, dtype=self.dtype.np))

    def replace(self, args, tensor) -> None:
        self.group[self.key] = tensor


class RngSlot(Slot):
    """The state ``(seed, offset)`` of gradc's counter-based generator."""

    def __init__(self):
        super().__init__("rng", Role("rng"))

    def read(self, args):
        from gradc import creation

        return creation.rng_state()

    def replace(self, args, tensor) -> None:
        from gradc import creation

        creation.set_rng_state(tensor)

    def write(self, args, array) -> None:
        self.replace(args, Tensor._wrap(np.array(array)))


# ---- finding the state a function reaches ------------------------------------------------------


def _is_optimizer(obj) -> bool:
    from gradc.optim.optimizer import Optimizer

    return isinstance(obj, Optimizer)


def is_module(obj) -> bool:
    from gradc.nn.module import Module

    return isinstance(obj, Module)


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
        if isinstance(obj, Tensor) or is_module(obj) or _is_optimizer(obj):
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


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def state_slots(found, named: dict | None = None) -> list[Slot]:
    """Slots for everything in ``found`` (from ``flatten``): parameters and buffers by their
    module names, each trainable tensor's ``.grad``, optimizer state and learning rates.
    ``named`` (``id(tensor) -> name``) lists tensors that already have a slot."""
    slots: list[Slot] = []
    named = {} if named is None else named

    def tensor(name, t, buffer=False, owner=None):
        if id(t) in named:
            return
        named[id(t)] = name
        if owner is not None:
            slots.append(BufferSlot(name, *owner))
            return
        if buffer or not t.requires_grad:
            role = Role("buffer") if buffer or not _is_param(t) else Role("param", frozen=True)
        else:
            role = Role("param")
        slots.append(TensorSlot(name, role, t))
        if t.dtype.is_floating_point:  # .grad may appear (backward) or be read (accumulation)
            slots.append(GradSlot(f"{name}.grad", name, t))

    optimizers = []
    for name, obj in found:
        if is_module(obj):
            for n, p in obj.named_parameters():
                tensor(_join(name, n), p)
            for mname, m in obj.named_modules():
                for n, b in m._buffers.items():
                    if b is not None:
                        tensor(_join(name, _join(mname, n)), b, owner=(m, n))
        elif _is_optimizer(obj):
            optimizers.append((name, obj))
        elif isinstance(obj, Tensor) and not obj.is_traced:
            tensor(name, obj)
    for name, opt in optimizers:
        for gi, group in enumerate(opt.param_groups):
            gname = name if len(opt.param_groups) == 1 else f"{name}.group{gi}"
            for k, p in enumerate(group["params"]):
                tensor(f"{gname}.param{k}", p)
            if isinstance(group.get("lr"), (int, float)):  # float64, as the Python number is
                slots.append(HyperSlot(f"{gname}.lr", group, "lr", dtypes.float64))
        slots.extend(optimizer_state_slots(name, opt, named))
    return slots


def optimizer_state_slots(name, opt, named) -> list[Slot]:
    out = []
    for group in opt.param_groups:
        for k, p in enumerate(group["params"]):
            state = opt.state[p]  # a defaultdict: this makes the (empty) dict, as step() would
            pname = named.get(id(p), f"param{k}")
            for key, v in list(state.items()):
                if isinstance(v, Tensor):
                    out.append(StateSlot(f"{name}.state.{pname}.{key}", opt, p, key))
    return out


def _is_param(t) -> bool:
    from gradc.nn.parameter import Parameter

    return isinstance(t, Parameter)


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
                (t._data, t.grad, t.grad_fn, t.requires_grad, t._accumulator, t._version),
            )
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
        for t, (data, grad, grad_fn, rg, acc, version) in self.saved.values():
            t._data, t.grad, t.grad_fn, t.requires_grad = data, grad, grad_fn, rg
            t._accumulator, t._version = acc, version
        self.graph.capture = None


def leftovers(found) -> list[str]:
    """Where a traced value is still held after a trace (a module attribute the function
    assigned, an optimizer entry): such state cannot be written back, so it is an error."""
    out = []
    for name, obj in found:
        if is_module(obj):
            for mname, m in obj.named_modules():
                where = _join(name, mname)
                for k, v in [*vars(m).items(), *m._parameters.items(), *m._buffers.items()]:
                    if isinstance(v, Tensor) and v.is_traced:
                        out.append(_join(where, k))
        elif _is_optimizer(obj):
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


__all__ = ["Capture", "Slot", "reachable", "flatten", "state_slots", "dtypes"]
