"""More of ``torch.nn.functional``: ``gelu``, ``silu``, ``leaky_relu``, ``elu``, ``one_hot``.

Compositions of ops of the table, re-exported by ``gradc.nn.functional``. Gradients at the kinks
are torch's: ``leaky_relu'(0) = negative_slope``, ``elu'(0) = alpha``.

>>> F.gelu(x), F.silu(x), F.leaky_relu(x, 0.2), F.elu(x), F.one_hot(gradc.tensor([0, 2]), 3)
"""

from __future__ import annotations

from gradc import dtypes
from gradc import functions as fn
from gradc.creation import arange
from gradc.dispatch import apply
from gradc.errors import DTypeError, GradcError, ShapeError, with_op_context

__all__ = ["gelu", "silu", "leaky_relu", "elu", "one_hot", "hardtanh", "relu6", "softplus"]

_public = with_op_context


def _maybe_inplace(input, f, inplace: bool, name: str):
    """``f(input)``, written into ``input`` when ``inplace`` (torch's rules for in-place ops)."""
    return input._inplace(name + "_", f) if inplace else f(input)


@_public
def gelu(input, approximate: str = "none"):
    """``x * Phi(x)`` with the normal CDF from ``erf``; ``approximate="tanh"`` uses
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``."""
    if approximate in ("none", "tanh"):  # ops of the table (gradc/ops/math.py)
        return apply("gelu" if approximate == "none" else "gelu_tanh", input)
    raise GradcError(f"approximate argument must be either none or tanh, got {approximate!r}")


@_public
def silu(input, inplace: bool = False):
    """``x * sigmoid(x)`` (swish)."""
    return _maybe_inplace(input, lambda x: fn.mul(x, fn.sigmoid(x)), inplace, "silu")


@_public
def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """``x`` where ``x > 0``, else ``negative_slope * x``."""

    def f(x):
        return fn.where(fn.gt(x, 0), x, fn.mul(x, negative_slope))

    return _maybe_inplace(input, f, inplace, "leaky_relu")


@_public
def elu(input, alpha: float = 1.0, inplace: bool = False):
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``; ``exp`` only sees ``min(x, 0)``, so
    large inputs cannot overflow into a nan gradient."""

    def f(x):
        neg = fn.mul(alpha, apply("expm1", fn.clamp(x, None, 0.0)))
        return fn.where(fn.gt(x, 0), x, neg)

    return _maybe_inplace(input, f, inplace, "elu")


@_public
def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    """``clamp(x, min_val, max_val)``, with gradient 0 on the bounds (torch's, unlike clamp's)."""

    def f(x):
        inside = apply("logical_and", fn.gt(x, min_val), fn.lt(x, max_val))
        return fn.where(inside, x, fn.clamp(x, min_val, max_val).detach())

    return _maybe_inplace(input, f, inplace, "hardtanh")


@_public
def relu6(input, inplace: bool = False):
    return hardtanh(input, 0.0, 6.0, inplace)


@_public
def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``."""
    bx = fn.mul(input, beta)
    above = fn.gt(bx, threshold)
    # where, not clamp: clamp's gradient at nan is 0, torch's softplus gradient there is nan
    soft = fn.div(apply("log1p", fn.exp(fn.where(above, float(threshold), bx))), beta)
    return fn.where(above, input, soft)


@_public
def one_hot(tensor, num_classes: int = -1):
    """``[..., num_classes]`` int64 with a 1 at each entry's class; ``num_classes=-1`` takes
    ``max + 1`` (that reads the values, so it cannot trace: pass it explicitly there)."""
    if tensor.dtype is not dtypes.int64:
        raise DTypeError(
            f"one_hot is only applicable to index tensor of type LongTensor, got "
            f"{tensor.dtype.name}"
        )
    if not tensor.is_traced:
        values = tensor.numpy()
        if values.size and values.min() < 0:
            raise ShapeError("Class values must be non-negative.")
        if num_classes == -1:
            num_classes = int(values.max()) + 1 if values.size else 0
        elif values.size and values.max() >= num_classes:
            raise ShapeError("Class values must be smaller than num_classes.")
    elif num_classes == -1:
        raise GradcError("one_hot under tracing needs num_classes (the values are not known)")
    hit = fn.eq(fn.unsqueeze(tensor, -1), arange(num_classes))
    return fn.cast(hit, dtypes.int64)
