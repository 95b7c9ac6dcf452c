"""PyTorch's autograd semantics, one behaviour per test, each with an assertion that can fail."""

from __future__ import annotations

import numpy as np
import pytest

import gradc
from gradc.autograd import AccumulateGrad


def leaf(values, dtype=gradc.float32):
    return gradc.tensor(values, dtype=dtype, requires_grad=True)


def close(t, expected):
    np.testing.assert_allclose(np.asarray(t), expected, rtol=1e-6)


# ---- .grad, backward, retain_graph -----------------------------------------------------------
def test_grad_accumulates_across_backward_calls():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    close(x.grad, [2, 4, 6])
    (x * 3).sum().backward()
    close(x.grad, [5, 7, 9])


def test_backward_twice_needs_retain_graph():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()  # allowed: the graph was retained
    close(x.grad, 2 * first)
    with pytest.raises(gradc.AutogradError, match="second time"):
        y.backward()


def test_graph_is_freed_by_autograd_grad_too():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    gradc.autograd.grad(y, x)
    with pytest.raises(gradc.AutogradError, match="retain_graph"):
        gradc.autograd.grad(y, x)


def test_non_scalar_backward_needs_gradient():
    x = leaf([1.0, 2.0])
    y = x * 3
    with pytest.raises(gradc.AutogradError, match="scalar"):
        y.backward()
    y.backward(gradc.tensor([1.0, 10.0]))
    close(x.grad, [3, 30])


def test_backward_inputs_limits_accumulation():
    a, b = leaf([1.0]), leaf([2.0])
    (a * b).sum().backward(inputs=[a])
    close(a.grad, [2])
    assert b.grad is None


def test_grad_dtype_follows_the_input_under_promotion():
    a = leaf([1.0, 2.0])  # float32
    b = leaf([3.0, 4.0], gradc.float64)
    (a * b).sum().backward()
    assert a.grad.dtype is gradc.float32 and b.grad.dtype is gradc.float64
    close(a.grad, [3, 4])


def test_broadcast_gradient_is_summed_to_the_input_shape():
    a = leaf([[1.0], [2.0]])  # (2, 1)
    b = leaf([1.0, 2.0, 3.0])  # (3,)
    (a * b).sum().backward()
    close(a.grad, [[6], [6]])
    close(b.grad, [3, 3, 3])


# ---- grad modes --------------------------------------------------------------------------------
def test_no_grad_context_manager():
    x = leaf([1.0])
    with gradc.no_grad():
        y = x * 2
        assert not gradc.is_grad_enabled()
    assert gradc.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


@pytest.mark.parametrize("bare", [False, True])
def test_no_grad_decorator(bare):
    def double(t):
        return t * 2

    fn = gradc.no_grad(double) if bare else gradc.no_grad()(double)
    x = leaf([1.0])
    assert not fn(x).requires_grad
    assert (x * 2).requires_grad  # the mode is restored afterwards


def test_enable_grad_inside_no_grad():
    x = leaf([1.0])
    with gradc.no_grad():
        with gradc.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad


def test_set_grad_enabled_as_function_and_context():
    x = leaf([1.0])
    gradc.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        gradc.set_grad_enabled(True)
    assert (x * 2).requires_grad
    with gradc.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


# ---- detach, .data, leaves ---------------------------------------------------------------------
def test_detach_cuts_the_graph_and_shares_data():
    x = leaf([1.0, 2.0])
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    y = (x * d).sum()
    y.backward()
    close(x.grad, [2, 4])  # d is a constant: no d/dx through it


def test_data_bypasses_autograd():
    x = leaf([1.0, 2.0])
    x.data.mul_(3)  # no leaf error: .data is not tracked
    close(x.detach(), [3, 6])
    assert x.is_leaf and x.requires_grad and x.grad_fn is None
    x.data = gradc.tensor([5.0, 5.0])
    (x * x).sum().backward()
    close(x.grad, [10, 10])


def test_is_leaf_rules():
    x = leaf([1.0])
    c = gradc.tensor([1.0])
    assert x.is_leaf and c.is_leaf
    assert not (x * 2).is_leaf
    assert (c * 2).is_leaf  # no grad needed: nothing recorded
    assert (x * 2).detach().is_leaf
    with gradc.no_grad():
        assert (x * 2).is_leaf


def test_requires_grad_rules():
    with pytest.raises(gradc.DTypeError, match="floating point"):
        gradc.tensor([1, 2]).requires_grad_()
    with pytest.raises(gradc.AutogradError, match="leaf"):
        (leaf([1.0]) * 2).requires_grad_(False)
    x = gradc.tensor([1.0]).requires_grad_()
    assert x.requires_grad and x.is_leaf
    assert not leaf([1.5]).long().requires_grad  # int results carry no gradient
    assert not (leaf([1.5]) > 0).requires_grad


def test_retain_grad_on_non_leaf():
    x = leaf([1.0, 2.0])
    h = x * 2
    h.retain_grad()
    assert h.retains_grad
    (h * h).sum().backward()
    close(h.grad, [4, 8])
    h2 = x * 2
    (h2 * h2).sum().backward()
    assert h2.grad is None  # non-leaf without retain_grad keeps no .grad


# ---- in-place --------------------------------------------------------------------------------
def test_inplace_on_leaf_requiring_grad_is_an_error():
    x = leaf([1.0, 2.0])
    with pytest.raises(gradc.AutogradError, match="leaf"):
        x += 1
    with gradc.no_grad():
        x += 1  # the optimizer's way
    close(x.detach(), [2, 3])
    assert x.is_leaf


def test_inplace_on_non_leaf_has_the_right_gradient():
    x = leaf([1.0, 2.0, 3.0])
    h = x * 2
    h += 1
    assert type(h.grad_fn).__name__ == "AddBackward0"
    h.mul_(h.detach() + 0)  # in-place that needs its own old value
    h.sum().backward()
    close(x.grad, 2 * (2 * np.array([1.0, 2.0, 3.0]) + 1))


def test_inplace_with_itself_as_the_operand_raises_as_in_torch():
    h = leaf([1.0, 2.0]) * 2
    h.mul_(h)  # MulBackward0 saved ``h`` as its other operand, then h changed
    with pytest.raises(gradc.AutogradError, match="modified by an in-place operation"):
        h.sum().backward()


def test_inplace_on_a_view_of_a_leaf_raises_and_no_grad_writes_through():
    x = leaf([[1.0, 3.0, 2.0]])
    h = x.reshape(3)
    with pytest.raises(gradc.AutogradError, match="view of a leaf"):
        h += 1
    with gradc.no_grad():
        x.reshape(3).add_(1)  # the view shares the leaf's storage
    close(x.detach(), [[2, 4, 3]])


def test_inplace_after_amax_raises_as_in_torch():
    x = leaf([1.0, 3.0, 2.0])
    m = x.amax()
    m += 1  # amax's backward reads its own output, which changed
    with pytest.raises(gradc.AutogradError, match="its output"):
        m.backward()


def test_modifying_a_saved_tensor_then_backward_raises():
    x = leaf([1.0, 2.0])
    h = x * 2
    y = h * h  # saves h
    h += 1
    with pytest.raises(gradc.AutogradError, match="modified by an in-place operation"):
        y.sum().backward()


# ---- the tape: grad_fn and next_functions ----------------------------------------------------
@pytest.mark.parametrize(
    "fn, name",
    [
        (lambda x: x * 2, "MulBackward0"),
        (lambda x: x + 2, "AddBackward0"),
        (lambda x: x - 2, "SubBackward0"),
        (lambda x: x / 2, "DivBackward0"),
        (lambda x: x**2, "PowBackward0"),
        (lambda x: -x, "NegBackward0"),
        (lambda x: x.exp(), "ExpBackward0"),
        (lambda x: x.tanh(), "TanhBackward0"),
        (lambda x: x.sum(), "SumBackward0"),
        (lambda x: x.amax(), "AmaxBackward0"),
        (lambda x: x.reshape(2, 1), "ReshapeBackward0"),
        (lambda x: x[0], "GetitemBackward0"),
        (lambda x: x.expand(3, 2), "ExpandBackward0"),
        (lambda x: x.reshape(1, 2).permute(1, 0), "PermuteBackward0"),
        (lambda x: gradc.cat([x, x]), "CatBackward0"),
        (lambda x: x.reshape(1, 2) @ x.reshape(2, 1), "MatmulBackward0"),
        (lambda x: x.double(), "CastBackward0"),
    ],
)
def test_grad_fn_names_the_op(fn, name):
    y = fn(leaf([1.0, 2.0]))
    assert type(y.grad_fn).__name__ == name and y.grad_fn.name() == name
    assert f"grad_fn=<{name}>" in repr(y)


def test_next_functions_structure():
    x = leaf([1.0, 2.0])
    w = gradc.tensor([3.0, 4.0])  # needs no grad
    out = (x * w).sum()
    ((mul, k),) = out.grad_fn.next_functions
    assert k == 0 and type(mul).__name__ == "MulBackward0"
    (acc, _), (none, n) = mul.next_functions
    assert isinstance(acc, AccumulateGrad) and acc.variable is x
    assert none is None and n == 0
    assert type(acc).__name__ == "AccumulateGrad"
    # the same leaf used twice feeds one AccumulateGrad node
    y = x * x
    a, b = (f for f, _ in y.grad_fn.next_functions)
    assert a is b is acc


# ---- autograd.grad ---------------------------------------------------------------------------
def test_autograd_grad_higher_order():
    x = leaf(1.5, gradc.float64)
    (g1,) = gradc.autograd.grad(x**3, x, create_graph=True)
    (g2,) = gradc.autograd.grad(g1, x, create_graph=True)
    (g3,) = gradc.autograd.grad(g2, x)
    assert g1.item() == pytest.approx(3 * 1.5**2)
    assert g2.item() == pytest.approx(6 * 1.5)
    assert g3.item() == pytest.approx(6.0)
    assert g1.requires_grad and not g3.requires_grad
    assert x.grad is None  # autograd.grad leaves .grad alone


def test_autograd_grad_second_derivative_of_a_composite():
    x = leaf([0.3, -1.2], gradc.float64)
    (g,) = gradc.autograd.grad((x.tanh() * x).sum(), x, create_graph=True)
    (h,) = gradc.autograd.grad(g.sum(), x)
    t = np.tanh(x.detach().numpy())
    xs = x.detach().numpy()
    close(h, 2 * (1 - t**2) - 2 * xs * t * (1 - t**2))


def test_backward_with_create_graph_allows_double_backward():
    x = leaf([2.0], gradc.float64)
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    x.grad = None
    g.sum().backward()
    close(x.grad, [12.0])


def test_allow_unused():
    x, u = leaf([1.0]), leaf([2.0])
    with pytest.raises(gradc.AutogradError, match="allow_unused"):
        gradc.autograd.grad((x * 2).sum(), [x, u])
    gx, gu = gradc.autograd.grad((x * 2).sum(), [x, u], allow_unused=True)
    close(gx, [2])
    assert gu is None


def test_grad_outputs():
    x = leaf([1.0, 2.0])
    (g,) = gradc.autograd.grad(x * x, x, grad_outputs=gradc.tensor([1.0, -1.0]))
    close(g, [2, -4])


def test_variable_is_the_legacy_alias():
    v = gradc.autograd.Variable(gradc.tensor([1.0, 2.0]), requires_grad=True)
    assert isinstance(v, gradc.Tensor) and v.requires_grad and v.is_leaf
    (v * v).sum().backward()
    close(v.grad, [2, 4])
    assert not gradc.autograd.Variable(gradc.tensor([1.0])).requires_grad
