"""Guards: what a compiled graph assumed about its call, as ``(label, value)`` pairs.

A call whose guards equal a cached entry's reuses it; otherwise gradc recompiles, and with
``GRADC_LOG=recompiles`` says which guard failed. Checked: each tensor argument's dtype, rank,
device, shape (all but the batch dim when ``dynamic``) and ``requires_grad``; Python-value
arguments; grad mode; every module's ``training`` flags; each state tensor's dtype, shape and
``requires_grad``, whether each ``.grad`` and optimizer-state entry exists; optimizer
hyper-parameters other than ``lr`` (which is a graph input: changing it needs no recompile).
"""

from __future__ import annotations

import os
import sys

from gradc._tensor import Tensor
from gradc.autograd import grad_mode
from gradc.slots import HyperSlot

_ACCEPTED = ("lr",)


def _desc(t, dynamic: bool):
    """A tensor's guard: ``(dtype, device, shape, requires_grad)``, the batch dim ``*`` when
    dynamic (compact, so checking a call is cheap; ``failed`` spells out the field)."""
    if t is None:
        return None
    if not isinstance(t, Tensor) or t.is_traced:
        return (type(t).__name__,)
    shape = t._data.shape
    if dynamic and shape:
        shape = ("*", *shape[1:])
    return (t._data.dtype, "cpu", shape, bool(t.requires_grad))


def _value(v):
    if isinstance(v, (list, tuple)):
        return tuple(_value(x) for x in v)
    try:
        hash(v)
    except TypeError:
        return ("id", id(v))
    if hasattr(v, "parameters") or hasattr(v, "param_groups"):
        return ("id", id(v))
    return (type(v).__name__, v)


def probes(names, args, found, slots, dynamic: bool) -> list[tuple]:
    """``(label, fn)`` pairs: ``fn(args)`` is the guard's value for a call. The labels (which
    arguments are tensors, which modules, groups and slots there are) come from this call; a
    call of the same structure re-evaluates only the functions (the fast path)."""
    out = [("grad_mode", lambda a: grad_mode.is_grad_enabled())]
    tensors = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    for i, (name, a) in enumerate(zip(names, args)):
        if isinstance(a, Tensor):
            out.append((name, lambda a, i=i: _desc(a[i], dynamic)))
            out.append((f"{name} is argument", lambda a, i=i: _first(a, i)))
        else:
            out.append((name, lambda a, i=i: _value(a[i])))
    if dynamic:  # arguments with equal batch sizes share one symbol
        out.append(("batch sizes equal", lambda a: _batch_pattern(a, tensors)))
    for name, obj in found:
        if hasattr(obj, "named_modules"):
            mods = [m for _, m in obj.named_modules()]
            out.append((f"{name or 'module'}.training", lambda a, ms=mods: _training(ms)))
        if hasattr(obj, "param_groups"):
            for gi, group in enumerate(obj.param_groups):
                for k in group:
                    if k != "params" and k not in _ACCEPTED:
                        label = f"{name}.param_groups[{gi}].{k}"
                        out.append((label, lambda a, g=group, k=k: _value(g[k])))
                for pi, p in enumerate(group["params"]):  # which state entries exist
                    label = f"{name}.state of param_groups[{gi}].params[{pi}]"
                    out.append((label, lambda a, o=obj, p=p: tuple(sorted(o.state.get(p, {})))))
    for slot in slots:
        if isinstance(slot, HyperSlot):
            out.append((slot.name, lambda a, s=slot: type(s.group[s.key]).__name__))
        elif not hasattr(slot, "index"):  # arguments are above
            out.append((slot.name, lambda a, s=slot: _desc(s.read(a), False)))
    return out


def _first(args, i: int) -> int:
    """The first argument position holding the same tensor as argument ``i``."""
    t = args[i]
    return next(k for k in range(i + 1) if args[k] is t)


def _batch_pattern(args, tensors) -> tuple:
    batch = [int(args[i].shape[0]) for i in tensors if isinstance(args[i], Tensor) and args[i].ndim]
    return tuple(batch.index(b) for b in batch)


def _training(mods) -> tuple:
    return tuple(m.training for m in mods)


def guards(names, args, found, slots, dynamic: bool) -> list[tuple]:
    """The guard list of one call (see the module docstring)."""
    return [(label, fn(args)) for label, fn in probes(names, args, found, slots, dynamic)]


def fingerprint(found) -> tuple:
    """What the slots and guard labels of a call depend on: the objects reached, each module's
    parameters, buffers and submodules, each optimizer's groups, their keys and parameters and
    its state dict. Equal fingerprints: the last call's probes apply (ids, not values: a tensor
    compares elementwise)."""
    out = []
    for _, obj in found:
        out.append(id(obj))
        if hasattr(obj, "named_modules"):
            stack = [obj]
            while stack:
                m = stack.pop()
                d = m.__dict__
                out.append(tuple(map(id, d["_parameters"].values())))
                out.append(tuple(map(id, d["_buffers"].values())))
                subs = list(d["_modules"].values())
                out.append(tuple(map(id, subs)))
                stack.extend(x for x in subs if x is not None)
        if hasattr(obj, "param_groups"):
            out.append(id(obj.state))
            for g in obj.param_groups:
                out.append((id(g), tuple(g), tuple(map(id, g["params"]))))
    return tuple(out)


def failed(old: list[tuple], new: list[tuple]) -> str:
    """The first guard that differs, as ``label: old -> new``."""
    a, b = dict(old), dict(new)
    for label, v in new:
        if label not in a:
            return f"{label}: (absent) -> {_show(v)}"
        if a[label] != v:
            return _explain(label, a[label], v)
    for label, v in old:
        if label not in b:
            return f"{label}: {_show(v)} -> (absent)"
    return "(no guard differs)"


def _explain(label: str, old, new) -> str:
    """The first field of a tensor guard that differs: dtype, device, ndim, shape[d], ..."""
    if _is_desc(old) and _is_desc(new):
        (d0, v0, s0, r0), (d1, v1, s1, r1) = old, new
        fields = [("dtype", d0.name, d1.name), ("device", v0, v1), ("ndim", len(s0), len(s1))]
        fields += [(f"shape[{k}]", a, b) for k, (a, b) in enumerate(zip(s0, s1))]
        fields.append(("requires_grad", r0, r1))
        for name, a, b in fields:
            if a != b:
                return f"{label}.{name}: {a!r} -> {b!r}"
    return f"{label}: {_show(old)} -> {_show(new)}"


def _is_desc(v) -> bool:
    return isinstance(v, tuple) and len(v) == 4 and isinstance(v[2], tuple)


def _show(v) -> str:
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) and v[0] != "id":
        return repr(v[1])
    return repr(v)


def log_recompile(what: str, reason: str, count: int) -> None:
    if "recompiles" in os.environ.get("GRADC_LOG", "").split(","):
        sys.stderr.write(f"gradc.compile: recompiling {what} (compile {count}): {reason}\n")
