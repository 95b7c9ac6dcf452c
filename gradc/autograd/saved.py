"""Which saved values a vjp rule reads, so backward checks only those for in-place writes.

torch raises when a tensor its backward *saved* was modified in place since; a tensor it did
not save (the input of ``sum``, of a view, of ``add``) may change freely. gradc keeps every input
but checks only what the rules of the inputs that need a gradient read: for sympy pointwise ops
that is derived from the derivative (the ops of ``pointwise.FROM_OUTPUT``, exp, tanh, rsqrt,
..., read their output, as torch's do); other ops are listed here by name, and compositions
whose torch counterpart saves its result say so with ``saves_output``.
"""

from __future__ import annotations

import functools

OUT = "out"

# op name -> what its rules read: a tuple for every input's rule, or {input: tuple}; ints are
# inputs, OUT the forward result. Ops missing here read all their inputs.
READS: dict[str, object] = {
    "reshape": (),
    "expand": (),
    "permute": (),
    "getitem": (),
    "getitem_backward": (),
    "copy_slices": (),
    "cat": (),
    "sum": (),
    "cast": (),
    "amax": (0, OUT),
    "amin": (0, OUT),
    "matmul": {0: (1,), 1: (0,)},
    "conv2d": {0: (1,), 1: (0,), 2: ()},
    "avg_pool2d": (),
    "avg_pool2d_backward": (),
    "prod": (0, OUT),  # torch's prod saves its result too
    "softmax": (OUT,),
    "log_softmax": (OUT,),
}


def reads(op, i: int) -> tuple:
    """The saved values the vjp rule of input ``i`` of ``op`` reads (ints and/or OUT)."""
    cache = op.meta.setdefault("reads", {})  # backward asks this for every node
    if i not in cache:
        got = READS.get(op.name)
        if got is None:
            got = _pointwise_reads(op, i)
        elif isinstance(got, dict):
            got = got.get(i, ())
        cache[i] = got
    return cache[i]


def _pointwise_reads(op, i: int) -> tuple:
    from gradc.ops.pointwise import _vjp_rule, derivative_op

    rule = op.vjp_rule(i)
    if not (isinstance(rule, functools.partial) and rule.func is _vjp_rule):
        return tuple(range(99))  # a hand-written rule: assume it reads every input
    dop = derivative_op(op.name, i)
    return () if isinstance(dop, str) else tuple(dop.meta["args"])  # ints and/or "out"


def saves_output(t):
    """Mark ``t``, the result of a composition (softmax, log_softmax, max), as saved by its last
    node, as torch's single op saves its result: an in-place change before backward raises there
    too. Returns ``t``."""
    node = getattr(t, "grad_fn", None)
    if node is not None and hasattr(node, "out_version"):
        node.saves_out = True
    return t
