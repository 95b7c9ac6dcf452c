"""Run a graph with the ops' numpy ``impl``s: the oracle that generated code is tested against.

Each node runs exactly as eager mode runs it (``impl``, then cast to the node's dtype), so the
interpreter on a traced graph equals eager execution bit for bit.

>>> g = gradc.trace(net, gradc.TensorSpec((gradc.Dim("N"), 1, 32, 32)))
>>> (y,) = interpret(g, x, *params)         # N is bound from x's shape
"""

from __future__ import annotations

import numpy as np

from gradc.dtypes import as_dtype
from gradc.errors import DTypeError, GradcError
from gradc.ir.symbols import bind_shape, check_shape, substitute


def interpret(graph, *args, **named) -> list[np.ndarray]:
    """The graph's outputs as arrays, for inputs given in order, by name, or as one dict.

    Inputs may be arrays, Tensors or numbers; names are the input names without ``%``
    (``interpret(g, x, **{"fc.weight": w})``). Shape symbols are bound from the inputs' shapes.
    """
    env = run(graph, *args, **named)
    return [env[v] for v in graph.outputs]


def interpret_dict(graph, *args, **named) -> dict[str, np.ndarray]:
    """Like ``interpret``, keyed by the output names (``out0, out1...`` if the graph has none)."""
    outs = interpret(graph, *args, **named)
    names = graph.output_names or [f"out{i}" for i in range(len(outs))]
    return dict(zip(names, outs))


def run(graph, *args, **named) -> dict:
    """Every value of the graph (``Value -> ndarray``): for comparing intermediates, too."""
    arrays = _bind_inputs(graph, args, named)
    symbols: dict = {}
    for v, a in zip(graph.inputs, arrays):
        bind_shape(symbols, v.type.shape, a.shape, f"input {v.name}")
    for v, a in zip(graph.inputs, arrays):
        check_shape(symbols, v.type.shape, a.shape, f"input {v.name}")
    env = dict(zip(graph.inputs, arrays))
    for node in graph.nodes:
        env[node.out] = run_node(node, [env[v] for v in node.inputs], symbols)
    return env


def _bind_inputs(graph, args, named) -> list[np.ndarray]:
    if len(args) == 1 and isinstance(args[0], dict) and not named:
        args, named = (), args[0]
    if len(args) > len(graph.inputs):
        raise GradcError(f"the graph takes {len(graph.inputs)} inputs, got {len(args)}")
    given = dict(zip(graph.inputs, args))
    by_name = {v.name.lstrip("%"): v for v in graph.inputs}
    for k, a in named.items():
        v = by_name.get(k.lstrip("%"))
        if v is None:
            raise GradcError(f"the graph has no input named {k!r}; inputs: {', '.join(by_name)}")
        if v in given:
            raise GradcError(f"input {v.name} was given twice")
        given[v] = a
    missing = [v.name for v in graph.inputs if v not in given]
    if missing:
        raise GradcError(f"missing graph inputs: {', '.join(missing)}")
    return [_as_array(given[v], v) for v in graph.inputs]


def _as_array(a, v) -> np.ndarray:
    from gradc._tensor import Tensor

    if isinstance(a, (bool, int, float)):
        return np.asarray(a, dtype=v.type.dtype.np)  # a Python number takes the input's dtype
    if isinstance(a, Tensor):
        a = a._concrete("interpret")
    a = np.asarray(a)
    if a.dtype != v.type.dtype.np:
        raise DTypeError(
            f"input {v.name} is {v.type} but got an array of dtype {as_dtype(a.dtype).name}"
        )
    return a


def run_node(node, arrays, symbols) -> np.ndarray:
    """Exactly what eager ``dispatch.apply`` does with the op's impl."""
    attrs = substitute(node.attrs, symbols)
    shape = substitute(node.out.type.shape, symbols)
    try:
        return node.op.run(arrays, attrs, node.out.type.dtype.np, shape)
    except GradcError as e:
        raise e.with_context(op=node.op.name, where=node.loc) from None
    except Exception as e:  # an impl failing means the graph and its inputs disagree
        raise GradcError(
            f"{type(e).__name__}: {e} (inputs {', '.join(str(a.shape) for a in arrays)})",
            op=node.op.name,
            where=node.loc,
        ) from e
