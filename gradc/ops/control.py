"""``stop_gradient``: the identity that differentiation does not pass through.

``detach()``, ``.data`` and values computed under ``no_grad()`` inside a trace record it, so a
traced graph keeps eager autograd's meaning (``x * x.detach()`` has gradient ``x``, not ``2x``).
It has no vjp rule; the pass pipeline drops it once no more differentiation can happen.
"""

from __future__ import annotations

from gradc.ops.table import Op, register


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
