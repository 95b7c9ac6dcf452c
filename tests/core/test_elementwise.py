"""A user-registered sympy op gets its value, gradient and second derivative from the expression."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given

import gradc
from gradc.testing import gradcheck, gradgradcheck
from gradc.testing.strategies import shapes, tensors

softplus = gradc.elementwise("softplus_test", lambda x: sympy.log(1 + sympy.exp(x)))


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


@given(tensors(gradc.float64, shape=shapes(max_dims=3, max_side=4), requires_grad=True))
def test_softplus_value_and_gradient_is_sigmoid(x):
    y = softplus(x)
    xs = x.detach().numpy()
    np.testing.assert_allclose(y.detach().numpy(), np.log1p(np.exp(xs)), rtol=1e-12)
    (g,) = gradc.autograd.grad(y.sum(), x)
    np.testing.assert_allclose(g.numpy(), _np_sigmoid(xs), rtol=1e-12, atol=1e-15)
    assert gradcheck(softplus, x)


@given(tensors(gradc.float64, shape=shapes(max_dims=2, max_side=3), requires_grad=True))
def test_softplus_second_derivative(x):
    (g,) = gradc.autograd.grad(softplus(x).sum(), x, create_graph=True)
    (h,) = gradc.autograd.grad(g.sum(), x)
    s = _np_sigmoid(x.detach().numpy())
    np.testing.assert_allclose(h.numpy(), s * (1 - s), rtol=1e-10, atol=1e-15)
    assert gradgradcheck(softplus, x)


def test_softplus_is_a_pointwise_op_with_a_derived_vjp():
    op = gradc.ops.OPS["softplus_test"]
    assert op.kind == "pointwise" and softplus.op is op
    x = gradc.tensor([0.0, 1.0], requires_grad=True)
    y = softplus(x)
    assert type(y.grad_fn).__name__ == "SoftplusTestBackward0"
    assert y.dtype is gradc.float32
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), _np_sigmoid(np.array([0.0, 1.0])), rtol=1e-6)
    # the derivative is itself a registered pointwise op (so backward graphs fuse)
    dop = gradc.ops.OPS["softplus_test_vjp0"]
    assert dop.kind == "pointwise"
    assert (
        sympy.simplify(
            dop.expr.expr.subs(dop.expr.variables[0], 1)
            - sympy.exp(dop.expr.variables[1]) / (1 + sympy.exp(dop.expr.variables[1]))
        )
        == 0
    )


def test_two_input_user_op_broadcasts_and_differentiates():
    hypot = gradc.elementwise("hypot_test", lambda a, b: sympy.sqrt(a**2 + b**2))
    a = gradc.tensor([[3.0], [1.0]], dtype=gradc.float64, requires_grad=True)
    b = gradc.tensor([4.0, 2.0, 1.5], dtype=gradc.float64, requires_grad=True)
    assert tuple(hypot(a, b).shape) == (2, 3)
    assert hypot(a, b)[0, 0].item() == pytest.approx(5.0)
    assert gradcheck(hypot, a, b) and gradgradcheck(hypot, a, b)


def test_int_input_gives_default_float():
    assert softplus(gradc.tensor([0, 1])).dtype is gradc.float32


@pytest.mark.parametrize("name", ["softplus_test", "exp", "add"])
def test_duplicate_name_is_an_error(name):
    with pytest.raises(gradc.GradcError, match="already exists"):
        gradc.elementwise(name, lambda x: sympy.exp(x))
