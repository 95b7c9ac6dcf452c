"""The op table: every primitive is one ``Op`` with infer, impl and vjp, registered by name.

Tracing, eager execution, the differentiation pass and (later) code generation all read this
table; nothing else defines what an op means.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gradc.errors import ShapeError

OPS: dict[str, Op] = {}


@dataclass(eq=False)
class Op:
    """One primitive.

    - ``infer(*types, **attrs) -> TensorType``: output dtype and shape; raises GradcError
      on bad input.
    - ``impl(*arrays, **attrs) -> ndarray``: numpy reference semantics.
    - ``vjp``: one rule per input, ``rule(ct, *inputs, out=out, **attrs) -> Tensor``, written with
      gradc ops so it runs eagerly, under tracing and under ``create_graph``; None marks an input
      that has no gradient. ``out`` is the forward result, detached: use it for masks, not math
      you need to differentiate again.
    - ``kind``: ``pointwise`` | ``reduce`` | ``shape`` | ``matmul`` | ``conv`` | ``pool`` |
      ``const`` | ``index``; the fusion grouping reads it.
    - ``expr``: for pointwise ops, the ``sympy.Lambda`` the op is.
    - ``view``: the result only re-indexes its input (reshape, expand, permute, getitem), so
      folding and fusion can treat it as free.
    - ``pure``: False for ops whose result is not a function of inputs and attrs (``rand``):
      passes must neither merge nor pre-compute them.
    """

    name: str
    infer: Callable
    impl: Callable
    vjp: tuple = ()
    kind: str = "opaque"
    expr: object = None
    variadic: bool = False
    doc: str = ""
    meta: dict = field(default_factory=dict)
    view: bool = False
    pure: bool = True

    def run(self, arrays, attrs: dict, dtype: np.dtype, shape: tuple) -> np.ndarray:
        """``impl`` as eager mode, the interpreter and constant folding all run it: numpy
        warnings off, the result cast to the inferred ``dtype`` and broadcast to the inferred
        ``shape`` (an expression that is constant in its inputs yields a scalar)."""
        with np.errstate(all="ignore"):  # the cast too: exp(250) in f64 is inf in f32, as torch
            out = np.asarray(self.impl(*arrays, **attrs))
            if out.dtype != dtype:
                out = out.astype(dtype)
        if out.shape != shape:
            try:
                out = np.array(np.broadcast_to(out, shape))
            except ValueError:
                raise ShapeError(
                    f"the result has shape {list(out.shape)}, but infer says {list(shape)}",
                    op=self.name,
                ) from None
        return out

    @property
    def differentiable(self) -> bool:
        return any(r is not None for r in self.vjp)

    def vjp_rule(self, i: int):
        rules = self.vjp
        if self.variadic and rules:
            return functools.partial(rules[0], i=i)
        return rules[i] if i < len(rules) else None

    def __repr__(self) -> str:
        return f"<op {self.name}>"


def register(op: Op) -> Op:
    if op.name in OPS:
        raise ValueError(f"op {op.name!r} is already registered")
    OPS[op.name] = op
    return op


def get_op(name_or_op) -> Op:
    if isinstance(name_or_op, Op):
        return name_or_op
    try:
        return OPS[name_or_op]
    except KeyError:
        raise KeyError(f"no op named {name_or_op!r} in the op table") from None
