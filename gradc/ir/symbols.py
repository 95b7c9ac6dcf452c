"""Shape symbols: ``Dim("N")``, binding them from concrete shapes, substituting them into attrs."""

from __future__ import annotations

import sympy

from gradc.errors import ShapeError
from gradc.shapes import shape_str


def Dim(name: str) -> sympy.Symbol:
    """A symbolic dimension (a positive integer sympy symbol) for shapes in trace specs.

    >>> N = gradc.Dim("N")
    >>> g = gradc.trace(net, gradc.TensorSpec((N, 1, 32, 32)))   # one graph for every batch size
    """
    return sympy.Symbol(name, integer=True, positive=True)


def bind_shape(env: dict, shape, actual, what: str) -> None:
    """Bind the bare symbols of ``shape`` from ``actual`` into ``env``; check everything else."""
    shape, actual = tuple(shape), tuple(actual)
    if len(shape) != len(actual):
        raise ShapeError(
            f"{what} has {len(actual)} dims {list(actual)}, but the graph expects "
            f"{len(shape)}: {shape_str(shape)}"
        )
    for d, a in zip(shape, actual):
        if isinstance(d, sympy.Symbol):
            if env.setdefault(d, a) != a:
                raise ShapeError(
                    f"{what} has shape {list(actual)}, but {d} is already bound to {env[d]} "
                    f"by an earlier input (the graph expects {shape_str(shape)})"
                )


def check_shape(env: dict, shape, actual, what: str) -> None:
    """After binding: every dim (ints and expressions like ``2*N``) must match ``actual``."""
    for d, a in zip(shape, actual):
        if isinstance(d, sympy.Basic) and d.free_symbols - env.keys():
            d = _solve(env, d, a)
        if substitute(d, env) != a:
            raise ShapeError(
                f"{what} has shape {list(actual)}, but the graph expects {shape_str(shape)} "
                f"with {_bindings(env)}"
            )


def _solve(env: dict, d, a):
    """Bind the one unknown symbol of an expression dim such as ``2*N`` from its actual size."""
    unknown = d.free_symbols - env.keys()
    if len(unknown) == 1:
        (s,) = unknown
        sols = [r for r in sympy.solve(sympy.Eq(d.subs(env), a), s) if r.is_Integer and r > 0]
        if len(sols) == 1:
            env[s] = int(sols[0])
    return d


def _bindings(env: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in env.items()) or "no symbols bound"


def substitute(a, env: dict):
    """``a`` with bound symbols replaced by numbers, inside tuples, lists, slices and dicts."""
    if isinstance(a, sympy.Basic):
        if not a.free_symbols:
            r = a
        else:
            r = a.xreplace({k: sympy.Integer(v) for k, v in env.items()})
            if r.free_symbols:
                raise ShapeError(f"symbols {sorted(map(str, r.free_symbols))} are not bound")
        return int(r) if r.is_Integer else float(r) if r.is_number else r
    if isinstance(a, tuple):
        return tuple(substitute(x, env) for x in a)
    if isinstance(a, list):
        return [substitute(x, env) for x in a]
    if isinstance(a, slice):
        return slice(substitute(a.start, env), substitute(a.stop, env), substitute(a.step, env))
    if isinstance(a, dict):
        return {k: substitute(v, env) for k, v in a.items()}
    return a


def free_symbols(shape) -> set:
    return {s for d in shape if isinstance(d, sympy.Basic) for s in d.free_symbols}
