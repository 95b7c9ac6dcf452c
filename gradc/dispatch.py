"""``apply(op, *inputs, **attrs)``: the one door every op goes through.

Eager: check with ``infer``, run ``impl``, record a tape node if a gradient is needed.
Tracing (an input holds a graph value, or an attr is symbolic): append a node to that graph.
"""

from __future__ import annotations

import sys

import numpy as np
import sympy

from gradc import dtypes
from gradc.autograd import grad_mode
from gradc.autograd.function import make_node
from gradc.errors import DeviceError, DTypeError, GradcError, TraceError, tensor_types
from gradc.ops.table import get_op
from gradc.shapes import is_symbolic
from gradc.views import current as current_view
from gradc.views import track as track_view
from gradc.views import track_traced

_trace_stack: list = []


def current_graph():
    return _trace_stack[-1] if _trace_stack else None


def note_born(t) -> None:
    """A tensor made while a function is traced: a constant of the graph, not outside state."""
    graph = current_graph()
    if graph is not None and graph.capture is not None:
        graph.capture.note_born(t)


def _vjp_origin():
    """While a traced ``backward()`` runs a tape node's vjp rule: the forward graph node the
    rule differentiates (its line and op name mark the backward nodes, as the autodiff pass
    marks its own). Found on the stack, so the tape needs no hook; costs only while tracing."""
    from gradc.autograd.function import BackwardNode

    code = BackwardNode.apply.__code__
    f = sys._getframe(2)
    while f is not None:
        if f.f_code is code:
            out = getattr(f.f_locals.get("self"), "out", None)
            value = getattr(out, "_data", None)
            return getattr(value, "node", None)
        f = f.f_back
    return None


def _leaked(inputs, op) -> GradcError:
    t = next(t for t in inputs if t.is_traced)
    return TraceError(
        f"a tensor holding {t._data.name} of the finished trace {t._data.graph.name!r} was used "
        "outside it: traced values must not escape a trace (use the graph's outputs, or "
        "gradc.compile, whose results are concrete)",
        op=op.name,
    ).with_context()


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
    t = Tensor._wrap(np.asarray(v, dtype=dtype.np))
    if _trace_stack:  # a number the function wrote: a constant (also when a vjp rule reads it)
        note_born(t)
    return t


def apply(op, *args, **attrs):
    """Run (or trace) one op of the table on Tensors and Python scalars."""
    from gradc._tensor import Tensor

    op = get_op(op)
    inputs = _lift_scalars(args)
    try:
        out_type = op.infer(*(t.type for t in inputs), **attrs)
    except GradcError as e:
        raise e.with_context(op=signature(op.name, inputs)) from None
    # Only the active trace records; a traced value from a finished one is a leak, never an
    # append to a dead graph. A trace that captures state records every op, so that tensors it
    # reaches without arguments become inputs rather than results computed once.
    graph = current_graph()
    traced = any(t.is_traced for t in inputs)
    if graph is None:
        if traced:
            raise _leaked(inputs, op)
        if is_symbolic(attrs):
            raise GradcError("symbolic attributes outside a trace", op=op.name)
    elif not (traced or graph.capture is not None or is_symbolic(attrs)):
        graph = None
    if graph is not None:
        from gradc.errors import location_of, user_frame

        origin = _vjp_origin() if graph.capture is not None else None
        loc = origin.loc if origin is not None else location_of(user_frame())
        for t in inputs:
            if t._view is not None:
                current_view(t)  # a view whose base was written since: re-derived first
        values = [graph.lift(t, const=not isinstance(a, Tensor)) for a, t in zip(args, inputs)]
        value = graph.add_node(op, values, attrs, out_type, loc)
        if origin is not None:
            value.node.rule = origin.op.name
        if (
            graph.capture is not None
            and not grad_mode.is_grad_enabled()
            and op.vjp
            and out_type.dtype.is_floating_point
            and any(t.requires_grad for t in inputs)
        ):  # computed under no_grad from values that carry gradient: a stop_gradient
            value = graph.add_node(get_op("stop_gradient"), [value], {}, out_type, loc)
            value.node.rule = origin.op.name if origin is not None else None
        out = Tensor._wrap(value)
        if op.view:  # of a traced value or of a constant the function made (gradc.views)
            track_traced(out, inputs[0], op, attrs)
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
        if op.view:  # shares storage and the version counter with its input (gradc.views)
            track_view(out, inputs[0], op, attrs)
    # Only float results carry gradients (torch: ``x.long()`` does not require grad).
    if grad_mode.is_grad_enabled() and op.vjp and out_type.dtype.is_floating_point:
        needs = [t.requires_grad and op.vjp_rule(i) is not None for i, t in enumerate(inputs)]
        if any(needs):
            out.grad_fn = make_node(op, inputs, attrs, out.detach(), needs)
            out.requires_grad = True
    return out
