"""PyTorch-style autograd: ``backward``, ``grad``, ``no_grad``, and the legacy ``Variable``."""

from __future__ import annotations

from gradc.autograd.engine import own, run_backward
from gradc.autograd.function import AccumulateGrad, Node
from gradc.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled


def _as_list(x):
    if x is None:
        return None
    return list(x) if isinstance(x, (list, tuple)) else [x]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves they depend on."""
    from gradc.errors import GradcError

    try:
        _backward(tensors, grad_tensors, retain_graph, create_graph, inputs)
    except GradcError as e:
        raise e.with_context() from None


def _backward(tensors, grad_tensors, retain_graph, create_graph, inputs):
    tensors = _as_list(tensors)
    grads = _as_list(grad_tensors) or [None] * len(tensors)
    retain = create_graph if retain_graph is None else retain_graph
    if inputs is not None:
        results = run_backward(
            tensors, grads, retain_graph=retain, create_graph=create_graph, inputs=_as_list(inputs)
        )
        for t, g in zip(_as_list(inputs), results):
            if g is not None:
                g = g if create_graph else own(g)
                t.grad = g if t.grad is None else t.grad + g
        return
    run_backward(tensors, grads, retain_graph=retain, create_graph=create_graph)


def grad(
    outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False
):
    """Gradients of ``outputs`` w.r.t. ``inputs``, returned as a tuple; ``.grad`` is untouched.

    >>> x = gradc.tensor(3.0, requires_grad=True)
    >>> (g,) = gradc.autograd.grad(x ** 3, x, create_graph=True)   # 27
    >>> gradc.autograd.grad(g, x)                                   # (tensor(18.),)
    """
    from gradc.errors import AutogradError, GradcError

    outs, ins = _as_list(outputs), _as_list(inputs)
    gouts = _as_list(grad_outputs) or [None] * len(outs)
    retain = create_graph if retain_graph is None else retain_graph
    try:
        results = run_backward(
            outs, gouts, retain_graph=retain, create_graph=create_graph, inputs=ins
        )
    except GradcError as e:
        raise e.with_context() from None
    for i, g in enumerate(results):
        if g is None and not allow_unused:
            raise AutogradError(
                f"input {i} was not used in the graph of the outputs (or does not require grad); "
                "pass allow_unused=True if this is expected",
                op="autograd.grad",
            ).with_context()
    return tuple(g if (g is None or create_graph) else g.detach() for g in results)


class Variable:
    """Legacy alias: ``Variable(t)`` returns the tensor itself, as in PyTorch >= 0.4."""

    def __new__(cls, data, requires_grad=False, volatile=False):
        from gradc.functions import as_tensor

        t = as_tensor(data)
        if requires_grad:
            t.requires_grad_(True)
        return t


__all__ = [
    "backward",
    "grad",
    "Variable",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "Node",
    "AccumulateGrad",
]
