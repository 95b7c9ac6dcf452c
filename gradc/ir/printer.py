"""The text form of a graph: what people read, what golden files hold, what the cache hashes.

``format_graph(graph)`` (also ``str(graph)``) is stable: node values are renumbered ``%0, %1, ...``
in print order, attrs print in a fixed spelling, and a constant's content enters its text through
a short hash, so equal text means an equal program.

    graph forward(%x: f32[N,4], %fc.weight: f32[3,4]) {
      %0: f32[4,3] = permute(%fc.weight, dims=(1, 0))  # net.py:12
      %1: f32[N,3] = matmul(%x, %0)                    # net.py:12
      return %1
    }
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import sympy

from gradc.dtypes import DType
from gradc.shapes import dim_str, same_dim

WIDTH = 100  # wrap the header and the return past this; align comments up to it
_INLINE_ARRAY = 4  # arrays with at most this many elements print in full


def value_names(graph) -> dict:
    """The printed name of every value: inputs keep theirs, node results are ``%0, %1, ...``."""
    names = {v: v.name for v in graph.inputs}
    taken = set(names.values())
    k = 0
    for node in graph.nodes:
        while f"%{k}" in taken:
            k += 1
        names[node.out] = f"%{k}"
        k += 1
    return names


def format_loc(loc: str | None) -> str | None:
    """``/long/path/lenet.py:21`` -> ``lenet.py:21``."""
    if not loc:
        return None
    path, _, line = loc.rpartition(":")
    return f"{os.path.basename(path)}:{line}" if path else loc


def format_graph(graph) -> str:
    names = value_names(graph)

    def name(v) -> str:
        return names.get(v, f"{v.name}?")  # '?' marks a value from outside (the verifier says)

    params = [_input(v) for v in graph.inputs]
    lines = [_wrapped(f"graph {graph.name}(", params, ") {", indent="")]
    body: list[tuple[str, str | None]] = []
    section = graph.meta.get("backward_start")
    for node in graph.nodes:
        if node is section:
            saved = ", ".join(name(v) for v in graph.meta.get("saved", ()))
            body.append((f"  # backward; saved from forward: {saved or 'nothing'}", None))
        code, note = format_node(node, name)
        body.append((f"  {code}", note))
    width = max((len(c) for c, n in body if n and len(c) <= WIDTH), default=0)
    for code, note in body:
        lines.append(f"{code.ljust(width)}  # {note}" if note else code)
    lines.append(_return(graph, name))
    lines.append("}")
    return "\n".join(lines)


def format_node(node, name) -> tuple[str, str | None]:
    """``(code, note)``: ``%3: f32[N,8] = relu(%2)`` (values named by ``name(value)``) and the
    user's ``file:line`` with the vjp rule that made the node, or None."""
    args = [name(v) for v in node.inputs]
    defaults = node.op.meta.get("attr_defaults", {})  # an op may list attrs not worth printing
    args += [
        f"{k}={format_attr(a, node, k)}"
        for k, a in node.attrs.items()
        if not (k in defaults and _equal(defaults[k], a))
    ]
    code = f"{name(node.out)}: {node.out.type} = {node.op.name}({', '.join(args)})"
    note = format_loc(node.loc)
    if node.rule:
        note = f"{note} vjp({node.rule})" if note else f"vjp({node.rule})"
    return code, note


def _equal(a, b) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False


def _input(v) -> str:
    """``%x: f32[N,4]`` for a user input; other roles lead: ``param %fc.weight: f32[3,4]``."""
    role = getattr(v, "role", None)
    text = f"{v.name}: {v.type}"
    return text if role is None or role.kind == "input" else f"{role} {text}"


def _return(graph, name) -> str:
    outs = [name(v) for v in graph.outputs]
    roles = getattr(graph, "output_roles", None)
    labels = list(graph.output_names) if graph.output_names else [None] * len(outs)
    if roles is not None:  # ``new(fc.weight)=%9``: the role says what the caller does with it
        labels = [_output_label(lb, r) for lb, r in zip(labels, roles)]
    if any(lb is not None for lb in labels):
        outs = [f"{lb.strip()}={o}" if lb else o for lb, o in zip(labels, outs)]
    elif len(outs) == 1:
        return f"  return {outs[0]}"
    return _wrapped("  return (", outs, ")", indent="  ")


def _output_label(label, role) -> str | None:
    """Results and gradients by name (``loss``, ``fc.weight.grad``); a new value of state by
    the state it replaces (``new(fc.weight)``); a saved value as ``saved NAME``."""
    if role.kind in ("result", "grad") and label:
        return label
    if role.of is not None:
        return str(role)
    return f"{role.kind} {label}" if label else role.kind


def _wrapped(head: str, items: list[str], tail: str, indent: str) -> str:
    one = head + ", ".join(items) + tail
    if len(one) <= WIDTH or not items:
        return one
    inner = "".join(f"{indent}    {it},\n" for it in items)
    return f"{head}\n{inner}{indent}{tail}"


def format_attr(a, node=None, key: str | None = None) -> str:
    """One attribute value, spelled the same way every time."""
    if key == "index" and isinstance(a, tuple):
        shape = node.inputs[0].type.shape if node is not None and node.inputs else None
        return "[" + ", ".join(_index_item(it, shape, k) for k, it in _index_dims(a)) + "]"
    if isinstance(a, DType):
        return a.short
    if a is None or isinstance(a, (bool, np.bool_)):
        return str(bool(a)) if a is not None else "None"
    if isinstance(a, (int, np.integer)):
        return str(int(a))
    if isinstance(a, (float, np.floating)):
        return repr(float(a)) if isinstance(a, float) else str(a)
    if isinstance(a, sympy.Basic):
        return dim_str(a)
    if isinstance(a, slice):
        return _slice(a, None)
    if isinstance(a, np.ndarray):
        return format_array(a)
    if isinstance(a, (tuple, list)):
        items = [format_attr(x) for x in a]
        if isinstance(a, list):
            return "[" + ", ".join(items) + "]"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(a, str):
        return repr(a)
    return repr(a)


def format_array(a: np.ndarray) -> str:
    """Tiny arrays in full (``2.5``, ``[1, 2]``); others as ``<f64[3,4] 1a2b3c4d>``."""
    from gradc.dtypes import as_dtype

    if a.size <= _INLINE_ARRAY and a.ndim <= 1:
        if a.ndim == 0:
            return str(a[()])
        return "[" + ", ".join(str(x) for x in a) + "]"
    digest = hashlib.blake2b(np.ascontiguousarray(a).tobytes(), digest_size=4).hexdigest()
    shape = "[" + ",".join(str(d) for d in a.shape) + "]"
    return f"<{as_dtype(a.dtype).short}{shape} {digest}>"


def _index_dims(index):
    """Pair each index item with the input dim it reads (None for a new axis)."""
    d = 0
    for it in index:
        if it is None:
            yield None, it
        else:
            yield d, it
            d += 1


def _index_item(it, shape, d) -> str:
    if it is None:
        return "None"
    if isinstance(it, slice):
        size = shape[d] if shape is not None and d is not None and d < len(shape) else None
        return _slice(it, size)
    return format_attr(it)


def _slice(s: slice, size) -> str:
    """``1:3``, ``:2``, ``::2``; ``:`` for the whole dim; a default start or step is omitted."""
    start = "" if s.start in (None, 0) else format_attr(s.start)
    whole = s.stop is None or (size is not None and same_dim(s.stop, size))
    stop = "" if whole and not start else format_attr(s.stop) if s.stop is not None else ""
    text = f"{start}:{stop}"
    if s.step not in (None, 1):
        text += f":{format_attr(s.step)}"
    return text
