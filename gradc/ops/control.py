"""``stop_gradient``: the identity that differentiation does not pass through; ``no_grad_write``:
its complement for in-place writes under ``no_grad``.

``detach()``, ``.data`` and values computed under ``no_grad()`` inside a trace record it, so a
traced graph keeps eager autograd's meaning (``x * x.detach()`` has gradient ``x``, not ``2x``).
It has no vjp rule; the pass pipeline drops it once no more differentiation can happen, and
``no_grad_write(old, new)`` (new's value, old's gradient) with it.
"""

from __future__ import annotations

from gradc.errors import ShapeError
from gradc.ops.table import Op, register
from gradc.shapes import same_dim


def _infer(x):
    return x


def _impl(x):
    return x


register(
    Op(
        "stop_gradient",
        _infer,
        _impl,
        (),
        "shape",
        doc="the identity, with no gradient (detach, .data, no_grad inside a trace)",
        view=True,
    )
)


def _write_infer(old, new):
    if (
        old.dtype is not new.dtype
        or len(old.shape) != len(new.shape)
        or not all(same_dim(a, b) for a, b in zip(old.shape, new.shape))
    ):
        raise ShapeError(f"no_grad_write: the new value {new} does not replace {old}")
    return old


def _write_vjp_old(ct, old, new, *, out):
    return ct


register(
    Op(
        "no_grad_write",
        _write_infer,
        lambda old, new: new,
        (_write_vjp_old, None),
        "shape",
        doc="new's value with old's gradient: an in-place write under no_grad inside a trace "
        "(eagerly the written tensor keeps its autograd history)",
    )
)
