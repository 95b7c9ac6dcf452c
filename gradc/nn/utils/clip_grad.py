"""Gradient clipping, in place on ``.grad``, as ``torch.nn.utils`` does it."""

from __future__ import annotations

import math

from gradc import functions as fn
from gradc._tensor import Tensor
from gradc.autograd.grad_mode import no_grad
from gradc.creation import tensor
from gradc.errors import GradcError
from gradc.reductions_more import norm


class NonFiniteNormError(GradcError, RuntimeError):
    """``clip_grad_norm_(..., error_if_nonfinite=True)`` met a nan or inf total norm."""


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(
    parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite=False, foreach=None
):
    """Scale every gradient by ``max_norm / (total_norm + 1e-6)`` when that is below 1, where
    ``total_norm`` is the ``norm_type`` norm of all gradients together; returns ``total_norm``.

    >>> loss.backward()
    >>> nn.utils.clip_grad_norm_(net.parameters(), max_norm=1.0)
    """
    grads = _grads(parameters)
    if not grads:
        return tensor(0.0)
    norm_type = float(norm_type)
    with no_grad():
        norms = fn.stack([norm(g.detach(), norm_type) for g in grads])
        total = norm(norms, norm_type)
        if error_if_nonfinite and not math.isfinite(total.item()):
            raise NonFiniteNormError(
                f"The total norm of order {norm_type} for gradients from `parameters` is "
                "non-finite, so it cannot be clipped. To disable this error and scale the "
                "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`",
                op="clip_grad_norm_",
            ).with_context()
        # tensors, not a Python float, as torch: a compiled training step clips inside its graph
        coef = fn.clamp(fn.div(max_norm, fn.add(total, 1e-6)), max=1.0)
        for g in grads:
            g.mul_(coef if coef.dtype == g.dtype else fn.cast(coef, g.dtype))
    return total


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element to ``[-clip_value, clip_value]``, in place."""
    with no_grad():
        for g in _grads(parameters):
            g.copy_(fn.clamp(g, -clip_value, clip_value))
