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


class floor_divide(sympy.Function):
    """numpy's floor_divide, which is not ``floor(x / y)`` for floats (``1.0 // 0.1`` is 9)."""

    nargs = 2


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

    def _print_pow(self, e):  # gradc.ops.pointwise.pow (x**y inside pow's derivatives), as
        # numpy computes it: numba's ``**`` differs at signed zeros (-0.0 ** -1 is -inf there)
        return f"np.power({self._print(e.args[0])}, {self._print(e.args[1])})"

    def _print_NegativeInfinity(self, e):
        return "(-math.inf)"

    # Rounding and remainders as numpy computes them: numba's ``math.floor``/``round`` return
    # ints (garbage at nan/inf) and its integer ``np.fmod`` is wrong for negative operands, so
    # floats go through ``np.*`` and integer operands (symbols marked ``integer``) through exact
    # integer arithmetic (``//`` is 0 for a zero divisor under numba's numpy error model, as in
    # numpy).
    def _quotient(self, e):
        """``(num, den)`` code if ``e`` is a quotient of two integer-valued expressions."""
        num, den = sympy.fraction(e)
        if den != 1 and num.is_integer and den.is_integer:
            return self._print(num), self._print(den)
        return None

    def _rounded(self, e, fn: str, int_div: str):
        arg = e.args[0]
        if arg.is_integer:
            return self._print(arg)
        q = self._quotient(arg)
        if q is not None:
            return int_div.format(*q)
        return f"np.{fn}({self._print(arg)})"

    def _print_floor(self, e):
        return self._rounded(e, "floor", "(({0}) // ({1}))")

    def _print_floor_divide(self, e):
        # numba's float ``//`` is numpy's floor_divide at nan, inf, signed zeros and inexact
        # quotients (numba's np.floor_divide is not: -0.5 // inf is -1, it gives -0.0)
        return "(({}) // ({}))".format(*(self._print(a) for a in e.args))

    def _print_ceiling(self, e):
        return self._rounded(e, "ceil", "(-(-({0}) // ({1})))")

    def _print_trunc(self, e):
        return self._rounded(e, "trunc", _TRUNC_DIV)

    def _print_round(self, e):
        return self._rounded(e, "round", "np.round(({0}) / ({1}))")

    def _print_fmod(self, e):
        a, b = e.args
        if a.is_integer and b.is_integer:
            a, b = self._print(a), self._print(b)
            q = _TRUNC_DIV.format(a, b)
            return f"(({a}) - {q} * ({b}) if ({b}) != 0 else 0)"
        return f"np.fmod({self._print(a)}, {self._print(b)})"

    def _print_sign(self, e):
        return f"np.sign({self._print(e.args[0])})"

    def _print_exp2(self, e):
        return f"np.exp2({self._print(e.args[0])})"

    def _print_isfinite(self, e):
        return f"np.isfinite({self._print(e.args[0])})"

    def _bitwise(self, e, sign: str) -> str:  # integer (or widened bool) operands only
        return f"(({self._print(e.args[0])}) {sign} ({self._print(e.args[1])}))"

    def _print_bitwise_and(self, e):
        return self._bitwise(e, "&")

    def _print_bitwise_or(self, e):
        return self._bitwise(e, "|")

    def _print_bitwise_xor(self, e):
        return self._bitwise(e, "^")


# C's integer division (toward zero) from Python's floor division: one up for an inexact
# negative quotient; 0 for a zero divisor, as numpy gives
_TRUNC_DIV = "(({0}) // ({1}) + (({0}) // ({1}) < 0 and ({0}) // ({1}) * ({1}) != ({0})))"

_PRINTER = ScalarPrinter()


def scalar_code(e) -> str:
    return _PRINTER.doprint(e)


def cse_lines(expr, names, prefix: str, ints=frozenset()) -> tuple[list[str], str]:
    """``(lines, result)``: assignments of common subexpressions, then the value's code.

    ``names`` maps the expression's free symbols to the variable names they stand for; those
    in ``ints`` hold integers, so rounding and division of them print as integer arithmetic."""
    subs = {
        s: sympy.Symbol(n, integer=True) if n in ints else sympy.Symbol(n, real=True)
        for s, n in names.items()
    }
    expr = expr.xreplace(subs)
    reps, (reduced,) = sympy.cse([expr], symbols=sympy.numbered_symbols(prefix), optimizations=None)
    lines = [f"{s} = {scalar_code(v)}" for s, v in reps]
    return lines, scalar_code(reduced)
