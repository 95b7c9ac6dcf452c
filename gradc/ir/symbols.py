"""Shape symbols: ``Dim("N")``, binding them from concrete shapes, substituting them into attrs."""

from __future__ import annotations

import os
import sys

import sympy

from gradc.errors import ShapeError, TraceError
from gradc.shapes import shape_str

# comparisons made by gradc, sympy or the standard library are theirs, not the user's
_OURS = tuple(
    os.path.dirname(os.path.abspath(m.__file__)) + os.sep
    for m in (sys.modules["gradc.errors"], sympy)
)
_STDLIB = os.path.dirname(os.path.abspath(os.__file__)) + os.sep


def _internal(filename: str) -> bool:
    return filename.startswith(_OURS) or (
        filename.startswith(_STDLIB) and "site-packages" not in filename
    )


_guard_hook = None


def set_guard_hook(hook):
    """Let a compiler decide shape predicates while it traces: ``hook(relation)`` gets e.g.
    ``Eq(N, 2)`` and returns a bool (specialising on the example's size, and recompiling when
    the answer flips) or None (the predicate raises a TraceError). Returns the previous hook."""
    global _guard_hook
    prev, _guard_hook = _guard_hook, hook
    return prev


class SymDim(sympy.Symbol):
    """A symbolic dimension: a positive integer symbol whose comparisons with numbers, written
    in user code while tracing, are either decided (``N >= 1``) or refused, never silently
    False (sympy's ``N == 2`` is structural: False for every N)."""

    def __eq__(self, other):
        return self._predicate(sympy.Symbol.__eq__(self, other), sympy.Eq, "==", other)

    def __ne__(self, other):
        eq = sympy.Symbol.__eq__(self, other)
        return self._predicate(not eq if isinstance(eq, bool) else eq, sympy.Ne, "!=", other)

    def __lt__(self, other):
        return self._predicate(sympy.Symbol.__lt__(self, other), sympy.Lt, "<", other)

    def __le__(self, other):
        return self._predicate(sympy.Symbol.__le__(self, other), sympy.Le, "<=", other)

    def __gt__(self, other):
        return self._predicate(sympy.Symbol.__gt__(self, other), sympy.Gt, ">", other)

    def __ge__(self, other):
        return self._predicate(sympy.Symbol.__ge__(self, other), sympy.Ge, ">=", other)

    __hash__ = sympy.Symbol.__hash__

    def _predicate(self, plain, rel, sign, other):
        """``plain`` is sympy's answer; in user code under a trace, an undecidable one raises."""
        if not isinstance(other, (int, float, sympy.Expr)) or isinstance(other, bool):
            return plain
        from gradc import dispatch

        if not dispatch._trace_stack or _internal(sys._getframe(2).f_code.co_filename):
            return plain
        r = rel(self, other)
        if r in (sympy.true, sympy.false):
            return bool(r)
        if _guard_hook is not None:
            got = _guard_hook(r)
            if got is not None:
                return bool(got)
        raise TraceError(
            f"`{self} {sign} {other}` compares the symbolic dimension {self}, which is different "
            f"for each size the graph serves, with {other}: a traced graph cannot take one branch "
            f"for all of them. Make that dim static (trace without dynamic=/Dim for it), or "
            f"compute without branching on it",
            op=f"{self} {sign} {other}",
        ).with_context()


def Dim(name: str) -> sympy.Symbol:
    """A symbolic dimension (a positive integer sympy symbol) for shapes in trace specs.

    >>> N = gradc.Dim("N")
    >>> g = gradc.trace(net, gradc.TensorSpec((N, 1, 32, 32)))   # one graph for every batch size
    """
    return SymDim(name, integer=True, positive=True)


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
