"""gradc/math_functions.py and gradc/reductions_more.py: values, result dtypes and gradient
conventions as torch has them, written out so they run without torch; then the same calls
against torch where it is installed. The primitives' vjps are checked by the op table
(op_cases_more.py); the compositions here get their own hypothesis gradcheck."""

from __future__ import annotations

import math
from math import prod

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradc
from gradc.testing import gradcheck
from gradc.testing.strategies import shapes, tensors

f64 = gradc.float64


def t(values, dtype=None, requires_grad=False):
    return gradc.tensor(values, dtype=dtype, requires_grad=requires_grad)


def grad_of(fn, values, **kw):
    x = t(values, f64, requires_grad=True)
    fn(x, **kw).sum().backward()
    return x.grad.numpy()


# ---- values --------------------------------------------------------------------------------
VALUES = [
    ("asin", [0.5], [math.asin(0.5)]),
    ("acos", [0.5], [math.acos(0.5)]),
    ("atan", [1.0], [math.pi / 4]),
    ("sinh", [1.0], [math.sinh(1.0)]),
    ("cosh", [1.0], [math.cosh(1.0)]),
    ("tan", [0.5], [math.tan(0.5)]),
    ("asinh", [1.0], [math.asinh(1.0)]),
    ("acosh", [2.0], [math.acosh(2.0)]),
    ("atanh", [0.5], [math.atanh(0.5)]),
    ("rsqrt", [4.0], [0.5]),
    ("reciprocal", [4.0], [0.25]),
    ("expm1", [1e-10], [math.expm1(1e-10)]),  # exp(x) - 1 would be ~8e-8 off relative
    ("log1p", [1e-10], [math.log1p(1e-10)]),
    ("log2", [8.0], [3.0]),
    ("exp2", [3.0], [8.0]),
    ("log10", [1000.0], [3.0]),
    ("erf", [0.5], [math.erf(0.5)]),
    ("erfc", [0.5], [math.erfc(0.5)]),
    ("sign", [-2.0, 0.0, 3.0], [-1.0, 0.0, 1.0]),
    ("floor", [-1.5, 1.5], [-2.0, 1.0]),
    ("ceil", [-1.5, 1.5], [-1.0, 2.0]),
    ("round", [-2.5, -1.5, 0.5, 1.5, 2.6], [-2.0, -2.0, 0.0, 2.0, 3.0]),  # half to even
    ("trunc", [-1.7, 1.7], [-1.0, 1.0]),
    ("frac", [-1.75, 1.25], [-0.75, 0.25]),
]


@pytest.mark.parametrize("name, x, expected", VALUES, ids=[v[0] for v in VALUES])
def test_values_function_and_method(name, x, expected):
    x64 = t(x, f64)
    np.testing.assert_allclose(getattr(gradc, name)(x64).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(getattr(x64, name)().numpy(), expected, rtol=1e-12)
    assert getattr(t(x), name)().dtype is gradc.float32


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc", "sign", "frac"])
def test_rounding_is_flat_and_keeps_integers(name):
    expected = 1.0 if name == "frac" else 0.0  # torch: FloorBackward0... give zeros
    assert (grad_of(getattr(gradc, name), [-1.5, 0.0, 0.5, 2.0]) == expected).all()
    if name != "frac":
        out = getattr(gradc, name)(t([1, -2]))
        assert out.dtype is gradc.int64 and out.tolist() == ([1, -1] if name == "sign" else [1, -2])


def test_rounding_refuses_bools_as_torch():
    with pytest.raises(gradc.DTypeError, match="floor"):
        t([True]).floor()


def test_round_decimals():
    np.testing.assert_allclose(t([1.2345, -0.015], f64).round(decimals=2).numpy(), [1.23, -0.02])


def test_integer_division_and_remainders_follow_python_and_c():
    a, b = t([5, -5, 7, -7]), t([3, 3, -2, -2])
    assert (a // b).tolist() == [1, -2, -4, 3]
    assert gradc.div(a, b, rounding_mode="floor").tolist() == [1, -2, -4, 3]
    assert gradc.div(a, b, rounding_mode="trunc").tolist() == [1, -1, -3, 3]
    assert (a % b).tolist() == [2, 1, -1, -1]  # sign of the divisor (Python, torch.remainder)
    assert gradc.fmod(a, b).tolist() == [2, -2, 1, -1]  # sign of the dividend (C fmod)
    assert (a // b).dtype is gradc.int64 and (a % b).dtype is gradc.int64
    assert (a / b).dtype is gradc.float32
    assert (7 % t([3])).tolist() == [1] and (7 // t([2])).tolist() == [3]
    big = t([2**62 + 1])
    assert (big // 1).tolist() == [2**62 + 1]  # exact, not through float64
    with pytest.raises(gradc.GradcError, match="rounding_mode"):
        gradc.div(a, b, rounding_mode="round")


def test_remainder_and_fmod_gradients():
    x = t([5.5, -5.5], f64, requires_grad=True)
    y = t([2.0, 2.0], f64, requires_grad=True)
    (x % y).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0] and y.grad.tolist() == [-2.0, 3.0]  # -floor(x / y)
    x.grad = y.grad = None
    gradc.fmod(x, y).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0] and y.grad.tolist() == [-2.0, 2.0]  # -trunc(x / y)
    x.grad = y.grad = None
    (x // y).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0] and y.grad.tolist() == [0.0, 0.0]


def test_lerp():
    start, end = t([0.0, 10.0]), t([10.0, 20.0])
    np.testing.assert_allclose(gradc.lerp(start, end, 0.25).numpy(), [2.5, 12.5])
    np.testing.assert_allclose(start.lerp(end, t([0.5, 1.0])).numpy(), [5.0, 20.0])


def test_clamp_with_one_bound():
    x = t([-2.0, 0.5, 3.0])
    assert x.clamp(min=0).tolist() == [0.0, 0.5, 3.0]
    assert x.clip(max=1).tolist() == [-2.0, 0.5, 1.0]
    assert gradc.clamp(x, None, 1.0).tolist() == [-2.0, 0.5, 1.0]


# ---- logic -----------------------------------------------------------------------------------
def test_logic_operators_on_bool_tensors():
    a, b = t([True, True, False, False]), t([True, False, True, False])
    assert (a & b).tolist() == [True, False, False, False]
    assert (a | b).tolist() == [True, True, True, False]
    assert (a ^ b).tolist() == [False, True, True, False]
    assert (~a).tolist() == [False, False, True, True]
    assert (a & True).tolist() == [True, True, False, False]
    assert gradc.logical_and(t([1.0, 0.0]), t([2.0, 2.0])).tolist() == [True, False]
    assert gradc.logical_not(t([0, 3])).tolist() == [True, False]
    with pytest.raises(gradc.DTypeError, match="bitwise_and"):
        t([1.0]) & t([1.0])
    with pytest.raises(gradc.DTypeError, match="bitwise_not"):
        ~t([1.0])


@pytest.mark.parametrize("dtype", ["int32", "uint8", "int64"])
def test_bitwise_operators_on_integer_tensors_match_torch(dtype):
    torch = pytest.importorskip("torch")
    a, b = np.array([0, 1, 5, 200, 7]), np.array([3, 1, 12, 100, 0])
    x, y = (
        gradc.tensor(a, dtype=getattr(gradc, dtype)),
        gradc.tensor(b, dtype=getattr(gradc, dtype)),
    )
    tx, ty = (
        torch.tensor(a, dtype=getattr(torch, dtype)),
        torch.tensor(b, dtype=getattr(torch, dtype)),
    )
    for f in [
        lambda p, q: p & q,
        lambda p, q: p | q,
        lambda p, q: p ^ q,
        lambda p, q: ~p,
        lambda p, q: p & 3,
        lambda p, q: 6 | p,
        lambda p, q: p.bitwise_xor(q),
        lambda p, q: p.bitwise_not(),
    ]:
        ours, theirs = f(x, y), f(tx, ty)
        assert ours.dtype.name == str(theirs.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert (x & gradc.tensor([True] * 5)).dtype.name == dtype  # bool & int: the int's dtype


def test_all_any():
    x = t([[1.0, 0.0], [2.0, 3.0]])
    assert x.all().item() is False and x.any().item() is True
    assert x.all(1).tolist() == [False, True] and x.any(0, keepdim=True).tolist() == [[True, True]]
    assert gradc.all(t([])).item() is True and gradc.any(t([])).item() is False
    assert gradc.all(x, dim=1).dtype is gradc.bool


def test_isclose_allclose_equal():
    inf, nan = math.inf, math.nan
    a = t([1.0, inf, -inf, nan, 1.0, 1.0])
    b = t([1.0 + 1e-7, inf, inf, nan, inf, 1.1])
    assert gradc.isclose(a, b).tolist() == [True, True, False, False, False, False]
    assert gradc.isclose(a, b, equal_nan=True).tolist()[3] is True
    assert gradc.isclose(a, b, rtol=0.2).tolist()[5] is True
    assert gradc.allclose(t([1.0, 2.0]), t([1.0, 2.0 + 1e-6]))
    assert not gradc.allclose(t([1.0, 2.0]), t([1.0, 2.1]))
    assert gradc.equal(t([1, 2]), t([1, 2])) and not gradc.equal(t([1, 2]), t([1, 3]))
    assert not gradc.equal(t([1, 2]), t([[1, 2]]))


def test_masked_fill():
    x = t([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x.masked_fill(t([True, False]), -1.0)  # the mask broadcasts
    assert y.tolist() == [[-1.0, 2.0], [-1.0, 4.0]]
    y.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0], [0.0, 1.0]]
    i = t([1, 2, 3])
    assert i.masked_fill(i > 1, 0.7).dtype is gradc.int64  # keeps the dtype, as torch
    z = t([1.0, 2.0])
    assert z.masked_fill_(z > 1, 0.0) is z and z.tolist() == [1.0, 0.0]
    with pytest.raises(gradc.DTypeError, match="boolean"):
        x.masked_fill(t([1, 0]), 0.0)


# ---- reductions ------------------------------------------------------------------------------
def test_prod():
    x = t([[1.0, 2.0], [3.0, 4.0]])
    assert x.prod().item() == 24.0 and x.prod(1).tolist() == [2.0, 12.0]
    assert x.prod(0, keepdim=True).tolist() == [[3.0, 8.0]]
    assert t([2, 3]).prod().dtype is gradc.int64 and t([True, True]).prod().item() == 1


@pytest.mark.parametrize(
    "values, expected",
    [
        ([2.0, 3.0, 4.0], [12.0, 8.0, 6.0]),
        ([2.0, 0.0, 4.0], [0.0, 8.0, 0.0]),  # one zero: the product of the others
        ([0.0, 3.0, 0.0], [0.0, 0.0, 0.0]),  # two zeros: nothing
    ],
)
def test_prod_gradient_with_zeros(values, expected):
    assert grad_of(gradc.prod, values).tolist() == expected


def test_cumsum():
    x = t([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], f64, requires_grad=True)
    y = x.cumsum(1)
    assert y.tolist() == [[1.0, 3.0, 6.0], [4.0, 9.0, 15.0]]
    (y * t([1.0, 10.0, 100.0], f64)).sum().backward()
    assert x.grad.tolist() == [[111.0, 110.0, 100.0]] * 2
    assert t([True, True]).cumsum(0).tolist() == [1, 2] and t([1]).cumsum(0).dtype is gradc.int64


def test_var_std_corrections():
    x = t([[1.0, 2.0], [3.0, 4.0]])
    assert x.var().item() == pytest.approx(5 / 3)
    assert x.var(0).tolist() == [2.0, 2.0]
    assert x.var(0, False).tolist() == [1.0, 1.0]  # unbiased=False
    assert x.var(1, correction=0).tolist() == [0.25, 0.25]
    assert x.var(1, keepdim=True).shape == (2, 1)
    assert x.std(correction=0).item() == pytest.approx(math.sqrt(1.25))
    v, m = gradc.var_mean(x, 1)
    assert v.tolist() == [0.5, 0.5] and m.tolist() == [1.5, 3.5]
    with pytest.raises(gradc.DTypeError, match="floating"):
        t([1, 2]).var()


def test_norm():
    x = t([[3.0, -4.0], [0.0, 0.0]], f64, requires_grad=True)
    assert x.norm().item() == 5.0 and gradc.norm(x, "fro").item() == 5.0
    assert x.norm(1).item() == 7.0 and x.norm(math.inf).item() == 4.0
    assert x.norm(dim=1).tolist() == [5.0, 0.0] and x.norm(0, dim=1).tolist() == [2.0, 0.0]
    assert x.norm(3, dim=1)[0].item() == pytest.approx((27 + 64) ** (1 / 3))
    x.norm(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.6, -0.8], [0.0, 0.0]])  # 0 at 0, not nan


def test_logsumexp():
    x = t([[0.0, math.log(3.0)], [1000.0, 1000.0], [-math.inf, -math.inf]], f64)
    out = x.logsumexp(1)
    np.testing.assert_allclose(out.numpy(), [math.log(4.0), 1000.0 + math.log(2.0), -math.inf])
    assert gradc.logsumexp(x, 1, keepdim=True).shape == (3, 1)
    assert t([1, 2]).logsumexp(0).dtype is gradc.float32


def test_softmax_spellings_agree():
    x = gradc.randn(3, 4)
    expected = gradc.nn.functional.softmax(x, 1).numpy()
    np.testing.assert_allclose(x.softmax(1).numpy(), expected)
    np.testing.assert_allclose(gradc.softmax(x, dim=1).numpy(), expected)
    np.testing.assert_allclose(x.log_softmax(-1).exp().numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(gradc.log_softmax(x, 1).exp().numpy(), expected, rtol=1e-6)


# ---- gradients of the compositions -----------------------------------------------------------
def _leaf(draw, shape, lo=-3.0, hi=3.0):
    return draw(tensors(f64, shape=shape, elements=st.floats(lo, hi), requires_grad=True))


@st.composite
def composites(draw):
    shape = draw(shapes(min_dims=1, max_dims=3, max_side=3))
    x = _leaf(draw, shape)
    nd = len(shape)
    dim = draw(st.integers(-nd, nd - 1))
    keep = draw(st.booleans())
    kind = draw(
        st.sampled_from(
            [
                "lerp",
                "var",
                "std",
                "norm",
                "norm_p",
                "logsumexp",
                "softmax",
                "log_softmax",
                "masked_fill",
                "frac",
                "square",
                "round_decimals",
            ]
        )
    )
    if kind == "lerp":
        end, w = _leaf(draw, shape), _leaf(draw, shape[-1:], 0.0, 1.0)
        return (lambda x, e, w: gradc.lerp(x, e, w)), [x, end, w]
    if kind == "var":
        c = draw(st.sampled_from([0, 1])) if shape[dim] > 1 else 0  # else 0/0, as in torch
        return (lambda x: x.var(dim, keepdim=keep, correction=c)), [_leaf(draw, shape, 1, 3)]
    if kind == "std":  # spread values: the std never reaches 0 where sqrt has no derivative
        if x.numel() < 2:  # one value has no spread: std is nan (correction=1) or 0
            shape = (2,)
        vals = np.arange(prod(shape), dtype=np.float64).reshape(shape) * 0.7 + 1
        x = gradc.tensor(vals, dtype=f64, requires_grad=True)
        if x.numel() == 1:  # one element: std is sqrt(0) (or 0/0), no derivative, as in torch
            return (lambda x: x.var(correction=0) + x), [x]
        return (lambda x: x.std() + x.std(correction=0)), [x]
    if kind == "norm":
        return (lambda x: x.norm(dim=dim, keepdim=keep)), [_leaf(draw, shape, 0.5, 2)]
    if kind == "norm_p":
        p = draw(st.sampled_from([1, 3, 0.5, math.inf]))
        grid = np.arange(1, x.numel() + 1, dtype=np.float64).reshape(shape)  # distinct, > 0
        x = gradc.tensor(grid * 0.3, dtype=f64, requires_grad=True)
        return (lambda x: gradc.norm(x, p, dim)), [x]
    if kind == "logsumexp":
        return (lambda x: x.logsumexp(dim, keep)), [x]
    if kind == "softmax":
        return (lambda x: x.softmax(dim)), [x]
    if kind == "log_softmax":
        return (lambda x: gradc.log_softmax(x, dim)), [x]
    if kind == "masked_fill":
        mask = draw(tensors(gradc.bool, shape=shape))
        return (lambda x: x.masked_fill(mask, 2.0)), [x]
    if kind == "square":
        return (lambda x: x.square()), [x]
    if kind == "round_decimals":  # flat between its jumps, which a grid of .x25 avoids
        x = _leaf(draw, shape, -2, 2)
        return (lambda x: x.round(decimals=1) + x), [x]
    grid = draw(st.lists(st.integers(-8, 8), min_size=x.numel(), max_size=x.numel()))
    x = gradc.tensor(np.reshape(grid, shape) / 4 + 0.125, dtype=f64, requires_grad=True)
    return (lambda x: x.frac()), [x]


@given(composites())
def test_compositions_match_finite_differences(case):
    fn, inputs = case
    assert gradcheck(fn, *inputs)


# ---- against torch ---------------------------------------------------------------------------
TORCH_UNARY = [v[0] for v in VALUES] + ["isnan", "isinf", "isfinite"]


@pytest.mark.parametrize("name", TORCH_UNARY)
def test_unary_against_torch(name):
    torch = pytest.importorskip("torch")
    # the kinks and domain edges too (0, ±1, half-integers for round): gradients as torch has them
    vals = np.array([-2.5, -1.0, -0.5, 0.0, 0.3, 0.5, 1.0, 1.5, 2.5, 3.7, 1e-9, np.inf, np.nan])
    vals = vals[np.isfinite(vals)] if name not in ("isnan", "isinf", "isfinite") else vals
    ours = getattr(gradc, name)(t(vals, f64)).numpy()
    theirs = getattr(torch, name)(torch.tensor(vals, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, equal_nan=True)
    x = t(vals, f64, requires_grad=name not in ("isnan", "isinf", "isfinite"))
    tx = torch.tensor(vals, dtype=torch.float64, requires_grad=x.requires_grad)
    if x.requires_grad:
        getattr(gradc, name)(x).sum().backward()
        getattr(torch, name)(tx).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, equal_nan=True)


def test_reductions_against_torch():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).normal(size=(3, 4))
    x, tx = t(a, f64), torch.tensor(a)
    for ours, theirs in [
        (x.prod(1), tx.prod(1)),
        (x.cumsum(0), tx.cumsum(0)),
        (x.var(1, correction=0), tx.var(1, correction=0)),
        (x.std(0, keepdim=True), tx.std(0, keepdim=True)),
        (x.norm(), tx.norm()),
        (x.norm(1, dim=0), tx.norm(1, dim=0)),
        (x.logsumexp(1), tx.logsumexp(1)),
        (x.all(1), tx.all(1)),
        (gradc.isclose(x, x + 1e-6), torch.isclose(tx, tx + 1e-6)),
        (x % 0.7, tx % 0.7),
        (gradc.fmod(x, 0.7), torch.fmod(tx, 0.7)),
        (x // 0.7, tx // 0.7),
    ]:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-15)


def test_zero_dim_tensors_reduce_over_dim_0_as_torch():
    x = t(2.0, f64, requires_grad=True)
    outs = [x.prod(0), x.cumsum(0), x.logsumexp(0), x.var(0, correction=0), x.norm(dim=0)]
    outs += [x.std(-1, correction=0)]
    assert [o.item() for o in outs] == [2.0, 2.0, 2.0, 0.0, 2.0, 0.0]
    assert x.all(0).item() is True and x.any(-1, keepdim=True).shape == ()
    sum(outs).backward()
    assert x.grad.item() == 4.0  # std of one value: gradient 0, as torch (not nan)


def test_std_gradient_is_zero_where_the_values_are_equal():
    assert grad_of(lambda x: x.std(), [1.0, 1.0]).tolist() == [0.0, 0.0]


def test_numpy_axis_is_accepted_for_dim():
    x = t([[1.0, 2.0], [3.0, 4.0]])
    assert gradc.prod(x, axis=0).tolist() == [3.0, 8.0] and x.var(axis=1).tolist() == [0.5, 0.5]
    assert x.cumsum(axis=1).tolist() == [[1.0, 3.0], [3.0, 7.0]]
    assert x.all(axis=0).tolist() == [True, True] and x.logsumexp(axis=0).shape == (2,)
    with pytest.raises(TypeError, match="both"):  # torch: TypeError, unexpected keyword
        x.var(dim=0, axis=0)


# ---- pow at the edges: torch's pow_backward, not sympy's y * x**y / x ------------------------
@pytest.mark.parametrize(
    "base, exponent, dbase, dexp",
    [
        (0.0, 2.0, 0.0, 0.0),  # sympy's form gave nan for x**2 at 0
        (0.0, 0.0, 0.0, 0.0),  # x**0 at 0: 0 (torch)
        (0.0, 3.5, 0.0, 0.0),  # 0**y for y > 0: d/dy is 0 (torch), not 0 * log(0)
        (2.0, 0.0, 0.0, math.log(2.0)),
        (0.0, -1.0, -math.inf, -math.inf),  # a pole stays a pole, as torch
        (-2.0, 3.0, 12.0, math.nan),
    ],
)
def test_pow_gradients_at_the_edges(base, exponent, dbase, dexp):
    x = t([base], f64, requires_grad=True)
    y = t([exponent], f64, requires_grad=True)
    (x**y).sum().backward()
    np.testing.assert_allclose([x.grad.item(), y.grad.item()], [dbase, dexp], equal_nan=True)


def test_pow_second_derivative_at_zero():
    x = t([0.0, 1.5], f64, requires_grad=True)
    (g,) = gradc.autograd.grad((x**2).sum(), x, create_graph=True)
    (h,) = gradc.autograd.grad(g.sum(), x)
    assert g.tolist() == [0.0, 3.0] and h.tolist() == [2.0, 2.0]
    assert grad_of(lambda x: x**0, [0.0, 2.0]).tolist() == [0.0, 0.0]
    assert grad_of(lambda x: 0.0**x, [1.0, 2.0]).tolist() == [0.0, 0.0]


def test_pow_edges_against_torch():
    torch = pytest.importorskip("torch")
    bases = [0.0, 0.0, 0.0, 2.0, -2.0, 0.0, 1.5]
    exps = [2.0, 0.0, 3.5, 0.0, 3.0, -1.0, 0.5]
    x, y = t(bases, f64, requires_grad=True), t(exps, f64, requires_grad=True)
    tx = torch.tensor(bases, dtype=torch.float64, requires_grad=True)
    ty = torch.tensor(exps, dtype=torch.float64, requires_grad=True)
    (x**y).sum().backward()
    (tx**ty).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), equal_nan=True)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), equal_nan=True)
