"""torch's pointwise math beyond the basics: ``gradc.asin``, ``x.floor()``, ``x % y``, ``a & b``,
``gradc.lerp``, ``gradc.isclose``, ``x.masked_fill(mask, v)``...

Each is a call of one op of the table (``gradc/ops/math.py``) or a short composition of ops, so
it traces, differentiates and fuses like the rest; the Tensor methods and operators are these
same functions (attached at the bottom).

>>> x = gradc.tensor([-1.5, 0.25, 2.0], requires_grad=True)
>>> x.floor(), x.asinh(), x % 1, gradc.lerp(x, gradc.zeros(3), 0.5)
"""

from __future__ import annotations

import builtins

from gradc import dtypes
from gradc import functions as fn
from gradc.dispatch import apply
from gradc.errors import DTypeError, GradcError, ShapeError, with_op_context
from gradc.shapes import axis_alias

__all__: list = []


def _public(f):
    __all__.append(f.__name__)
    return with_op_context(f)


def _op_function(name: str, op: str, arity: int):
    if arity == 1:

        def f(input):
            return apply(op, input)
    else:

        def f(input, other):
            return apply(op, input, other)

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise {op} (torch.{name})."
    return _public(f)


_UNARY = (
    "tan asin acos atan sinh cosh asinh acosh atanh rsqrt reciprocal expm1 log1p log2 exp2 log10 "
    "erf erfc sign floor ceil trunc isnan isinf isfinite logical_not"
).split()
_BINARY = (
    "atan2 fmod remainder floor_divide logical_and logical_or logical_xor bitwise_and bitwise_or "
    "bitwise_xor"
).split()
for _name in _UNARY:
    globals()[_name] = _op_function(_name, _name, 1)
for _name in _BINARY:
    globals()[_name] = _op_function(_name, _name, 2)
_ALIASES = {
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "arcsinh": "asinh",
    "arccosh": "acosh",
    "arctanh": "atanh",
    "arctan2": "atan2",
    "fix": "trunc",
    "special_erf": "erf",
}
for _alias, _name in _ALIASES.items():
    globals()[_alias] = globals()[_name]
__all__ += list(_ALIASES)


@_public
def round(input, *, decimals: int = 0):
    """Round half to even (as torch and numpy do); ``decimals`` scales by ``10**decimals`` first.
    The gradient is 0."""
    if decimals == 0:
        return apply("round", input)
    scale = 10.0**decimals
    return fn.div(apply("round", fn.mul(input, scale)), scale)


@_public
def div(input, other, *, rounding_mode=None):
    """``input / other``; ``rounding_mode`` ``"trunc"`` or ``"floor"`` rounds the quotient (and
    keeps integer dtypes, with gradient 0, as torch)."""
    if rounding_mode is None:
        return fn.div(input, other)
    ops = {"trunc": "trunc_divide", "floor": "floor_divide"}
    if rounding_mode not in ops:
        raise GradcError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
            f"{rounding_mode!r}"
        )
    return apply(ops[rounding_mode], input, other)


divide = div
__all__.append("divide")


@_public
def bitwise_not(input):
    """``~input``: logical not of a bool tensor, the bitwise complement of an integer one."""
    if input.dtype is dtypes.bool_ or input.dtype.is_floating_point:
        return apply("bitwise_not", input)  # floats: refused there, naming bitwise_not
    return apply("invert", input)


@_public
def lerp(input, end, weight):
    """``input + weight * (end - input)``; ``weight`` a number or a tensor (broadcasting)."""
    return fn.add(input, fn.mul(weight, fn.sub(end, input)))


@_public
def frac(input):
    """``x - trunc(x)``, with the sign of ``x``; gradient 1."""
    return fn.sub(input, apply("trunc", input))


@_public
def square(input):
    return fn.mul(input, input)


@_public
def masked_fill(input, mask, value):
    """``value`` where ``mask`` (a bool tensor broadcasting to ``input``) is true; the result
    keeps ``input``'s dtype and shape, as torch's does."""
    if mask.dtype is not dtypes.bool_:
        raise DTypeError(
            f"masked_fill only supports boolean masks, but got mask with dtype {mask.dtype.name}"
        )
    if getattr(value, "ndim", 0):
        raise ShapeError(
            f"masked_fill only supports a 0-dimensional value tensor, but got tensor with "
            f"{value.ndim} dimension(s)"
        )
    out = fn.where(mask, value, input)
    if tuple(out.shape) != tuple(input.shape):
        raise ShapeError(
            f"the mask of shape {list(mask.shape)} does not broadcast to the "
            f"input's shape {list(input.shape)}"
        )
    return fn.cast(out, input.dtype)


@_public
def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """``|input - other| <= atol + rtol * |other|`` elementwise; infinities are close only to
    themselves, nan to nothing unless ``equal_nan``."""
    if input.dtype is not fn.as_tensor(other).dtype:
        raise DTypeError(f"{input.dtype.name} did not match {fn.as_tensor(other).dtype.name}")
    if input.dtype is dtypes.bool_:
        return fn.eq(input, other)
    diff = fn.abs(fn.sub(input, other))
    within = fn.le(diff, fn.add(atol, fn.mul(rtol, fn.abs(other))))
    finite = apply("logical_and", apply("isfinite", input), apply("isfinite", other))
    close = apply("logical_or", fn.eq(input, other), apply("logical_and", finite, within))
    if equal_nan:
        both_nan = apply("logical_and", apply("isnan", input), apply("isnan", other))
        close = apply("logical_or", close, both_nan)
    return close


@_public
def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """True if every element of ``input`` is close to ``other`` (see ``isclose``)."""
    return builtins.bool(all(isclose(input, other, rtol, atol, equal_nan)))


@_public
def equal(input, other) -> bool:
    """True if both tensors have the same shape and the same values."""
    if tuple(input.shape) != tuple(other.shape):
        return False
    return builtins.bool(all(fn.eq(input, other)))


def _counts(input, dim, keepdim, test):
    from gradc.shapes import norm_dims

    hits = fn.cast(apply(test, input, 0), dtypes.int64)
    dims = norm_dims(dim, input.ndim) if input.ndim else ()  # 0-d: dim 0 is the value itself
    return apply("sum", hits, dim=dims, keepdim=builtins.bool(keepdim))


@_public
@axis_alias
def all(input, dim=None, keepdim=False):
    """True where every element along ``dim`` (or the whole tensor) is nonzero; a bool tensor."""
    return fn.eq(_counts(input, dim, keepdim, "eq"), 0)


@_public
@axis_alias
def any(input, dim=None, keepdim=False):
    """True where some element along ``dim`` (or the whole tensor) is nonzero; a bool tensor."""
    return fn.gt(_counts(input, dim, keepdim, "ne"), 0)


def _methods():
    """Attach the functions as Tensor methods and operators, as torch has them."""
    from gradc._tensor import Tensor

    for name in [*_UNARY, *_BINARY, *_ALIASES]:
        setattr(Tensor, name, globals()[name])
    for name in [
        "bitwise_not",
        "round",
        "div",
        "divide",
        "lerp",
        "frac",
        "square",
        "masked_fill",
        "isclose",
        "allclose",
        "equal",
        "all",
        "any",
    ]:
        setattr(Tensor, name, globals()[name])
    ops = {
        "and": bitwise_and,  # noqa: F821  (defined by the loop above)
        "or": bitwise_or,  # noqa: F821
        "xor": bitwise_xor,  # noqa: F821
        "mod": remainder,  # noqa: F821
        "floordiv": lambda a, b: div(a, b, rounding_mode="floor"),
    }
    for name, f in ops.items():
        setattr(Tensor, f"__{name}__", lambda self, o, f=f: f(self, o))
        setattr(Tensor, f"__r{name}__", lambda self, o, f=f: f(o, self))
    Tensor.__invert__ = bitwise_not
    Tensor.masked_fill_ = lambda self, mask, value: self._inplace(
        "masked_fill_", lambda s: masked_fill(s, mask, value), mask, value
    )


_methods()
del _name, _alias
