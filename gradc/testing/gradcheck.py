"""Finite-difference checks of analytic gradients (float64 central differences)."""

from __future__ import annotations

import numpy as np

import gradc
from gradc.errors import DTypeError, GradcError


class GradcheckError(GradcError, AssertionError):
    """An analytic gradient disagrees with finite differences."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o for o in outs if o.dtype.is_floating_point]


def _project(outs, vs) -> float:
    return float(sum(np.sum(o.detach().numpy() * v) for o, v in zip(outs, vs)))


def gradcheck(
    fn,
    *inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
    raise_exception: bool = True,
) -> bool:
    """Check ``fn``'s gradients w.r.t. every input that requires grad.

    Compares ``v^T J`` from one backward pass (``v`` random, fixed by ``seed``) with central
    differences of ``v^T fn(x)`` for each input element. Inputs must be float64. Returns True,
    or raises GradcheckError naming the worst element with its analytic and numeric values.
    """
    inputs = list(inputs)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, gradc.Tensor) and t.requires_grad]
    if not diff:
        raise GradcError("gradcheck: no input requires grad", op="gradcheck").with_context()
    for i in diff:
        if inputs[i].dtype is not gradc.float64:
            raise DTypeError(
                f"gradcheck: input {i} is {inputs[i].dtype.name}; finite differences need "
                "float64 inputs (use .double())",
                op="gradcheck",
            ).with_context()
    rng = np.random.default_rng(seed)
    outs = _outputs(fn, inputs)
    vs = [rng.standard_normal(tuple(o.shape)) for o in outs]
    live = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
    analytic = [np.zeros(tuple(inputs[i].shape)) for i in diff]
    if live:
        gs = gradc.autograd.grad(
            [o for o, _ in live],
            [inputs[i] for i in diff],
            grad_outputs=[gradc.tensor(v, dtype=o.dtype) for o, v in live],
            allow_unused=True,
        )
        analytic = [a if g is None else g.numpy().astype(np.float64) for a, g in zip(analytic, gs)]
    worst = (0.0, None)
    for k, i in enumerate(diff):
        x = inputs[i]
        base = x.detach().numpy().copy()
        numeric = np.zeros(base.shape)
        for j in np.ndindex(base.shape) if base.ndim else [()]:
            vals = []
            for sign in (1, -1):
                pert = base.copy()
                pert[j] += sign * eps
                trial = list(inputs)
                trial[i] = gradc.tensor(pert, dtype=gradc.float64, requires_grad=True)
                vals.append(_project(_outputs(fn, trial), vs))
            numeric[j] = (vals[0] - vals[1]) / (2 * eps)
        err = np.abs(analytic[k] - numeric) - (atol + rtol * np.abs(numeric))
        if err.size and (np.nanmax(err) > worst[0] or np.isnan(err).any()):
            j = np.unravel_index(np.nanargmax(np.where(np.isnan(err), np.inf, err)), err.shape)
            worst = (
                np.inf if np.isnan(err).any() else float(err[j]),
                (i, j, analytic[k][j], numeric[j]),
            )
    if worst[1] is None:
        return True
    if not raise_exception:
        return False
    i, j, a, n = worst[1]
    raise GradcheckError(
        f"gradient mismatch for input {i} at index {tuple(int(v) for v in j)}: "
        f"analytic {float(a)!r}, "
        f"numeric {float(n)!r} (atol={atol}, rtol={rtol})",
        op="gradcheck",
    ).with_context()


def gradgradcheck(
    fn, *inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 1
) -> bool:
    """Check second derivatives: gradcheck of ``x -> d(v^T fn(x))/dx`` built with create_graph."""
    rng = np.random.default_rng(seed)
    diff = [i for i, t in enumerate(inputs) if isinstance(t, gradc.Tensor) and t.requires_grad]
    outs = _outputs(fn, list(inputs))
    vs = [gradc.tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype) for o in outs]

    def first_grad(*xs):
        os = _outputs(fn, list(xs))
        live = [(o, v) for o, v in zip(os, vs) if o.requires_grad]
        gs = gradc.autograd.grad(
            [o for o, _ in live],
            [xs[i] for i in diff],
            grad_outputs=[v for _, v in live],
            create_graph=True,
            allow_unused=True,
        )
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_grad, *inputs, eps=eps, atol=atol, rtol=rtol, seed=seed)
