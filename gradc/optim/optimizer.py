"""``optim.Optimizer``: parameter groups, per-parameter state, ``zero_grad``, state dicts.

Subclasses implement ``update(p, g, group, state)`` for one parameter with gradc tensor ops;
``step`` runs it under ``no_grad`` for every parameter that has a gradient, updating storage in
place (the Parameter objects a Module holds stay the same).
"""

from __future__ import annotations

import copy
from collections import defaultdict

import numpy as np

from gradc._tensor import Tensor
from gradc.autograd.grad_mode import enable_grad, no_grad
from gradc.errors import GradcError


class OptimizerError(GradcError, ValueError):
    """A bad hyper-parameter, parameter list or optimizer state dict."""


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


def zero_grads(params, set_to_none: bool = True) -> None:
    """Drop (or zero in place) ``.grad`` of each tensor: what Module and Optimizer zero_grad do."""
    for p in params:
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            p.grad = p.grad.detach() if p.grad.grad_fn is not None else p.grad
            p.grad.zero_()


def as_param_dtype(value, p):
    """A hyper-parameter as the update uses it: a Python number stays one (a weak scalar); a
    tensor (``lr`` while a step is traced, where it is a graph input) is cast to ``p``'s dtype,
    as the number would be, so a compiled step rounds exactly as the eager one."""
    if isinstance(value, Tensor) and p is not None and value.dtype is not p.dtype:
        from gradc.functions import cast

        return cast(value, p.dtype)
    return value


def _fail(msg: str, op: str):
    raise OptimizerError(msg, op=op).with_context()


class Optimizer:
    """Base class: ``params`` is an iterable of tensors or of dicts (parameter groups)
    whose keys override ``defaults`` for that group."""

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state: dict = defaultdict(dict)
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            _fail(
                "params should be an iterable of Tensors or dicts, but got a Tensor",
                type(self).__name__,
            )
        groups = list(params)
        if not groups:
            _fail("optimizer got an empty parameter list", type(self).__name__)
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyper-parameters (others from ``defaults``)."""
        name = type(self).__name__
        group = dict(param_group)
        params = group.get("params")
        params = [params] if isinstance(params, Tensor) else list(params or [])
        for p in params:
            if not isinstance(p, Tensor):
                _fail(f"optimizer can only optimize Tensors, got {type(p).__name__}", name)
            if not p.is_leaf:
                _fail("can't optimize a non-leaf Tensor", name)
        group["params"] = params
        for key, default in self.defaults.items():
            if default is required and key not in group:
                _fail(f"parameter group didn't specify a value of required parameter {key}", name)
            group.setdefault(key, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            _fail("some parameters appear in more than one parameter group", name)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop (or zero in place) the ``.grad`` of every parameter."""
        zero_grads((p for g in self.param_groups for p in g["params"]), set_to_none)

    def step(self, closure=None):
        """Update every parameter that has a ``.grad``; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        g = -p.grad if group.get("maximize") else p.grad
                        self.update(p, g, group, self.state[p])
        return loss

    def update(self, p, g, group: dict, state: dict) -> None:
        """Apply this optimizer's rule to parameter ``p`` with gradient ``g`` (in place)."""
        raise NotImplementedError

    # ---- state dicts ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}``,
        parameters numbered in group order as torch does."""
        index, groups = {}, []
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": ids})
        state = {
            index[id(p)]: dict(s)
            for g in self.param_groups
            for p in g["params"]
            if (s := self.state.get(p))
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and state (copied, cast to each parameter's dtype)."""
        name = type(self).__name__
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            _fail("loaded state dict has a different number of parameter groups", name)
        if any(len(s["params"]) != len(g["params"]) for s, g in zip(saved, self.param_groups)):
            _fail(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group",
                name,
            )
        by_index = {
            i: p for s, g in zip(saved, self.param_groups) for i, p in zip(s["params"], g["params"])
        }
        self.state = defaultdict(dict)
        for i, st in state_dict["state"].items():
            p = by_index[i]
            self.state[p] = {k: _restore(k, v, p) for k, v in st.items()}
        for s, g in zip(saved, self.param_groups):
            g.update({k: copy.deepcopy(v) for k, v in s.items() if k != "params"})

    def __repr__(self) -> str:
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"


def _restore(key: str, value, param):
    """A copy of one saved state entry; float tensors take the parameter's dtype (not 'step')."""
    if isinstance(value, (Tensor, np.ndarray)):
        arr = np.array(value.detach().numpy() if isinstance(value, Tensor) else value)
        if key != "step" and arr.dtype.kind == "f":
            arr = arr.astype(param.dtype.np)
        return Tensor._wrap(arr)
    return copy.deepcopy(value)
