"""``gradc.trace``: run a function or module once on graph values and record a ``Graph``.

Every op goes through ``dispatch.apply``, which appends a node when an input holds a graph value;
tracing only has to make the inputs (and a module's parameters) graph values and collect the
outputs. Shapes may hold sympy symbols (``gradc.Dim("N")``), so one graph serves every batch size.
"""

from __future__ import annotations

import inspect
import linecache
import os
import sys

import numpy as np
import sympy

from gradc import dispatch, dtypes
from gradc._tensor import Tensor
from gradc.autograd import grad_mode
from gradc.errors import TraceError
from gradc.ir.graph import Graph
from gradc.ir.symbols import Dim
from gradc.shapes import TensorType, canon

_SKIP_DIRS = tuple(
    os.path.dirname(os.path.abspath(m.__file__)) + os.sep for m in (sys.modules["gradc"], sympy)
)


class TensorSpec:
    """A traced input known only by shape and dtype; shape entries may be ``gradc.Dim``\\ s.

    >>> N = gradc.Dim("N")
    >>> gradc.trace(net, gradc.TensorSpec((N, 1, 32, 32), gradc.float64))
    """

    def __init__(self, shape, dtype=None):
        self.shape = tuple(canon(d) for d in shape)
        self.dtype = dtypes.as_dtype(dtype) if dtype is not None else dtypes.get_default_dtype()

    @property
    def type(self) -> TensorType:
        return TensorType(self.dtype, self.shape)

    def __repr__(self) -> str:
        return f"TensorSpec({self.type})"


def trace(fn, *inputs, dynamic=None, params=None, name: str = "forward") -> Graph:
    """Trace ``fn`` (a function or an ``nn.Module``) into a ``Graph``.

    ``inputs`` are example Tensors (or arrays), ``TensorSpec``\\ s or ``(shape, dtype)`` pairs;
    anything else (ints, flags) is passed through as a Python value. ``dynamic`` makes example
    tensors' dims symbolic: ``True`` turns dim 0 of each into ``N``; ``{0: "N"}`` names dims for
    every tensor input; a list gives one such dict (or None) per input. A module's parameters
    and buffers become named graph inputs after the user's (``%fc.weight``), never constants;
    ``params`` (a module or a ``{name: Tensor}`` dict) does the same for a function that uses a
    module's weights, e.g. a loss.

    >>> g = gradc.trace(net, gradc.randn(8, 1, 32, 32), dynamic=True)
    >>> print(g)                         # graph forward(%x: f32[N,1,32,32], %conv1.weight: ...
    >>> loss = gradc.trace(lambda x, y: F.mse_loss(net(x), y), x, y, params=net)
    """
    graph = Graph(name)
    names = _input_names(fn, len(inputs))
    args = []
    for i, (a, nm) in enumerate(zip(inputs, names)):
        spec = _spec_of(a, _dynamic_for(dynamic, i, len(inputs)))
        args.append(a if spec is None else Tensor._wrap(graph.add_input(nm, spec.type)))
    params = _named_tensors(fn if params is None else params)
    taken = {v.name for v in graph.inputs}
    saved, pnames = [], []
    try:
        for pname, p in params:
            pnames.append(pname if "%" + pname not in taken else f"{pname}_param")
            saved.append((p, p._data))
            p._data = graph.add_input(pnames[-1], p.type)
        dispatch._trace_stack.append(graph)
        try:
            with grad_mode.no_grad():
                out = fn(*args)
        except TypeError as e:
            raise _undecidable(e) from None
        finally:
            dispatch._trace_stack.pop()
    finally:
        for p, data in saved:
            p._data = data
    graph.outputs, graph.output_names = _outputs(graph, out)
    graph.meta["params"] = pnames  # input names, without the %
    graph.meta["num_user_inputs"] = len(graph.inputs) - len(params)
    return graph


def _input_names(fn, n: int) -> list[str]:
    target = getattr(fn, "forward", fn)
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return [f"x{i}" for i in range(n)]
    names, star = [], None
    for p in sig.parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        elif p.kind is p.VAR_POSITIONAL:
            star = p.name
    names = names[:n]
    names += [f"{star or 'x'}{i}" for i in range(len(names), n)]
    return names


def _named_tensors(fn) -> list:
    """A module's parameters, then its buffers, by qualified name (or a dict's items)."""
    if isinstance(fn, dict):
        return list(fn.items())
    if not hasattr(fn, "named_parameters"):
        return []
    out = list(fn.named_parameters())
    if hasattr(fn, "named_buffers"):
        out += [(n, b) for n, b in fn.named_buffers() if b is not None]
    seen, unique = set(), []
    for n, t in out:
        if id(t) not in seen:  # shared (tied) tensors are one input
            seen.add(id(t))
            unique.append((n, t))
    return unique


def _dynamic_for(dynamic, i: int, n: int):
    if dynamic is None or dynamic is False:
        return None
    if dynamic is True:
        return {0: "N"}
    if isinstance(dynamic, dict):
        return dynamic
    if isinstance(dynamic, (list, tuple)):
        if len(dynamic) != n:
            raise TraceError(f"dynamic= has {len(dynamic)} entries for {n} inputs", op="trace")
        return _dynamic_for(dynamic[i], i, n)
    raise TraceError(f"dynamic= must be True, a dict or a list of dicts, got {dynamic!r}")


def _spec_of(a, dyn) -> TensorSpec | None:
    if isinstance(a, TensorSpec):
        spec = a
    elif isinstance(a, Tensor):
        if a.is_traced:
            raise TraceError("an input is already a traced tensor", op="trace")
        spec = TensorSpec(a.shape, a.dtype)
    elif isinstance(a, np.ndarray):
        spec = TensorSpec(a.shape, a.dtype)
    elif (
        isinstance(a, tuple)
        and len(a) == 2
        and isinstance(a[0], (tuple, list))
        and not isinstance(a[1], (int, sympy.Basic))
    ):
        spec = TensorSpec(a[0], a[1])
    else:
        return None
    if dyn and not isinstance(a, TensorSpec):
        shape = list(spec.shape)
        for d, sym in dyn.items():
            if -len(shape) <= d < len(shape):
                shape[d] = Dim(sym) if isinstance(sym, str) else sym
        spec = TensorSpec(shape, spec.dtype)
    return spec


def _outputs(graph, out):
    if isinstance(out, dict):
        names, items = [str(k) for k in out], list(out.values())
    elif isinstance(out, (tuple, list)):
        names, items = None, list(out)
    else:
        names, items = None, [out]
    values = []
    for t in items:
        if not isinstance(t, Tensor):
            raise TraceError(
                f"the traced function must return Tensors (or a tuple, list or dict of them), "
                f"got {type(t).__name__}",
                op="trace",
            )
        values.append(graph.lift(t))
    return values, names


def _undecidable(e: TypeError) -> Exception:
    """Python ``if`` on a symbolic shape (``if x.shape[0] > 1``) becomes a TraceError."""
    if "truth value of Relational" not in str(e):
        return e
    tb, where = e.__traceback__, None
    while tb is not None:
        f = tb.tb_frame
        if not f.f_code.co_filename.startswith(_SKIP_DIRS):
            src = linecache.getline(f.f_code.co_filename, tb.tb_lineno).strip()
            where = f"{f.f_code.co_filename}:{tb.tb_lineno}: {src}"
        tb = tb.tb_next
    cond = str(e).rpartition(": ")[2]
    return TraceError(
        f"the Python condition {cond} on a symbolic dimension cannot be decided for every size; "
        "trace with a static shape (no dynamic=/Dim for that dim) or avoid branching on it",
        op="trace",
        where=where,
    )


__all__ = ["trace", "TensorSpec", "Dim"]
