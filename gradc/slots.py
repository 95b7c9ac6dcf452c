"""Slots: the places outside a traced function that hold tensors, and how to find them.

A ``Slot`` names one place (a parameter, a registered buffer, a ``.grad``, an optimizer state
entry or learning rate, the RNG state, an argument), so a compiled function can read it before
a call and write its new value after; ``state_slots`` lists the slots of the modules, optimizers
and tensors a function reaches.
"""

from __future__ import annotations

import numpy as np

from gradc import dtypes
from gradc._tensor import Tensor
from gradc.ir.graph import Role


def is_module(obj) -> bool:
    from gradc.nn.module import Module

    return isinstance(obj, Module)


def is_optimizer(obj) -> bool:
    from gradc.optim.optimizer import Optimizer

    return isinstance(obj, Optimizer)


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
        elif isinstance(old, Tensor) and array is old._data:  # the program wrote it in place
            old._version += 1
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

    def write(self, args, array) -> None:
        """A new ``.grad`` tensor, as eager accumulation (``grad = grad + g``) makes one; or the
        old one, when the program wrote into its storage (only when nothing else held it)."""
        old = self.read(args)
        if array is not None and isinstance(old, Tensor) and array is old._data:
            old._version += 1
            return
        self.replace(args, None if array is None else Tensor._wrap(np.asarray(array)))


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


def join(prefix: str, name: str) -> str:
    """``net`` + ``fc.weight`` -> ``net.fc.weight``; an empty prefix adds nothing."""
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
                tensor(join(name, n), p)
            for mname, m in obj.named_modules():
                for n, b in m._buffers.items():
                    if b is not None:
                        tensor(join(name, join(mname, n)), b, owner=(m, n))
        elif is_optimizer(obj):
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
