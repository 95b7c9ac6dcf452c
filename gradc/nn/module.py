"""``nn.Module``: parameters and submodules registered by attribute, as in PyTorch.

Names (``conv1.weight``), iteration order, ``state_dict`` keys and ``repr`` text all follow
torch, so checkpoints, printouts and tutorials carry over unchanged.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from gradc import dtypes
from gradc._tensor import Size, Tensor
from gradc.device import as_device
from gradc.errors import DTypeError, GradcError
from gradc.nn.parameter import Parameter


class ModuleError(GradcError, AttributeError, TypeError):
    """Misuse of a Module (assigning before ``Module.__init__()``, a tensor into a parameter
    slot, no ``forward``); an AttributeError/TypeError too, like torch's."""


class StateDictError(GradcError, RuntimeError):
    """``load_state_dict`` found missing or unexpected keys, or a shape mismatch; names each key.

    ``missing_keys``, ``unexpected_keys`` and ``mismatched_keys`` hold the lists.
    """


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _addindent(text: str, spaces: int) -> str:
    """Indent every line but the first (torch's ``_addindent``)."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


class Module:
    """Base class of layers and models: subclass it, assign layers in ``__init__`` and write
    ``forward``.

    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = nn.Linear(4, 2)
    ...     def forward(self, x):
    ...         return self.fc(x).relu()
    >>> [name for name, _ in Net().named_parameters()]
    ['fc.weight', 'fc.bias']
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", {})

    def forward(self, *args, **kwargs):
        raise ModuleError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- registration --------------------------------------------------------------------------
    def _registry(self, name: str) -> dict:
        reg = self.__dict__.get(name)
        if reg is None:
            raise ModuleError(
                f"cannot assign to {type(self).__name__} before Module.__init__() call: "
                "call super().__init__() first"
            )
        return reg

    def _check_name(self, name, kind: str) -> None:
        if not isinstance(name, str) or not name or "." in name:
            raise ModuleError(f"{kind} name must be a non-empty string without '.', got {name!r}")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        params = self._registry("_parameters")
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise ModuleError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(nn.Parameter or None required)"
            )
        self._forget(name, "_parameters")
        params[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        buffers = self._registry("_buffers")
        self._check_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise ModuleError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}'")
        self._forget(name, "_buffers")
        buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        modules = self._registry("_modules")
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise ModuleError(f"{type(module).__name__} is not a Module subclass")
        self._forget(name, "_modules")
        modules[name] = module

    register_module = add_module

    def _forget(self, name: str, keep: str) -> None:
        """Drop ``name`` from every registry but ``keep`` (where it keeps its position)."""
        self.__dict__.pop(name, None)
        for reg in ("_parameters", "_buffers", "_modules"):
            if reg != keep:
                self.__dict__[reg].pop(name, None)
        if keep != "_buffers":
            self.__dict__["_non_persistent_buffers_set"].discard(name)

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        if isinstance(value, Parameter):
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            self.add_module(name, value)
        elif name in d.get("_parameters", ()):
            self.register_parameter(name, value)
        elif name in d.get("_modules", ()):
            self.add_module(name, value)
        elif name in d.get("_buffers", ()):
            self.register_buffer(name, value, name not in self._non_persistent_buffers_set)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str):
        d = self.__dict__
        for reg in ("_parameters", "_buffers", "_modules"):
            if name in d.get(reg, ()):
                return d[reg][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for reg in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(reg, ()):
                del self.__dict__[reg][name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(
            set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules)
        )

    # ---- iteration -----------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """``(name, module)`` for this module and every descendant, depth first (torch order)."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                sub = f"{prefix}.{name}" if prefix else name
                yield from module.named_modules(memo, sub, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, m in mods:
            for name, t in m.__dict__[registry].items():
                if t is None or (remove_duplicate and id(t) in seen):
                    continue
                seen.add(id(t))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate=True):
        """``(name, parameter)`` pairs in registration order, each parameter once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate=True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        mod = self
        for part in target.split(".") if target else []:
            if part not in mod._modules or mod._modules[part] is None:
                raise ModuleError(f"{mod._get_name()} has no submodule `{part}` (in {target!r})")
            mod = mod._modules[part]
        return mod

    # ---- modes and gradients -------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ModuleError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop (or zero in place) every parameter's ``.grad``."""
        from gradc.optim.optimizer import zero_grads

        zero_grads(self.parameters(), set_to_none)

    def apply(self, fn) -> Module:
        """Call ``fn`` on every submodule (children first) and on self, e.g. for custom init."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- dtype and device ----------------------------------------------------------------------
    def _convert(self, dtype) -> None:
        """Cast floating parameters, their grads and buffers in place (same objects)."""
        np_dtype = dtype.np
        for t in [*self.parameters(), *self.buffers()]:
            if t.dtype.is_floating_point and t._data.dtype != np_dtype:
                t._data = t._concrete("Module.to").astype(np_dtype)
                if t.grad is not None:
                    t.grad._data = t.grad._concrete("Module.to").astype(np_dtype)

    def to(self, *args, **kwargs) -> Module:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(tensor)``; in place."""
        dtype, device = kwargs.pop("dtype", None), kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise ModuleError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, dtypes.DType):
                dtype = a
            else:
                device = a
        if device is not None:
            as_device(device)
        if dtype is not None:
            dtype = dtypes.as_dtype(dtype)
            if not dtype.is_floating_point:
                raise DTypeError(
                    f"Module.to only accepts floating point dtypes, got {dtype.name}", op="to"
                ).with_context()
            self._convert(dtype)
        return self

    def cpu(self) -> Module:
        return self

    def cuda(self, device=None) -> Module:
        try:
            as_device("cuda")
        except GradcError as e:
            raise e.with_context(op=f"{type(self).__name__}.cuda()") from None
        return self

    def float(self) -> Module:
        return self.to(dtypes.float32)

    def double(self) -> Module:
        return self.to(dtypes.float64)

    # ---- state dict ----------------------------------------------------------------------------
    def state_dict(self, *, destination=None, prefix: str = "", keep_vars: bool = False):
        """Parameters and persistent buffers by torch's names (``conv1.weight``...), detached
        (sharing storage) unless ``keep_vars``."""
        out = OrderedDict() if destination is None else destination
        for mod_prefix, m in self.named_modules(prefix=prefix.rstrip(".")):
            pre = f"{mod_prefix}." if mod_prefix else ""
            for name, p in m._parameters.items():
                if p is not None:
                    out[pre + name] = p if keep_vars else p.detach()
            for name, b in m._buffers.items():
                if b is not None and name not in m._non_persistent_buffers_set:
                    out[pre + name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy tensors or arrays into this module's parameters and buffers, in place.

        Missing or unexpected keys (when ``strict``) and shape mismatches (always) raise a
        StateDictError naming every bad key; nothing is copied then. Returns
        ``(missing_keys, unexpected_keys)``.
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors, mismatched, values = [], [], {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            arr = value._concrete("load_state_dict") if isinstance(value, Tensor) else value
            try:
                arr = np.asarray(arr)
            except (TypeError, ValueError):
                arr = np.asarray(None)
            if arr.dtype.kind not in "biuf":
                errors.append(f"value for {key} is a {type(value).__name__}, not a tensor or array")
            elif arr.shape != tuple(target.shape):
                mismatched.append(key)
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {Size(arr.shape)} from "
                    f"checkpoint, the shape in current model is {target.shape}."
                )
            values[key] = arr
        if strict and unexpected:
            errors.insert(0, "Unexpected key(s) in state_dict: " + _keys(unexpected) + ". ")
        if strict and missing:
            errors.insert(0, "Missing key(s) in state_dict: " + _keys(missing) + ". ")
        if errors:
            err = StateDictError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors),
                op="load_state_dict",
            )
            err.missing_keys, err.unexpected_keys, err.mismatched_keys = (
                missing,
                unexpected,
                mismatched,
            )
            raise err.with_context()
        for key, arr in values.items():
            target = own[key]
            if not target._data.flags.writeable:
                target._data = target._data.copy()
            np.copyto(target._data, arr, casting="unsafe")
            target._version += 1
        return IncompatibleKeys(missing, unexpected)

    # ---- printing ------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr``; layers override it."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(m), 2) for key, m in self._modules.items()]
        lines = extra_lines + child_lines
        body = ""
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                body = extra_lines[0]
            else:
                body = "\n  " + "\n  ".join(lines) + "\n"
        return f"{self._get_name()}({body})"


def _keys(keys) -> str:
    return ", ".join(f'"{k}"' for k in keys)
