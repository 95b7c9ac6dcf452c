"""More pointwise math as sympy expressions: inverse trig and hyperbolic functions, rounding,
``expm1``/``log1p``/``log2``/``exp2``, ``erf``, ``fmod``/``remainder``, logic and float tests.

Derivatives come from ``sympy.diff`` as for every pointwise op. Where sympy leaves a derivative
unevaluated (``floor``, ``Mod``) or knows no function (``round``, ``trunc``, ``fmod``: numpy
implements them, printers print them by name), the function class here states it, as torch has
it: rounding is flat (gradient 0, not an error), ``remainder(x, y)`` is ``x - floor(x / y) * y``
away from its jumps.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.codegen.cfunctions import exp2, expm1, log1p, log2, log10

from gradc.errors import DTypeError
from gradc.ops.pointwise import ct, pointwise, x, y


def _flat(base):
    """``base`` (a sympy rounding function) with derivative 0: sympy leaves it unevaluated.
    The class keeps the name, so every printer prints it as ``base``."""
    return type(base.__name__, (base,), {"fdiff": lambda self, argindex=1: sp.S.Zero})


floor, ceiling = _flat(sp.floor), _flat(sp.ceiling)


class round(sp.Function):  # noqa: A001  (printed by name: numpy's and numba's round)
    """Round half to even, as torch and numpy do; flat."""

    _imp_ = staticmethod(np.round)  # lambdify finds implementations here

    def fdiff(self, argindex=1):
        return sp.S.Zero


class trunc(sp.Function):
    """Round toward zero; flat."""

    _imp_ = staticmethod(np.trunc)

    def fdiff(self, argindex=1):
        return sp.S.Zero


class Mod(sp.Mod):
    """Python's (and torch.remainder's) ``x % y``, with the derivative sympy leaves open."""

    def fdiff(self, argindex=1):
        a, b = self.args
        return sp.S.One if argindex == 1 else -floor(a / b)


class fmod(sp.Function):
    """C's fmod: the remainder of the quotient rounded toward zero (sign of ``x``)."""

    nargs = 2
    _imp_ = staticmethod(np.fmod)

    def fdiff(self, argindex=1):
        a, b = self.args
        return sp.S.One if argindex == 1 else -trunc(a / b)


class acosh(sp.acosh):
    """torch's derivative ``1 / sqrt(x**2 - 1)`` (sympy's splits the root: nan for x < -1)."""

    def fdiff(self, argindex=1):
        return 1 / sp.sqrt(self.args[0] ** 2 - 1)


def _scipy(base):
    """``base`` evaluated by scipy.special (numpy has no erf): the implementation travels on the
    class, so every lambdify of an expression containing it, fused ones too, finds it."""
    name = base.__name__

    def impl(*args):  # scipy.special imported at first use: 0.15 s of `import gradc` otherwise
        import scipy.special

        return getattr(scipy.special, name)(*args)

    return type(name, (base,), {"_imp_": staticmethod(impl)})


erf, erfc = _scipy(sp.erf), _scipy(sp.erfc)


def _test(name, impl):
    return type(name, (sp.Function,), {"_imp_": staticmethod(impl), "nargs": 1})


isnan, isinf, isfinite = (_test(n, getattr(np, n)) for n in ("isnan", "isinf", "isfinite"))


def _refuse(op, kinds: str, what: str):
    """Wrap ``op.infer`` to refuse dtypes whose kind is not in ``kinds`` (``b``ool, ``i``nt,
    ``f``loat), as torch refuses ``floor`` of a bool or ``~`` of a float."""
    infer = op.infer

    def checked(*types, **attrs):
        for t in types:
            if t.dtype.np.kind not in kinds:
                raise DTypeError(f"{op.name} is not defined for {t.dtype.name} tensors ({what})")
        return infer(*types, **attrs)

    op.infer = checked
    return op


# ---- transcendental: float results, gradients from sympy.diff --------------------------------
for _name, _expr in [
    ("tan", sp.tan(x)),
    ("asin", sp.asin(x)),
    ("acos", sp.acos(x)),
    ("atan", sp.atan(x)),
    ("sinh", sp.sinh(x)),
    ("cosh", sp.cosh(x)),
    ("asinh", sp.asinh(x)),
    ("acosh", acosh(x)),
    ("atanh", sp.atanh(x)),
    ("rsqrt", 1 / sp.sqrt(x)),
    ("reciprocal", 1 / x),
    ("expm1", expm1(x)),
    ("log1p", log1p(x)),
    ("log2", log2(x)),
    ("exp2", exp2(x)),
    ("log10", log10(x)),
]:
    pointwise(_name, sp.Lambda(x, _expr), "float")
pointwise("erf", sp.Lambda(x, erf(x)), "float")
pointwise("erfc", sp.Lambda(x, erfc(x)), "float")

# gelu: ops, not compositions, with torch's GeluBackward formulas: x * Phi(x) differentiated by
# the product rule turns an inf ct at x = 0 into inf * 0 = nan where torch's ct * (Phi + x phi)
# is inf
_SQRT1_2, _BETA, _TANH_BETA, _KAPPA = 0.5**0.5, 1 / (2 * np.pi) ** 0.5, (2 / np.pi) ** 0.5, 0.044715
pointwise(
    "gelu",
    sp.Lambda(x, x * 0.5 * (1 + erf(x * _SQRT1_2))),
    "float",
    vjps={0: ct * (0.5 * (1 + erf(x * _SQRT1_2)) + x * _BETA * sp.exp(-0.5 * x * x))},
    doc="x * Phi(x), Phi the normal CDF",
)
_t = sp.tanh(_TANH_BETA * (x + _KAPPA * x**3))
pointwise(
    "gelu_tanh",
    sp.Lambda(x, 0.5 * x * (1 + _t)),
    "float",
    vjps={0: ct * (0.5 * (1 + _t) + 0.5 * x * (1 - _t**2) * _TANH_BETA * (1 + 3 * _KAPPA * x**2))},
    doc="gelu with tanh for the CDF: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))",
)
pointwise("atan2", sp.Lambda((x, y), sp.atan2(x, y)), "float")

# ---- sign and rounding: flat, so the gradient is 0 (torch: FloorBackward0 gives zeros) --------
pointwise("sign", sp.Lambda(x, sp.sign(x)))  # sympy: 2*DiracDelta, read as 0
for _name, _fn in [("floor", floor), ("ceil", ceiling), ("round", round), ("trunc", trunc)]:
    _refuse(pointwise(_name, sp.Lambda(x, _fn(x))), "iuf", "as in torch")


# ---- division with rounding and remainders ---------------------------------------------------
def _trunc_divide(a, b):
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        return np.trunc(np.true_divide(a, b))
    q = np.floor_divide(a, b)
    return q + ((q < 0) & (q * b != a))  # round toward zero: floor + 1 for inexact negatives


# torch: div(rounding_mode=...) has gradient 0 for both inputs; integer inputs stay integers.
# The impls are numpy's exact integer arithmetic (floor(x / y) through floats loses big ints).
for _name, _expr, _impl in [
    ("floor_divide", floor(x / y), np.floor_divide),
    ("trunc_divide", trunc(x / y), _trunc_divide),
]:
    _op = _refuse(pointwise(_name, sp.Lambda((x, y), _expr)), "iuf", "numbers")
    _op.impl = _impl
_refuse(pointwise("remainder", sp.Lambda((x, y), Mod(x, y))), "iuf", "numbers")
_refuse(pointwise("fmod", sp.Lambda((x, y), fmod(x, y))), "iuf", "numbers")

# ---- logic on bool tensors and float tests: no gradients -------------------------------------
for _name, _expr in [
    ("logical_and", sp.And(sp.Ne(x, 0), sp.Ne(y, 0))),
    ("logical_or", sp.Or(sp.Ne(x, 0), sp.Ne(y, 0))),
    ("logical_xor", sp.Xor(sp.Ne(x, 0), sp.Ne(y, 0))),
]:
    pointwise(_name, sp.Lambda((x, y), _expr), "bool", grads=False)
pointwise("logical_not", sp.Lambda(x, sp.Eq(x, 0)), "bool", grads=False)
# & | ^ on bool and integer tensors: numpy's bitwise functions (on bools they are the logical
# ops); ~ is logical_not on bools and ``-x - 1`` (two's complement) on integers; floats refuse
for _name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    _fn = type(_name, (sp.Function,), {"_imp_": staticmethod(getattr(np, _name)), "nargs": 2})
    _refuse(
        pointwise(_name, sp.Lambda((x, y), _fn(x, y)), grads=False),
        "biu",
        "bool and integer tensors only, as in torch",
    )
_refuse(
    pointwise("bitwise_not", sp.Lambda(x, sp.Eq(x, 0)), "bool", grads=False),
    "b",
    "this op is ~ of bool tensors; integers use invert",
)
_refuse(pointwise("invert", sp.Lambda(x, -x - 1), grads=False), "iu", "~ of integer tensors")
for _name, _fn in [("isnan", isnan), ("isinf", isinf), ("isfinite", isfinite)]:
    pointwise(_name, sp.Lambda(x, _fn(x)), "bool", grads=False)

del _name, _expr, _fn, _impl, _op
