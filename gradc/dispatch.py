"""``apply(op, *inputs, **attrs)``: the one door every op goes through.

Eager: check with ``infer``, run ``impl``, record a tape node if a gradient is needed.
Tracing (an input holds a graph value, or an attr is symbolic): append a node to that graph.
"""

from __future__ import annotations

import numpy as np
import sympy

from gradc import dtypes
from gradc.autograd import grad_mode
from gradc.autograd.function import make_node
from gradc.errors import DeviceError, DTypeError, GradcError, tensor_types
from gradc.ops.table import get_op
from gradc.shapes import is_symbolic

_trace_stack: list = []


def current_graph():
    return _trace_stack[-1] if _trace_stack else None


def signature(op_name: str, inputs) -> str:
    return f"{op_name}({tensor_types(inputs, {})})"


def _lift_scalars(args):
    from gradc._tensor import Tensor

    tens = [a for a in args if isinstance(a, Tensor)]
    device = tens[0].device if tens else None
    if len(tens) == len(args):  # the common case: no scalars to lift
        for t in tens:
            if t.device is not device and t.device != device:
                raise DeviceError(f"tensors are on different devices: {device} and {t.device}")
        return tens
    ref = dtypes.promote(*(t.dtype for t in tens)) if tens else None
    out = []
    for a in args:
        if isinstance(a, Tensor):
            out.append(a)
        elif isinstance(a, (bool, int, float, np.number, np.bool_, sympy.Basic)):
            out.append(_scalar(a, dtypes.weak_scalar_dtype(a, ref)))
        elif isinstance(a, np.ndarray):  # as torch does: an array operand is a tensor
            from gradc.creation import tensor

            out.append(tensor(a))
        else:
            raise DTypeError(f"expected a Tensor or a number, got {type(a).__name__}")
    for t in out:
        if device is not None and t.device is not device and t.device != device:
            raise DeviceError(f"tensors are on different devices: {device} and {t.device}")
    return out


def _scalar(v, dtype):
    from gradc._tensor import Tensor

    if isinstance(v, sympy.Basic) and v.free_symbols:
        return apply("full", shape=(), value=v, dtype=dtype)
    if isinstance(v, sympy.Basic):
        v = float(v) if dtype.is_floating_point else int(v)
    return Tensor._wrap(np.asarray(v, dtype=dtype.np))


def apply(op, *args, **attrs):
    """Run (or trace) one op of the table on Tensors and Python scalars."""
    from gradc._tensor import Tensor

    op = get_op(op)
    inputs = _lift_scalars(args)
    try:
        out_type = op.infer(*(t.type for t in inputs), **attrs)
    except GradcError as e:
        raise e.with_context(op=signature(op.name, inputs)) from None
    graph = next((t._data.graph for t in inputs if t.is_traced), None)
    if graph is None and is_symbolic(attrs):
        graph = current_graph()
        if graph is None:
            raise GradcError("symbolic attributes outside a trace", op=op.name)
    if graph is not None:
        from gradc.errors import location_of, user_frame

        values = [graph.lift(t) for t in inputs]
        value = graph.add_node(op, values, attrs, out_type, location_of(user_frame()))
        out = Tensor._wrap(value)
    else:
        arrays = [t._data for t in inputs]
        try:
            data = op.run(arrays, attrs, out_type.dtype.np, out_type.shape)
        except GradcError as e:
            raise e.with_context(op=signature(op.name, inputs)) from None
        except (ArithmeticError, ValueError, TypeError, IndexError) as e:
            # numpy refused values that ``infer`` cannot see (e.g. ints to negative powers)
            err = GradcError(f"{type(e).__name__} from numpy: {e}")
            raise err.with_context(op=signature(op.name, inputs)) from e
        out = Tensor._wrap(data)
    # Only float results carry gradients (torch: ``x.long()`` does not require grad).
    if grad_mode.is_grad_enabled() and op.vjp and out_type.dtype.is_floating_point:
        needs = [t.requires_grad and op.vjp_rule(i) is not None for i, t in enumerate(inputs)]
        if any(needs):
            out.grad_fn = make_node(op, inputs, attrs, out.detach(), needs)
            out.requires_grad = True
    return out
