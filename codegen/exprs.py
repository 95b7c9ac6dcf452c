"""Printing sympy as numba-compilable Python: integer shape arithmetic and pointwise bodies.

Shape dims are exact integers at run time: ``floor(a/b)`` prints as ``a // b`` and
``ceiling(a/b)`` as ``-(-a // b)``, so no float ever enters index arithmetic. Pointwise bodies
go through ``sympy.cse`` and a Python printer whose floats keep every bit (``repr``).
"""

from __future__ import annotations

import math

import sympy
from sympy.printing.pycode import PythonCodePrinter


class CodegenError(Exception):
    """An expression or op the code generator cannot print."""


def int_code(e) -> str:
    """An integer-valued shape expression (int, sympy) as Python integer arithmetic."""
    if isinstance(e, bool):
        return str(e)
    if isinstance(e, int):
        return str(e)
    e = sympy.sympify(e)
    if e.is_Integer:
        return str(int(e))
    if e.is_Symbol:
        return e.name
    if isinstance(e, (sympy.floor, sympy.ceiling)):
        num, den = sympy.fraction(sympy.together(e.args[0]))
        n, d = int_code(num), int_code(den)
        if isinstance(e, sympy.floor):
            return f"(({n}) // ({d}))"
        return f"(-(-({n}) // ({d})))"
    if e.is_Add:
        return "(" + " + ".join(int_code(a) for a in e.args) + ")"
    if e.is_Mul:
        num, den = sympy.fraction(e)
        if den != 1:  # an exact quotient (infer only makes these when it divides)
            return f"(({int_code(num)}) // ({int_code(den)}))"
        return "(" + " * ".join(int_code(a) for a in e.args) + ")"
    if isinstance(e, (sympy.Max, sympy.Min)):
        fn = "max" if isinstance(e, sympy.Max) else "min"
        return f"{fn}({', '.join(int_code(a) for a in e.args)})"
    if isinstance(e, sympy.Mod):
        return f"(({int_code(e.args[0])}) % ({int_code(e.args[1])}))"
    if e.is_Pow and e.exp.is_Integer and e.exp > 0:
        return f"(({int_code(e.base)}) ** {int(e.exp)})"
    raise CodegenError(f"cannot print the shape expression {e} as integer arithmetic")


def shape_code(shape) -> str:
    """``(N, 6, 28, 28)``; ``()`` for a scalar, ``(5,)`` for one dim."""
    dims = [int_code(d) for d in shape]
    if len(dims) == 1:
        return f"({dims[0]},)"
    return "(" + ", ".join(dims) + ")"


class ScalarPrinter(PythonCodePrinter):
    """sympy's Python printer (``math.*``, conditional expressions for Piecewise), with floats
    printed exactly and the constants numba knows."""

    def __init__(self):
        super().__init__({"standard": "python3", "fully_qualified_modules": True})

    def _print_Float(self, e):
        v = float(e)
        if math.isinf(v):
            return "math.inf" if v > 0 else "(-math.inf)"
        if math.isnan(v):
            return "math.nan"
        return repr(v)

    def _print_BooleanTrue(self, e):
        return "True"

    def _print_BooleanFalse(self, e):
        return "False"

    def _print_pow(self, e):  # gradc.ops.pointwise.pow: x**y inside pow's derivatives
        return f"({self._print(e.args[0])} ** {self._print(e.args[1])})"

    def _print_NegativeInfinity(self, e):
        return "(-math.inf)"


_PRINTER = ScalarPrinter()


def scalar_code(e) -> str:
    return _PRINTER.doprint(e)


def cse_lines(expr, names, prefix: str) -> tuple[list[str], str]:
    """``(lines, result)``: assignments of common subexpressions, then the value's code.

    ``names`` maps the expression's free symbols to the variable names they stand for."""
    subs = {s: sympy.Symbol(n, real=True) for s, n in names.items()}
    expr = expr.xreplace(subs)
    reps, (reduced,) = sympy.cse([expr], symbols=sympy.numbered_symbols(prefix), optimizations=None)
    lines = [f"{s} = {scalar_code(v)}" for s, v in reps]
    return lines, scalar_code(reduced)
