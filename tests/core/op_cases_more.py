"""Rows of the op test table for the ops of ``gradc/ops/math.py`` and ``gradc/ops/scan.py``.

Same table as ``op_cases.py`` (``case`` registers into its ``CASES``); a file of its own so the
two grow without stepping on each other. Values keep away from each op's kinks, poles and jumps:
rounding ops see quarter-offset grids (never an integer or a half), ``remainder``/``fmod`` see
quotients that are odd multiples of 1/4.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import gradc
from gradc.dispatch import apply
from tests.core.op_cases import (
    ANY,
    AWAY_FROM_0,
    GRID_SHIFTED,
    NONZERO,
    POSITIVE,
    _leaf,
    _pointwise_row,
    _shape,
    case,
    floats,
)

UNIT = floats(-0.9, 0.9)  # asin, acos, atanh
ABOVE_1 = floats(1.1, 3.0)  # acosh
DIVISORS = st.sampled_from([-2.0, -1.0, 1.0, 2.0])  # x / y never an integer for x on GRID_SHIFTED


def _op(name):
    return lambda *xs: apply(name, *xs)


for _name, _elements in [
    ("tan", floats(-1.2, 1.2)),
    ("asin", UNIT),
    ("acos", UNIT),
    ("atan", ANY),
    ("sinh", ANY),
    ("cosh", ANY),
    ("asinh", ANY),
    ("acosh", ABOVE_1),
    ("atanh", UNIT),
    ("rsqrt", POSITIVE),
    ("reciprocal", NONZERO),
    ("expm1", ANY),
    ("log1p", floats(-0.8, 3.0)),
    ("log2", POSITIVE),
    ("exp2", ANY),
    ("log10", POSITIVE),
    ("erf", ANY),
    ("erfc", ANY),
    ("sign", AWAY_FROM_0),
    ("floor", GRID_SHIFTED),
    ("ceil", GRID_SHIFTED),
    ("round", GRID_SHIFTED),
    ("trunc", GRID_SHIFTED),
]:
    _pointwise_row(_name, getattr(gradc, _name), _elements)

_pointwise_row("gelu", gradc.nn.functional.gelu, ANY)
_pointwise_row("gelu_tanh", lambda x: gradc.nn.functional.gelu(x, approximate="tanh"), ANY)
_pointwise_row("atan2", gradc.atan2, AWAY_FROM_0, ANY)
_pointwise_row("remainder", lambda x, y: x % y, GRID_SHIFTED, DIVISORS)
_pointwise_row("fmod", gradc.fmod, GRID_SHIFTED, DIVISORS)
_pointwise_row("floor_divide", lambda x, y: x // y, GRID_SHIFTED, DIVISORS)
_pointwise_row(
    "trunc_divide", lambda x, y: gradc.div(x, y, rounding_mode="trunc"), GRID_SHIFTED, DIVISORS
)


@case("prod")
def _prod(draw, small=False):
    # zeros included: the vjp has separate branches for none, one and several zeros in a slice;
    # no tiny nonzeros: out / x differentiated again squares x (1e-269 ** 2 is 0, and nan)
    x = _leaf(draw, _shape(draw, small), st.one_of(AWAY_FROM_0, st.just(0.0)))
    if x.ndim and draw(st.booleans()):
        dim = draw(st.integers(-x.ndim, x.ndim - 1))
        keepdim = draw(st.booleans())
        return (lambda x: x.prod(dim, keepdim)), [x]
    return (lambda x: x.prod()), [x]


@case("cumsum")
def _cumsum(draw, small=False):
    x = _leaf(draw, _shape(draw, small, min_dims=1))
    dim = draw(st.integers(-x.ndim, x.ndim - 1))
    return (lambda x: x.cumsum(dim)), [x]


@case("var")
def _var(draw, small=False):
    # second derivatives too: the vjp keeps the mean's dependence on x for them (its first-order
    # term is left out, as torch's)
    # (a correction of 1 only over 2 or more elements: one element's variance is nan)
    x = _leaf(draw, _shape(draw, small))
    if x.ndim and draw(st.booleans()):
        dim = draw(st.integers(-x.ndim, x.ndim - 1))
        keepdim = draw(st.booleans())
        correction = draw(st.sampled_from([0, 1])) if x.shape[dim] > 1 else 0
        return (lambda x: x.var(dim, keepdim=keepdim, correction=correction)), [x]
    correction = draw(st.sampled_from([0, 1])) if x.numel() > 1 else 0
    return (lambda x: x.var(correction=correction)), [x]


def _indices(draw, rows: int, small: bool):
    shape = draw(st.sampled_from([(), (2,), (3,), (2, 2)] if not small else [(), (2,)]))
    n = int(np.prod(shape)) if shape else 1
    vals = draw(st.lists(st.integers(0, rows - 1), min_size=n, max_size=n))
    return gradc.tensor(np.reshape(vals, shape), dtype=gradc.int64)


@case("embedding")
def _embedding(draw, small=False):
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    weight, idx = _leaf(draw, (rows, cols)), _indices(draw, rows, small)
    # no padding_idx: its row's gradient is 0 by convention, which finite differences do not see
    return (lambda w: gradc.nn.functional.embedding(idx, w)), [weight]


@case("embedding_backward")
def _embedding_backward(draw, small=False):
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    idx = _indices(draw, rows, small)
    pad = draw(st.none() | st.integers(0, rows - 1))
    ct = _leaf(draw, (*idx.shape, cols))
    attrs = dict(num_weights=rows, padding_idx=pad)
    return (lambda ct: apply("embedding_backward", ct, idx, **attrs)), [ct]


@case("flip")
def _flip(draw, small=False):
    x = _leaf(draw, _shape(draw, small, min_dims=1))
    dims = draw(
        st.lists(st.integers(-x.ndim, x.ndim - 1), min_size=1, unique_by=lambda d: d % x.ndim)
    )
    return (lambda x: x.flip(*dims)), [x]


def _index_for(draw, shape, dim, small, exact=False):
    """An int64 index of ``shape``'s rank, no larger than it outside ``dim`` (maybe smaller),
    with values in range along ``dim`` (duplicates included: they accumulate)."""
    if exact:
        ishape = shape
    else:
        ishape = tuple(
            draw(st.integers(1, 3 if small else 4)) if k == dim else draw(st.integers(1, n))
            for k, n in enumerate(shape)
        )
    n = int(np.prod(ishape))
    vals = draw(st.lists(st.integers(0, shape[dim] - 1), min_size=n, max_size=n))
    return gradc.tensor(np.reshape(vals, ishape), dtype=gradc.int64)


@case("gather")
def _gather(draw, small=False):
    x = _leaf(draw, _shape(draw, small, min_dims=1))
    dim = draw(st.integers(-x.ndim, x.ndim - 1))
    idx = _index_for(draw, tuple(x.shape), dim % x.ndim, small)
    return (lambda x: x.gather(dim, idx)), [x]


@case("scatter_add")
def _scatter_add(draw, small=False):
    base = _leaf(draw, _shape(draw, small, min_dims=1))
    dim = draw(st.integers(-base.ndim, base.ndim - 1))
    idx = _index_for(draw, tuple(base.shape), dim % base.ndim, small)
    src = _leaf(draw, tuple(idx.shape))
    if draw(st.booleans()):
        return (lambda b, s: b.scatter_add(dim, idx, s)), [base, src]
    return (lambda s: gradc.zeros_like(base).scatter_add(dim, idx, s)), [src]


for _name in ("softmax", "log_softmax"):

    @case(_name)
    def _softmax(draw, small=False, _name=_name):
        # second derivatives too: the rules are written with the output, which differentiates
        # back through the op
        x = _leaf(draw, _shape(draw, small))
        dim = draw(st.integers(-max(x.ndim, 1), max(x.ndim, 1) - 1))
        return (lambda x: getattr(x, _name)(dim)), [x]
