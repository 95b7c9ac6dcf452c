"""Pointwise ops at nan, inf, ties and zeros behave as PyTorch 2.x does (values and gradients).

Expected numbers are torch 2.13's; each test pins one item of issue 13.
"""

import math

import numpy as np
import pytest

import gradc

nan, inf = math.nan, math.inf


def grads(fn, *values):
    xs = [gradc.tensor(v, dtype=gradc.float64, requires_grad=True) for v in values]
    out = fn(*xs)
    out.sum().backward()
    return out.detach().numpy(), [x.grad.numpy() for x in xs]


def same(a, b):
    np.testing.assert_array_equal(np.asarray(a, dtype=np.float64), np.asarray(b))


def test_relu_keeps_nan_and_passes_its_gradient():
    out, (g,) = grads(gradc.relu, [nan, 1.0, -1.0, 0.0])
    same(out, [nan, 1.0, 0.0, 0.0])
    same(g, [1.0, 1.0, 0.0, 0.0])


def test_clamp_keeps_nan_gives_it_no_gradient_and_gradient_1_on_the_bounds():
    out, (g,) = grads(lambda x: x.clamp(-1.0, 0.5), [nan, -1.0, 0.5, 2.0, -3.0])
    same(out, [nan, -1.0, 0.5, 0.5, -1.0])
    same(g, [0.0, 1.0, 1.0, 0.0, 0.0])


def test_clamp_with_a_tensor_bound_routes_the_gradient_to_the_bound_below_it():
    out, (gx, glo) = grads(lambda x, lo: x.clamp(min=lo), [nan, 0.0, 1.0, -1.0], [0.0] * 4)
    same(out, [nan, 0.0, 1.0, 0.0])
    same(gx, [0.0, 1.0, 1.0, 0.0])
    same(glo, [0.0, 0.0, 0.0, 1.0])


@pytest.mark.parametrize(
    "fn, value, gx, gy",
    [
        (gradc.maximum, [nan, nan, 1.0, 2.0, 3.0], [1, 1, 0.5, 1, 0], [1, 1, 0.5, 0, 1]),
        (gradc.minimum, [nan, nan, 1.0, 1.0, 0.0], [1, 1, 0.5, 0, 1], [1, 1, 0.5, 1, 0]),
    ],
)
def test_maximum_minimum_propagate_nan_and_split_ties(fn, value, gx, gy):
    out, (g0, g1) = grads(fn, [nan, 1.0, 1.0, 2.0, 0.0], [0.0, nan, 1.0, 1.0, 3.0])
    same(out, value)
    same(g0, gx)
    same(g1, gy)


def test_maximum_with_a_number_is_a_type_error():
    with pytest.raises(TypeError):
        gradc.maximum(gradc.ones(2), 0.0)
    with pytest.raises(TypeError):
        gradc.minimum(gradc.ones(2), 0.0)


def test_an_inf_cotangent_does_not_leak_nan_through_a_masked_gradient():
    x = gradc.tensor([1.0, 3.0], dtype=gradc.float64, requires_grad=True)
    (gradc.maximum(x, gradc.tensor([2.0, 2.0], dtype=gradc.float64)) * inf).sum().backward()
    same(x.grad.numpy(), [0.0, inf])
    y = gradc.tensor([1.0, -3.0], dtype=gradc.float64, requires_grad=True)
    (gradc.relu(y) * inf).sum().backward()
    same(y.grad.numpy(), [inf, 0.0])


def test_sigmoid_keeps_its_tails():
    x = gradc.tensor([-30.0, -40.0, -800.0, 800.0, nan], dtype=gradc.float64, requires_grad=True)
    s = x.sigmoid()
    np.testing.assert_allclose(s[:2].log().detach().numpy(), [-30.0, -40.0], rtol=1e-14)
    s.sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[:2], [9.357622968838423e-14, 4.248354255291589e-18])
    same(x.grad.numpy()[2:], [0.0, 0.0, nan])
    same(s.detach().numpy()[2:], [0.0, 1.0, nan])


def test_abs_gradient_is_the_sign_with_0_at_zero_and_nan():
    _, (g,) = grads(gradc.abs, [inf, -inf, nan, 0.0, -2.0])
    same(g, [1.0, -1.0, 0.0, 0.0, -1.0])


def test_sqrt_of_abs_plus_a_constant_has_finite_gradients_at_inf():
    _, (g,) = grads(lambda x: (x.abs() + 1.0).sqrt(), [inf, -inf])
    same(g, [0.0, 0.0])


def test_pow_gradients_at_a_zero_base_and_a_zero_exponent():
    out, (gx, gy) = grads(lambda x, y: x**y, [0.0, 0.0, 0.0, 2.0, 0.0], [2.0, 0.0, -1.0, 3.0, 0.5])
    same(out, [0.0, 1.0, inf, 8.0, 0.0])
    same(gx, [0.0, 0.0, -inf, 12.0, inf])
    same(gy, [0.0, 0.0, -inf, 8.0 * math.log(2.0), 0.0])


def test_a_tensor_exponent_of_one_half_is_ieee_pow_not_sqrt():
    """Found by the oracle: numpy's power takes a sqrt fast path for a 0-d exponent 0.5."""
    x = gradc.tensor([-inf, 4.0], dtype=gradc.float64)
    same((x ** gradc.tensor(0.5, dtype=gradc.float64)).numpy(), [inf, 2.0])
