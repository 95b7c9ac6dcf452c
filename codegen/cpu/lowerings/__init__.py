"""CPU lowerings of the ops that are not pointwise, one function per op, keyed by op name.

A lowering is ``fn(w, node, ins, out)``: it writes, through the ``Writer`` ``w``, statements
that compute ``node`` from the arrays named ``ins`` into a new array named ``out``. Pointwise ops
need no entry: their sympy expression is their lowering (``codegen.cpu.pointwise``).
"""

from __future__ import annotations

LOWERINGS: dict = {}


def lowering(*names: str):
    """Register the decorated function as the CPU lowering of each op in ``names``."""

    def deco(fn):
        for name in names:
            if name in LOWERINGS:
                raise ValueError(f"op {name!r} already has a CPU lowering")
            LOWERINGS[name] = fn
        return fn

    return deco


from codegen.cpu.lowerings import (  # noqa: E402, F401
    embedding,
    gather,
    linalg,
    pool_indices,
    random,
    reduce,
    scan,
    shape,
    softmax,
    window,
)
