"""gradc/nn/functional_activation.py: gelu, silu, leaky_relu, elu, hardtanh, softplus, one_hot.

Expected values are written out (from the formulas); torch is a second oracle where installed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradc
import gradc.nn.functional as F
from gradc.testing import gradcheck
from gradc.testing.strategies import shapes, tensors

f64 = gradc.float64
X = [-3.0, -1.0, 0.0, 0.5, 2.0, 800.0]


def _phi(v):
    return 0.5 * (1 + math.erf(v / math.sqrt(2)))


def _tanh_gelu(v):
    return 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3)))


EXPECTED = {
    "gelu": (lambda x: F.gelu(x), [v * _phi(v) for v in X]),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), [_tanh_gelu(v) for v in X]),
    "silu": (F.silu, [v / (1 + math.exp(-v)) for v in X]),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), [v if v > 0 else 0.2 * v for v in X]),
    "elu": (lambda x: F.elu(x, 0.7), [v if v > 0 else 0.7 * math.expm1(v) for v in X]),
    "relu6": (F.relu6, [min(max(v, 0.0), 6.0) for v in X]),
    "softplus": (F.softplus, [v if v > 20 else math.log1p(math.exp(v)) for v in X]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_values(name):
    fn, expected = EXPECTED[name]
    np.testing.assert_allclose(fn(gradc.tensor(X, dtype=f64)).numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "fn, expected",
    [
        (lambda x: F.leaky_relu(x, 0.2), 0.2),  # torch: the slope at 0
        (lambda x: F.elu(x, 0.7), 0.7),  # torch: alpha at 0
        (F.relu6, 0.0),  # torch's hardtanh: 0 on the bounds
        (F.gelu, 0.5),
        (lambda x: F.gelu(x, approximate="tanh"), 0.5),
        (F.silu, 0.5),
    ],
)
def test_gradient_at_zero(fn, expected):
    x = gradc.tensor([0.0], dtype=f64, requires_grad=True)
    fn(x).sum().backward()
    assert x.grad.item() == pytest.approx(expected)


def test_large_inputs_give_finite_gradients():
    x = gradc.tensor([800.0, -800.0], dtype=f64, requires_grad=True)
    (F.elu(x) + F.silu(x) + F.gelu(x) + F.softplus(x)).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_inplace_variants_write_the_input():
    x = gradc.tensor([-1.0, 1.0])
    assert F.leaky_relu(x, 0.5, inplace=True) is x and x.tolist() == [-0.5, 1.0]
    assert F.elu(x, inplace=True) is x


def test_gelu_refuses_unknown_approximation():
    with pytest.raises(gradc.GradcError, match="approximate"):
        F.gelu(gradc.zeros(2), approximate="fast")


def test_one_hot():
    out = F.one_hot(gradc.tensor([0, 2, 1]))
    assert out.dtype is gradc.int64 and out.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    assert F.one_hot(gradc.tensor([[0], [1]]), 4).shape == (2, 1, 4)
    with pytest.raises(gradc.GradcError, match="non-negative"):
        F.one_hot(gradc.tensor([-1, 0]))
    with pytest.raises(gradc.GradcError, match="smaller than num_classes"):
        F.one_hot(gradc.tensor([3]), 3)
    with pytest.raises(gradc.DTypeError, match="LongTensor"):
        F.one_hot(gradc.tensor([0.0]))


@st.composite
def _activations(draw):
    shape = draw(shapes(min_dims=1, max_dims=2, max_side=3))
    # away from 0, where leaky_relu, elu and relu6 have kinks
    away = st.one_of(st.floats(0.1, 3.0), st.floats(-3.0, -0.1))
    x = draw(tensors(f64, shape=shape, elements=away, requires_grad=True))
    name = draw(st.sampled_from(sorted(EXPECTED)))
    return EXPECTED[name][0], x


@given(_activations())
def test_activations_match_finite_differences(case):
    fn, x = case
    assert gradcheck(fn, x)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_against_torch(name):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    theirs = {
        "gelu": tf.gelu,
        "gelu_tanh": lambda x: tf.gelu(x, approximate="tanh"),
        "silu": tf.silu,
        "leaky_relu": lambda x: tf.leaky_relu(x, 0.2),
        "elu": lambda x: tf.elu(x, 0.7),
        "relu6": tf.relu6,
        "softplus": tf.softplus,
    }[name]
    vals = [-3.0, -1.0, 0.0, 0.5, 2.0, 6.0, 30.0]
    x = gradc.tensor(vals, dtype=f64, requires_grad=True)
    tx = torch.tensor(vals, dtype=torch.float64, requires_grad=True)
    y, ty = EXPECTED[name][0](x), theirs(tx)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_softplus_gradient_at_nan_is_nan():
    # fuzzer finding: computed through clamp, whose gradient at nan is 0; torch's is nan
    x = gradc.tensor([float("nan"), 30.0, 1.0], dtype=gradc.float64, requires_grad=True)
    gradc.nn.functional.softplus(x, beta=2).sum().backward()
    g = x.grad.numpy()
    assert np.isnan(g[0]) and g[1] == 1.0 and abs(g[2] - 0.8807970779778823) < 1e-12


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_at_0_turns_an_inf_cotangent_into_inf(approximate):
    # fuzzer finding (sqrt(gelu(0)) backward): as a composition x * Phi(x), the product rule
    # gave inf * 0 = nan; torch's ct * (Phi + x phi) is inf * 0.5
    x = gradc.tensor([0.0], dtype=gradc.float64, requires_grad=True)
    gradc.sqrt(F.gelu(x, approximate=approximate)).sum().backward()
    assert x.grad.tolist() == [math.inf]
