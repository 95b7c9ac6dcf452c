"""The op test table: one hypothesis strategy per differentiable primitive of ``gradc.ops.OPS``.

A row draws shapes (broadcasting and size-1 dims included), attributes and float64 values for one
call of its primitive and returns ``(fn, inputs)``: ``fn(*inputs)`` calls the op through the public
API, its LAST recorded op is the row's primitive (tests read the result's ``grad_fn`` for the op's
attrs), and every tensor in ``inputs`` is float64 and requires grad. Values stay away from the
points where the op is not differentiable (kinks, ties, poles), so finite differences are a fair
oracle. ``tests/core/test_ops_vjp.py`` walks this table (gradcheck, gradgradcheck, coverage) and
``tests/core/test_ops_infer.py`` checks ``infer`` against ``impl`` on the same draws.

To add a row for a new op (e.g. ``conv2d``), append to this file a function of
``(draw, small=False)`` decorated with ``@case("name")``:

    @case("conv2d")
    def _conv2d(draw, small=False):
        x = draw(tensors(shape=(1, 2, 5, 5), requires_grad=True))
        w = draw(tensors(shape=(3, 2, 3, 3), requires_grad=True))
        return (lambda x, w: gradc.conv2d(x, w)), [x, w]

``small=True`` asks for few elements (the second-derivative test passes it for pointwise ops and
matmul). The coverage test in ``test_ops_vjp.py`` fails until every differentiable primitive that
is not a generated derivative (``*_vjp*``) has a row.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

import gradc
from gradc.dispatch import apply
from gradc.testing.strategies import dims, mutually_broadcastable_shapes, shapes, tensors

CASES: dict = {}  # op name -> function(small=False) -> strategy of (fn, inputs)


def case(name: str):
    """Register a row: ``@case("op")`` over ``def row(draw, small=False) -> (fn, inputs)``."""

    def deco(row):
        if name in CASES:
            raise ValueError(f"op case {name!r} is already in the table")
        CASES[name] = st.composite(row)
        return row

    return deco


# ---- value and shape helpers -----------------------------------------------------------------
def floats(lo: float = -3.0, hi: float = 3.0):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


POSITIVE = floats(0.2, 3.0)  # log, sqrt, pow base
NONZERO = st.one_of(floats(0.5, 3.0), floats(-3.0, -0.5))  # div denominator
AWAY_FROM_0 = st.one_of(floats(0.1, 3.0), floats(-3.0, -0.1))  # relu and abs kinks
# maximum/minimum: x on a grid of halves, y on the same grid shifted by 1/4, so x != y always
GRID = st.integers(-6, 6).map(lambda k: k / 2)
GRID_SHIFTED = st.integers(-6, 6).map(lambda k: k / 2 + 0.25)


def _sizes(small: bool) -> dict:
    return dict(max_dims=2, max_side=3) if small else dict(max_dims=3, max_side=4)


def _shape(draw, small: bool, min_dims: int = 0):
    return draw(shapes(min_dims=min_dims, **_sizes(small)))


def _leaf(draw, shape, elements=None):
    return draw(tensors(gradc.float64, shape=shape, elements=elements, requires_grad=True))


def _distinct(draw, shape):
    """A float64 leaf whose values are all different (spaced 0.3 apart): no ties for amax."""
    n = math.prod(shape)
    perm = draw(st.permutations(range(n)))
    vals = (np.array(perm, dtype=np.float64) - n / 2) * 0.3
    return gradc.tensor(vals.reshape(shape), dtype=gradc.float64, requires_grad=True)


def _dim_arg(draw, ndim: int, allow_none: bool = True):
    """A dim as users write it: int (maybe negative), tuple (maybe with negatives) or None."""
    d = draw(dims(ndim, allow_none=allow_none))
    if isinstance(d, tuple) and d:
        d = tuple(draw(st.sampled_from([k, k - ndim])) for k in d)
    return d


# ---- pointwise -------------------------------------------------------------------------------
def _pointwise_row(name: str, fn, *elements, scalars: bool = True):
    """A row for a pointwise op of ``len(elements)`` inputs, drawn with mutual broadcasting.

    Binary ops sometimes get a Python number on one side (a weak scalar that needs no grad).
    """

    @case(name)
    def row(draw, small=False):
        sizes = _sizes(small)
        shps = draw(mutually_broadcastable_shapes(len(elements), **sizes)).input_shapes
        xs = [_leaf(draw, s, e) for s, e in zip(shps, elements)]
        if scalars and len(xs) == 2:
            side = draw(st.sampled_from(["both", "left", "right"]))
            if side != "both":
                k = 0 if side == "left" else 1
                c = draw(elements[k])
                if side == "left":
                    return (lambda y: fn(c, y)), [xs[1]]
                return (lambda x: fn(x, c)), [xs[0]]
        return fn, xs

    return row


ANY = floats()
_pointwise_row("add", lambda x, y: x + y, ANY, ANY)
_pointwise_row("sub", lambda x, y: x - y, ANY, ANY)
_pointwise_row("mul", lambda x, y: x * y, ANY, ANY)
_pointwise_row("div", lambda x, y: x / y, ANY, NONZERO)
# exponent 0 is a convention point (torch: no gradient for x there), so it is left out
_pointwise_row("pow", lambda x, y: x**y, POSITIVE, floats(-2.0, 2.0).filter(bool))
_pointwise_row("neg", lambda x: -x, ANY)
_pointwise_row("abs", gradc.abs, AWAY_FROM_0)
_pointwise_row("relu", gradc.relu, AWAY_FROM_0)
_pointwise_row("exp", gradc.exp, ANY)
_pointwise_row("log", gradc.log, POSITIVE)
_pointwise_row("sqrt", gradc.sqrt, POSITIVE)
_pointwise_row("sin", gradc.sin, ANY)
_pointwise_row("cos", gradc.cos, ANY)
_pointwise_row("tanh", gradc.tanh, ANY)
_pointwise_row("sigmoid", gradc.sigmoid, floats(-6.0, 6.0))
# torch.maximum takes two tensors only (a number is a TypeError)
_pointwise_row("maximum", gradc.maximum, GRID, GRID_SHIFTED, scalars=False)
_pointwise_row("minimum", gradc.minimum, GRID, GRID_SHIFTED, scalars=False)
_pointwise_row("clamp_min", gradc.clamp_min, GRID, GRID_SHIFTED)
_pointwise_row("clamp_max", gradc.clamp_max, GRID, GRID_SHIFTED)


@case("where")
def _where(draw, small=False):
    cond_shape, xs, ys = draw(mutually_broadcastable_shapes(3, **_sizes(small))).input_shapes
    cond = draw(tensors(gradc.bool, shape=cond_shape))
    x, y = _leaf(draw, xs), _leaf(draw, ys)
    if draw(st.booleans()):
        c = draw(ANY)
        return (lambda x: gradc.where(cond, x, c)), [x]
    return (lambda x, y: gradc.where(cond, x, y)), [x, y]


@case("cast")
def _cast(draw, small=False):
    # float64 -> float32 rounds to ~1e-7 relative; finite differences with eps=1e-6 only see the
    # identity gradient through that rounding when |x| is small (error ~ 0.06 * |x| relative).
    x = _leaf(draw, _shape(draw, small), floats(-1e-3, 1e-3))
    return (lambda x: gradc.cast(x, gradc.float32)), [x]


# ---- reductions ------------------------------------------------------------------------------
@case("sum")
def _sum(draw, small=False):
    x = _leaf(draw, _shape(draw, small))
    dim, keepdim = _dim_arg(draw, x.ndim), draw(st.booleans())
    return (lambda x: gradc.sum(x, dim, keepdim)), [x]


def _minmax_row(name: str):
    @case(name)
    def row(draw, small=False):
        x = _distinct(draw, _shape(draw, small))
        dim, keepdim = _dim_arg(draw, x.ndim), draw(st.booleans())
        fn = getattr(gradc, name)
        return (lambda x: fn(x, dim, keepdim)), [x]

    return row


_minmax_row("amax")
_minmax_row("amin")


# ---- shapes ----------------------------------------------------------------------------------
def _factor(draw, n: int) -> list:
    """A random factorisation of ``n`` into up to 4 sizes (1s included)."""
    out = []
    while n > 1 and len(out) < 3:
        divisors = [d for d in range(1, n + 1) if n % d == 0]
        d = draw(st.sampled_from(divisors))
        out.append(d)
        n //= d
    out.append(n)
    return draw(st.permutations(out))


@case("reshape")
def _reshape(draw, small=False):
    x = _leaf(draw, _shape(draw, small))
    new = _factor(draw, x.numel())
    if tuple(new) == tuple(x.shape):
        new = [1, *new]  # the public reshape skips no-op reshapes
    if draw(st.booleans()):
        new[draw(st.integers(0, len(new) - 1))] = -1
    return (lambda x: x.reshape(*new)), [x]


@case("expand")
def _expand(draw, small=False):
    target = _shape(draw, small)
    shp = tuple(draw(st.sampled_from([1, d])) for d in target)
    shp = shp[draw(st.integers(0, len(shp))) :]  # drop some leading dims
    x = _leaf(draw, shp)
    new = list(target)
    for k in range(len(shp)):  # -1 keeps a dim as it is
        if shp[k] == new[len(new) - len(shp) + k] and draw(st.booleans()):
            new[len(new) - len(shp) + k] = -1
    if tuple(target) == shp:
        new = [2, *new]
    return (lambda x: x.expand(*new)), [x]


@case("permute")
def _permute(draw, small=False):
    x = _leaf(draw, _shape(draw, small, min_dims=2))
    perm = list(draw(st.permutations(range(x.ndim))))
    if perm == sorted(perm):
        perm[0], perm[1] = perm[1], perm[0]
    perm = [draw(st.sampled_from([d, d - x.ndim])) for d in perm]
    return (lambda x: x.permute(*perm)), [x]


@st.composite
def basic_indices(draw, shape):
    """An index of ints (maybe negative), slices (any bounds, positive step), None and ``...``."""
    ndim = len(shape)
    k = draw(st.integers(0, ndim))
    ellipsis = draw(st.booleans())
    p = draw(st.integers(0, k))
    targets = list(range(p)) + list(range(ndim - (k - p), ndim)) if ellipsis else list(range(k))
    items = []
    for d in targets:
        size = shape[d]
        kind = draw(st.sampled_from(["int", "slice"]))
        if kind == "int":
            items.append(draw(st.integers(-size, size - 1)))
        else:
            bound = st.none() | st.integers(-size - 1, size + 1)
            items.append(slice(draw(bound), draw(bound), draw(st.none() | st.integers(1, 3))))
    if ellipsis:
        items.insert(p, Ellipsis)
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    if len(items) == 1 and draw(st.booleans()):
        return items[0]  # x[i], not x[(i,)]
    return tuple(items)


def _index_of(draw, shape):
    """A basic index that is not a no-op (the public getitem returns ``x`` itself for those)."""
    idx = draw(basic_indices(shape))
    probe = gradc.zeros(*shape, requires_grad=True)
    out = probe[idx]
    if out is probe:
        idx = (*(idx if isinstance(idx, tuple) else (idx,)), None)
        out = probe[idx]
    return idx, out.grad_fn.attrs["index"], tuple(out.shape)


@case("getitem")
def _getitem(draw, small=False):
    x = _leaf(draw, _shape(draw, small))
    idx, _, _ = _index_of(draw, tuple(x.shape))
    return (lambda x: x[idx]), [x]


@case("getitem_backward")
def _getitem_backward(draw, small=False):
    shape = _shape(draw, small)
    _, index, out_shape = _index_of(draw, shape)
    g = _leaf(draw, out_shape)
    return (lambda g: apply("getitem_backward", g, shape=shape, index=index)), [g]


@case("copy_slices")
def _copy_slices(draw, small=False):
    """A write into a view: optionally a permute, then a basic index (the ``path`` of views)."""
    shape = view = _shape(draw, small)
    path = ()
    if len(shape) > 1 and draw(st.booleans()):
        view = tuple(reversed(shape))
        path = (("permute", (("dims", tuple(reversed(range(len(shape))))),)),)
    _, index, out_shape = _index_of(draw, view)
    path = (*path, ("getitem", (("index", index),)))
    base, src = _leaf(draw, shape), _leaf(draw, out_shape)
    return (lambda b, s: apply("copy_slices", b, s, path=path)), [base, src]


@case("no_grad_write")
def _no_grad_write(draw, small=False):
    """new's value, old's gradient: with new = stop_gradient(old), the identity's gradient."""
    x = _leaf(draw, _shape(draw, small))
    return (lambda x: apply("no_grad_write", x, apply("stop_gradient", x))), [x]


@case("cat")
def _cat(draw, small=False):
    base = list(_shape(draw, small, min_dims=1))
    dim = draw(st.integers(-len(base), len(base) - 1))
    n = draw(st.integers(1, 3))
    sides = [draw(st.integers(1, 3)) for _ in range(n)]
    d = dim % len(base)
    xs = [_leaf(draw, tuple(base[:d] + [s] + base[d + 1 :])) for s in sides]
    return (lambda *xs: gradc.cat(list(xs), dim)), xs


# ---- linear algebra --------------------------------------------------------------------------
@case("matmul")
def _matmul(draw, small=False):
    side = st.integers(1, 3 if small else 4)
    m, k, n = draw(side), draw(side), draw(side)
    batch_a, batch_b = draw(
        mutually_broadcastable_shapes(2, max_dims=1 if small else 2, max_side=3)
    ).input_shapes
    a = _leaf(draw, (*batch_a, m, k))
    b = _leaf(draw, (*batch_b, k, n))
    return (lambda a, b: a @ b), [a, b]


# ---- convolution and pooling (gradc/ops/conv.py, gradc/ops/pool.py) ---------------------------
def _window(draw, small: bool, dilation: bool = True):
    """kernel, stride, padding, dilation pairs and a spatial size ``(h, w)`` the window fits.

    Padding stays within half the kernel (pooling's limit, as torch's; conv2d accepts it too).
    A dilated window gets an input at least as large as itself, so no window of taps lands
    on padding only (max_pool2d would give -inf there, as torch does).
    """
    k = tuple(draw(st.integers(1, 3)) for _ in range(2))
    s = tuple(draw(st.integers(1, 2)) for _ in range(2))
    d = tuple(draw(st.integers(1, 2)) for _ in range(2)) if dilation else (1, 1)
    eff = [dd * (kk - 1) + 1 for kk, dd in zip(k, d)]
    p = tuple(draw(st.integers(0, kk // 2)) for kk in k)
    low = [e if dd > 1 else max(1, e - 2 * pp) for e, dd, pp in zip(eff, d, p)]
    hw = tuple(draw(st.integers(lo, e + (1 if small else 3))) for lo, e in zip(low, eff))
    return k, s, p, d, hw


def _window_out(hw, k, s, p, d) -> tuple:
    return tuple(
        (h + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for h, kk, ss, pp, dd in zip(hw, k, s, p, d)
    )


def _conv_out(hw, k, a) -> tuple:
    return _window_out(hw, k, a["stride"], a["padding"], a["dilation"])


def _as_arg(draw, pair):
    """An attr pair as users pass it: the pair, or one int when both entries are equal."""
    return pair[0] if pair[0] == pair[1] and draw(st.booleans()) else pair


def _conv_setup(draw, small):
    groups = draw(st.integers(1, 2))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k, s, p, d, hw = _window(draw, small)
    n = draw(st.integers(1, 2))
    attrs = dict(stride=s, padding=p, dilation=d, groups=groups)
    return n, cin, cout, k, hw, attrs


@case("conv2d")
def _conv2d(draw, small=False):
    n, cin, cout, k, hw, a = _conv_setup(draw, small)
    x = _leaf(draw, (n, cin, *hw))
    w = _leaf(draw, (cout, cin // a["groups"], *k))
    args = [_as_arg(draw, a["stride"]), _as_arg(draw, a["padding"]), _as_arg(draw, a["dilation"])]
    conv = gradc.nn.functional.conv2d
    if draw(st.booleans()):
        return (lambda x, w, b: conv(x, w, b, *args, a["groups"])), [x, w, _leaf(draw, (cout,))]
    return (lambda x, w: conv(x, w, None, *args, a["groups"])), [x, w]


@case("conv2d_input_grad")
def _conv2d_input_grad(draw, small=False):
    n, cin, cout, k, hw, a = _conv_setup(draw, small)
    ct = _leaf(draw, (n, cout, *_conv_out(hw, k, a)))
    w = _leaf(draw, (cout, cin // a["groups"], *k))
    return (lambda ct, w: apply("conv2d_input_grad", ct, w, input_size=hw, **a)), [ct, w]


@case("conv2d_weight_grad")
def _conv2d_weight_grad(draw, small=False):
    n, cin, cout, k, hw, a = _conv_setup(draw, small)
    x = _leaf(draw, (n, cin, *hw))
    ct = _leaf(draw, (n, cout, *_conv_out(hw, k, a)))
    return (lambda x, ct: apply("conv2d_weight_grad", x, ct, kernel_size=k, **a)), [x, ct]


def _pool_setup(draw, small, dilation=True):
    k, s, p, d, hw = _window(draw, small, dilation)
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), *hw)
    return shape, k, s, p, d


@case("max_pool2d")
def _max_pool2d(draw, small=False):
    shape, k, s, p, d = _pool_setup(draw, small)
    x = _distinct(draw, shape)  # no ties: the max is differentiable
    args = [_as_arg(draw, v) for v in (k, s, p, d)]
    return (lambda x: gradc.nn.functional.max_pool2d(x, *args)), [x]


@case("max_pool2d_backward")
def _max_pool2d_backward(draw, small=False):
    shape, k, s, p, d = _pool_setup(draw, small)
    x = _distinct(draw, shape).detach()  # the argmax is piecewise constant: no gradient for x
    a = dict(kernel_size=k, stride=s, padding=p, dilation=d)
    ct = _leaf(draw, (*shape[:2], *_window_out(shape[2:], k, s, p, d)))
    return (lambda ct: apply("max_pool2d_backward", ct, x, **a)), [ct]


def _pool_indices(draw, small):
    shape, k, s, p, d = _pool_setup(draw, small)
    x = _distinct(draw, shape).detach()
    a = dict(kernel_size=k, stride=s, padding=p, dilation=d)
    return shape, apply("max_pool2d_indices", x, **a), a


@case("max_pool2d_scatter")
def _max_pool2d_scatter(draw, small=False):
    shape, idx, a = _pool_indices(draw, small)
    ct = _leaf(draw, tuple(idx.shape))
    return (lambda ct: apply("max_pool2d_scatter", ct, idx, input_size=shape[2:], **a)), [ct]


@case("max_pool2d_gather")
def _max_pool2d_gather(draw, small=False):
    shape, idx, a = _pool_indices(draw, small)
    return (lambda g: apply("max_pool2d_gather", g, idx, **a)), [_leaf(draw, shape)]


@case("max_pool2d_select")
def _max_pool2d_select(draw, small=False):
    shape, k, s, p, d = _pool_setup(draw, small)
    x = _distinct(draw, shape).detach()
    a = dict(kernel_size=k, stride=s, padding=p, dilation=d)
    return (lambda g: apply("max_pool2d_select", g, x, **a)), [_leaf(draw, shape)]


def _avg_attrs(draw, k, s, p):
    return dict(
        kernel_size=k,
        stride=s,
        padding=p,
        count_include_pad=draw(st.booleans()),
        divisor_override=draw(st.none() | st.integers(1, 5)),
    )


@case("avg_pool2d")
def _avg_pool2d(draw, small=False):
    shape, k, s, p, _ = _pool_setup(draw, small, dilation=False)
    a = _avg_attrs(draw, k, s, p)
    a.update(kernel_size=_as_arg(draw, k), stride=_as_arg(draw, s), padding=_as_arg(draw, p))
    return (lambda x: gradc.nn.functional.avg_pool2d(x, **a)), [_leaf(draw, shape)]


@case("avg_pool2d_backward")
def _avg_pool2d_backward(draw, small=False):
    shape, k, s, p, _ = _pool_setup(draw, small, dilation=False)
    a = _avg_attrs(draw, k, s, p)
    ct = _leaf(draw, (*shape[:2], *_window_out(shape[2:], k, s, p, (1, 1))))
    return (lambda ct: apply("avg_pool2d_backward", ct, input_size=shape[2:], **a)), [ct]
