"""Pointwise ops are sympy expressions: impl from ``lambdify``, vjp from ``sympy.diff``.

The derivative of a pointwise op is itself a pointwise op (``tanh_vjp0`` is
``ct * (1 - tanh(x)**2)``),
registered on first use, so backward graphs fuse like forward ones and higher-order gradients need
no extra rules.
"""

from __future__ import annotations

import functools
import inspect

import numpy as np
import sympy as sp
from sympy.logic.boolalg import BooleanFunction
from sympy.printing.numpy import NumPyPrinter

from gradc import dtypes
from gradc.errors import DTypeError, GradcError
from gradc.ops.table import OPS, Op, register
from gradc.shapes import TensorType, broadcast_shapes

x, y, z = sp.symbols("x y z", real=True)
ct = sp.Symbol("ct", real=True)


def result_dtype(types) -> dtypes.DType:
    """torch's result_type: a 0-d operand (a lifted Python number too) only decides the dtype when
    its category is higher than every dimensioned operand's (f32[3] * f64[] is f32)."""
    dimmed = [t.dtype for t in types if t.ndim]
    if not dimmed:
        return dtypes.promote(*(t.dtype for t in types))
    top = max(d.category for d in dimmed)
    return dtypes.promote(*dimmed, *(t.dtype for t in types if t.dtype.category > top))


# each rule maps the input TensorTypes to the output dtype
DTYPE_RULES = {
    "promote": lambda *ts: result_dtype(ts),
    "float": lambda *ts: dtypes.float_of(result_dtype(ts)),
    "bool": lambda *ts: dtypes.bool_,
    "select": lambda c, *ts: result_dtype(ts),
}


def _infer(rule: str, bools: bool):
    def infer(*types: TensorType) -> TensorType:
        if rule == "select" and types[0].dtype is not dtypes.bool_:
            raise DTypeError(f"the condition must be a bool tensor, got {types[0].dtype.name}")
        if not bools and any(t.dtype is dtypes.bool_ for t in types):
            raise DTypeError("this op does not take bool tensors (as in torch): use .float()")
        shape = broadcast_shapes(*(t.shape for t in types))
        return TensorType(DTYPE_RULES[rule](*types), shape)

    return infer


def _select(condlist, choicelist, default=np.nan):
    """lambdify prints every Piecewise as ``select``; the common two-branch form
    ``(a, cond), (b, True)`` is a ``where``, several times faster."""
    if len(condlist) == 2 and condlist[1] is True:
        return np.where(condlist[0], choicelist[0], choicelist[1])
    return np.select(np.broadcast_arrays(*condlist), np.broadcast_arrays(*choicelist), default)


def _power(a, b):
    """IEEE ``pow`` as torch's tensor ``**`` computes it: numpy's ``power`` takes a sqrt fast
    path for a scalar (or stride-0) exponent 0.5, making ``(-inf) ** 0.5`` nan, not inf."""
    dtype = np.result_type(a, b)
    if dtype.kind == "f":
        return np.float_power(a, b).astype(dtype, copy=False)  # float_power computes in f64
    return np.power(a, b)


class _Printer(NumPyPrinter):
    """numpy's printer, but a tensor exponent goes through ``_power``; number exponents keep
    numpy's own printing (sqrt, squares, reciprocals)."""

    def _print_Pow(self, expr, rational=False):
        if expr.exp.is_Number:
            return super()._print_Pow(expr, rational)
        return f"_power({self._print(expr.base)}, {self._print(expr.exp)})"


_PRINTER_SETTINGS = {"fully_qualified_modules": False, "inline": True}


def _impl(lam: sp.Lambda):
    """The numpy function of ``lam``, lambdified on first call: ~70 ops lambdified at import
    cost ~0.2 s of every start, and a compiled program's warm start runs none of them."""
    fn = None
    # lambdify prints boolean connectives (And, Or, ITE, ...) as logical_*.reduce((c1, c2)) or
    # select, which need operands of one shape: broadcast (views, no copies) for those only
    broadcast = len(lam.variables) > 1 and bool(lam.expr.atoms(BooleanFunction))

    def impl(*arrays):
        nonlocal fn
        if fn is None:
            fn = sp.lambdify(
                lam.variables,
                lam.expr,
                modules=[{"select": _select, "_power": _power}, "numpy"],
                printer=_Printer({**_PRINTER_SETTINGS, "allow_unknown_functions": True}),
            )
        # numpy computes float functions of bools and uint8 in float16: widen them first
        arrays = [a.astype(np.int64) if a.dtype.kind in "bu" else a for a in arrays]
        return fn(*(np.broadcast_arrays(*arrays) if broadcast else arrays))

    return impl


def pointwise(
    name: str,
    lam: sp.Lambda,
    dtype_rule: str = "promote",
    grads=True,
    doc: str = "",
    bools: bool = True,
    vjps: dict | None = None,
) -> Op:
    """Register a pointwise op defined by ``lam``; ``grads`` says which inputs get a vjp,
    ``bools=False`` refuses bool inputs (torch's ``-`` and negation).

    ``vjps`` maps an input index to its vjp written as an expression in ``ct`` and the inputs,
    for where ``ct * diff(expr)`` is not torch's convention: kinks, ties, nan and inf (a
    ``Piecewise`` branch that is exactly 0 does not turn an inf ``ct`` into nan)."""
    n = len(lam.variables)
    if grads is True or grads is False:
        grads = (grads,) * n
    vjp = tuple(functools.partial(_vjp_rule, name, i) if g else None for i, g in enumerate(grads))
    op = Op(name, _infer(dtype_rule, bools), _impl(lam), vjp, "pointwise", lam, doc=doc or str(lam))
    if vjps:
        op.meta["vjps"] = dict(vjps)
    return register(op)


def derivative_op(name: str, i: int):
    """The pointwise op ``ct * d op / d input_i``; "identity" if that is ``ct``, "zero" if 0.

    Derived once per (op, input): sympy is far too slow for the backward pass's hot path."""
    op = OPS[name]
    derived = op.meta.setdefault("derivatives", {})
    if i not in derived:
        derived[i] = _derive(op, i)
    return derived[i]


# d op / dx written with the op's output, as torch's backward computes it: these ops save their
# result, not their input, so writing to the input in place afterwards is fine (and writing to
# the result is an error), exactly as in torch.
# Each rule is ``ct * d op / dx`` in the cotangent ``c`` and the output ``o``.
FROM_OUTPUT = {
    "exp": lambda c, o: c * o,
    "tanh": lambda c, o: c * (1 - o**2),
    "sigmoid": lambda c, o: c * o * (1 - o),
    "sqrt": lambda c, o: c / (2 * o),
    # torch's threshold_backward: 0 where out <= 0, ct elsewhere (nan included; an inf ct
    # times an exact 0 branch stays 0)
    "relu": lambda c, o: sp.Piecewise((0, o <= 0), (c, True)),
    "expm1": lambda c, o: c * (o + 1),
    "exp2": lambda c, o: c * o * sp.log(2),
    "reciprocal": lambda c, o: -c * (o * o),
    "rsqrt": lambda c, o: -c * o**3 / 2,
    "tan": lambda c, o: c * (1 + o**2),
}


def _derive(op: Op, i: int):
    name, dname = op.name, f"{op.name}_vjp{i}"
    if dname in OPS:  # an op re-registered under an old name (tests do this)
        return OPS[dname]
    lam = op.expr
    names, k, c = {v.name for v in lam.variables}, 0, ct
    while c.name in names:
        k += 1
        c = sp.Symbol(f"ct{k}", real=True)
    if name in FROM_OUTPUT:
        o = sp.Symbol("out", real=True)
        e = FROM_OUTPUT[name](c, o)
        dop = pointwise(dname, sp.Lambda((c, o), e), "promote")
        dop.doc = f"vjp of {name}: {e}"
        dop.meta["args"] = ("out",)
        return dop
    given = op.meta.get("vjps", {}).get(i)
    if given is not None:  # a convention, used as written
        e = given.xreplace({ct: c})
    else:
        # no sp.simplify: it took ~100 ms per derivative (the first backward of a program paid
        # it, and a hypothesis test's first example blew its 200 ms deadline), and its rewrites
        # are not numerically better (tanh' became cosh(x)**-2, pow's x**(y-1)*y)
        e = c * sp.diff(lam.expr, lam.variables[i])
        # sign's derivative is 2*DiracDelta: zero wherever it is defined, as torch has it
        e = e.replace(sp.DiracDelta, lambda *args: sp.S.Zero)
    if e == c:
        return "identity"
    if e == 0:
        return "zero"
    used = [k for k, v in enumerate(lam.variables) if v in e.free_symbols]
    dlam = sp.Lambda((c, *(lam.variables[k] for k in used)), e)
    dop = pointwise(dname, dlam, "promote", doc=f"vjp of {name} w.r.t. input {i}: {e}")
    dop.meta["args"] = tuple(used)
    return dop


def _vjp_rule(name: str, i: int, ct_t, *inputs, out=None):
    from gradc import functions as fn

    dop = derivative_op(name, i)
    target = inputs[i]
    if dop == "zero":
        return fn.zeros_like(target)
    if dop == "identity":
        g = ct_t
    else:
        g = fn.apply(dop, ct_t, *(out if k == "out" else inputs[k] for k in dop.meta["args"]))
    g = fn.sum_to(g, target.shape)
    return g if g.dtype is target.dtype else fn.cast(g, target.dtype)


def elementwise(name: str, fn, doc: str = ""):
    """Register a new pointwise op from a function of sympy symbols; returns a Tensor function.

    >>> import sympy, gradc
    >>> softplus = gradc.elementwise("softplus", lambda x: sympy.log(1 + sympy.exp(x)))
    >>> y = softplus(gradc.tensor([0.0, 1.0], requires_grad=True))

    The gradient (any order), fusion and kernels come from the expression.
    """
    from gradc import functions as F

    if name in OPS:
        raise GradcError(f"an op named {name!r} already exists; pick another name")
    n = len(inspect.signature(fn).parameters)
    syms = sp.symbols(" ".join(f"x{k}" for k in range(n)), real=True)
    syms = (syms,) if n == 1 else tuple(syms)
    op = pointwise(name, sp.Lambda(syms, sp.sympify(fn(*syms))), "float", doc=doc)

    def call(*args):
        return F.apply(op, *args)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = doc or f"pointwise op {name}: {op.expr}"
    call.op = op
    return call


def _larger(a, b):
    """``a`` if it is the larger (or equal), else ``b``; nan if either is nan: every comparison
    with nan is false, so nan falls through to ``a + b`` (inf - inf is nan too, but equal infs
    sum to themselves). ``a - b >= 0``, because sympy folds ``(b, a < b), (a, a >= b)`` into
    ``(b, a < b), (a, True)``, which drops the nan."""
    return sp.Piecewise((b, a < b), (a, a - b >= 0), (a + b, True))


def _smaller(a, b):
    return sp.Piecewise((b, a > b), (a, a - b <= 0), (a + b, True))


def _where_ct(cond):
    """``ct`` where ``cond`` holds, else exactly 0 (torch's masked gradients: no ``0 * inf``)."""
    return sp.Piecewise((ct, cond), (0, True))


# max/min at a tie give each side half the gradient; with a nan each side gets all of it (torch)
def _minmax_vjp(lose):
    return sp.Piecewise((0, lose), (ct / 2, sp.Eq(x, y)), (ct, True))


# name, expression, dtype rule, which inputs have gradients
pointwise("add", sp.Lambda((x, y), x + y))
pointwise("sub", sp.Lambda((x, y), x - y), bools=False)
pointwise("mul", sp.Lambda((x, y), x * y))
pointwise("div", sp.Lambda((x, y), x / y), "float")
pointwise("neg", sp.Lambda(x, -x), bools=False)


class pow(sp.Function):  # noqa: A001  (printed by name: Python's, numba's and C's pow)
    """``x**y`` inside pow's own derivatives, with torch's rules at the edges at every order
    (sympy's ``d x**y / dx = y * x**y / x`` is nan at x = 0, even for ``x**2``): no gradient
    for the base where the exponent is 0, none for the exponent where the base is 0 and the
    exponent >= 0."""

    nargs = 2
    _imp_ = staticmethod(np.power)

    @classmethod
    def eval(cls, b, e):
        if e.is_Integer and e >= 0:  # sympy's own power is exact there (x**2 -> 2*x, not nan)
            return b**e
        return None

    def fdiff(self, argindex=1):
        b, e = self.args
        if argindex == 1:
            return sp.Piecewise((0, sp.Eq(e, 0)), (e * pow(b, e - 1), True))
        return sp.Piecewise((0, sp.Eq(b, 0) & (e >= 0)), (pow(b, e) * sp.log(b), True))


pointwise(
    "pow",
    sp.Lambda((x, y), x**y),
    vjps={  # torch: no gradient for x where y == 0, none for y where x == 0 and y >= 0
        0: sp.Piecewise((0, sp.Eq(y, 0)), (ct * y * pow(x, y - 1), True)),
        1: ct * sp.Piecewise((0, sp.Eq(x, 0) & (y >= 0)), (pow(x, y) * sp.log(x), True)),
    },
)
pointwise(
    "abs",
    sp.Lambda(x, sp.Abs(x)),
    vjps={0: ct * sp.Piecewise((1, x > 0), (-1, x < 0), (0, True))},  # sgn: 0 at 0 and nan
)
pointwise(
    "relu",
    sp.Lambda(x, sp.Piecewise((0, x <= 0), (x, True))),
    vjps={0: sp.Piecewise((0, x <= 0), (ct, True))},
    doc="max(x, 0), nan kept; its derivative at 0 is 0 and at nan 1, as in torch",
)
pointwise("exp", sp.Lambda(x, sp.exp(x)), "float")
pointwise("log", sp.Lambda(x, sp.log(x)), "float")
pointwise("sqrt", sp.Lambda(x, sp.sqrt(x)), "float")
pointwise("sin", sp.Lambda(x, sp.sin(x)), "float")
pointwise("cos", sp.Lambda(x, sp.cos(x)), "float")
pointwise("tanh", sp.Lambda(x, sp.tanh(x)), "float")
# Each branch is exp of a non-positive number: no overflow, and the tails keep their relative
# precision (log(sigmoid(-40)) is -40; (tanh(x/2) + 1)/2 rounds it to 0).
pointwise(
    "sigmoid",
    sp.Lambda(x, sp.Piecewise((1 / (1 + sp.exp(-x)), x >= 0), (sp.exp(x) / (1 + sp.exp(x)), True))),
    "float",
)
pointwise(
    "maximum",
    sp.Lambda((x, y), _larger(x, y)),
    vjps={0: _minmax_vjp(x < y), 1: _minmax_vjp(x > y)},
    doc="elementwise max; nan if either is nan; a tie splits the gradient",
)
pointwise(
    "minimum",
    sp.Lambda((x, y), _smaller(x, y)),
    vjps={0: _minmax_vjp(x > y), 1: _minmax_vjp(x < y)},
    doc="elementwise min; nan if either is nan; a tie splits the gradient",
)
# clamp's bounds: x keeps the whole gradient on a bound and none at nan (torch's clamp)
pointwise(
    "clamp_min",
    sp.Lambda((x, y), _larger(x, y)),
    vjps={0: _where_ct(x >= y), 1: _where_ct(x < y)},
    doc="max(x, min) as clamp computes it: nan kept, the gradient 1 for x on the bound",
)
pointwise(
    "clamp_max",
    sp.Lambda((x, y), _smaller(x, y)),
    vjps={0: _where_ct(x <= y), 1: _where_ct(x > y)},
    doc="min(x, max) as clamp computes it: nan kept, the gradient 1 for x on the bound",
)
pointwise(
    "where",
    sp.Lambda((z, x, y), sp.Piecewise((x, sp.Ne(z, 0)), (y, True))),
    "select",
    grads=(False, True, True),
    vjps={1: _where_ct(sp.Ne(z, 0)), 2: sp.Piecewise((0, sp.Ne(z, 0)), (ct, True))},
)
for _name, _rel in [
    ("lt", sp.Lt),
    ("le", sp.Le),
    ("gt", sp.Gt),
    ("ge", sp.Ge),
    ("eq", sp.Eq),
    ("ne", sp.Ne),
]:
    pointwise(_name, sp.Lambda((x, y), _rel(x, y, evaluate=False)), "bool", grads=False)


def _cast_infer(t: TensorType, *, dtype) -> TensorType:
    return TensorType(dtype, t.shape)


def _cast_impl(a, *, dtype):
    return a.astype(dtype.np)


def _cast_vjp(ct_t, a, *, out, dtype):
    from gradc import functions as fn

    return fn.cast(ct_t, a.dtype)


register(
    Op(
        "cast",
        _cast_infer,
        _cast_impl,
        (_cast_vjp,),
        "pointwise",
        sp.Lambda(x, x),
        doc="convert to another dtype",
    )
)
