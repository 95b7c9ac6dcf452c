"""Backward checks the saved values its rules read, and only those (gradc/autograd/saved.py):
torch's errors for in-place writes, without false alarms. Expected numbers are torch's."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradc
import gradc.nn.functional as F
from gradc.autograd.saved import OUT, reads
from gradc.ops.table import OPS


def leaf(v):
    return gradc.tensor(np.asarray(v, dtype=np.float64), requires_grad=True)


def close(t, want):
    np.testing.assert_allclose(np.asarray(t.detach()), want, rtol=1e-12, atol=1e-12)


# ops of v = 2x + 1 whose backward reads nothing that ``v.add_(1)`` changes (torch: no error)
UNREAD = {
    "sum": lambda v: v.sum(),
    "mean": lambda v: v.mean(),
    "add": lambda v: v + 1,
    "sub": lambda v: 3 - v,
    "mul_const": lambda v: v * 3,
    "exp": lambda v: v.exp(),
    "tanh": lambda v: v.tanh(),
    "sigmoid": lambda v: v.sigmoid(),
    "sqrt": lambda v: v.sqrt(),
    "relu": lambda v: v.relu(),
    "cat": lambda v: gradc.cat([v, v]),
    "stack": lambda v: gradc.stack([v, v], 1),
    "reshape": lambda v: v.reshape(3, 1),
    "getitem": lambda v: v[1:],
    "expand": lambda v: v.expand(2, 3),
    "permute": lambda v: v[None].permute(1, 0),
}


@pytest.mark.parametrize("f", UNREAD)
def test_writing_an_input_the_rule_does_not_read_is_not_an_error(f):
    x = leaf([0.5, 1.0, 2.0])
    want_v = x.detach() * 2 + 1
    ref = leaf([0.5, 1.0, 2.0])
    UNREAD[f](ref * 2 + 1).sum().backward()
    v = x * 2 + 1
    w = UNREAD[f](v).sum()
    v.add_(1)
    w.backward()  # torch: fine, the rule never reads v
    close(x.grad, ref.grad)
    close(v, want_v + 1)


def test_issue_example_sum_then_write():
    x = leaf([1.0, 2.0, 3.0])
    v = x * 2
    w = v.sum()
    v.add_(1)
    w.backward()
    close(x.grad, [2.0, 2.0, 2.0])


@pytest.mark.parametrize(
    "f",
    [
        lambda v: v * v,
        lambda v: v.log(),
        lambda v: v**2,
        lambda v: 1 / v,
        lambda v: v @ v,
        lambda v: v.amax(),
        lambda v: v.abs(),
    ],
)
def test_writing_an_input_the_rule_reads_raises(f):
    x = leaf([0.5, 1.0, 2.0])
    v = x * 2
    w = f(v).sum()
    v.add_(1)
    with pytest.raises(gradc.AutogradError, match="its input .*modified|modified.*its input"):
        w.backward()


@pytest.mark.parametrize(
    "f",
    [
        lambda x: x.exp(),
        lambda x: x.tanh(),
        lambda x: x.sigmoid(),
        lambda x: x.sqrt(),
        lambda x: x.relu(),
        lambda x: x.amax(0),
        lambda x: x.amin(),
        # compositions whose torch op saves its result (issue 13's list)
        lambda x: x.softmax(0),
        lambda x: x.log_softmax(0),
        lambda x: x.max(),
        lambda x: x.min(),
    ],
)
def test_writing_an_output_torch_saved_raises(f):
    x = leaf([0.5, 1.0, 2.0])
    v = f(x)
    v.mul_(2)
    with pytest.raises(gradc.AutogradError, match="its output") as e:
        v.sum().backward()
    assert "clone()" in str(e.value)


def test_writing_an_output_that_was_not_saved_is_fine():
    x = leaf([0.5, 1.0, 2.0])
    v = x * 2
    v.mul_(2)
    v.sum().backward()
    close(x.grad, [4.0, 4.0, 4.0])


def test_clamp_in_place_has_torch_gradient():
    x = leaf([1.0, 2.0, 3.0])
    v = x * 2
    v.clamp_(0.0, 3.0)
    close(v, [2.0, 3.0, 3.0])
    v.sum().backward()
    close(x.grad, [2.0, 0.0, 0.0])


def test_an_inplace_op_reads_its_own_old_value():
    x = leaf([1.0, 2.0, 3.0])
    h = x * 2
    h.mul_(3)
    h.pow_(2)  # pow's rule reads the value before the write
    h.sum().backward()
    close(x.grad, 72 * np.array([1.0, 2.0, 3.0]))
    h = x * 2
    h.relu_()  # relu saved its result, h
    h.pow_(2)
    with pytest.raises(gradc.AutogradError, match="ReluBackward0.*its output"):
        h.sum().backward()


def test_overwriting_a_non_leaf_cuts_its_old_history():
    x = leaf([1.0, 2.0])
    for write in (lambda h: h.zero_(), lambda h: h.fill_(3.0), lambda h: h.copy_([5.0, 6.0])):
        x.grad = None
        h = x * 2
        write(h)
        assert h.requires_grad
        (h * x).sum().backward()
        close(x.grad, np.asarray(h.detach()))


def test_dropout_in_place_writes_the_input():
    gradc.manual_seed(0)
    x = leaf([1.0, 2.0, 3.0, 4.0])
    h = x * 1
    y = F.dropout(h, 0.5, inplace=True)
    assert y is h
    h.sum().backward()
    close(x.grad, np.where(np.asarray(h.detach()) != 0, 2.0, 0.0))


@pytest.mark.parametrize(
    "view",
    [
        lambda x: x[:],
        lambda x: x[...],
        lambda x: x.squeeze(),
        lambda x: x.reshape(3),
        lambda x: x.view(3),
        lambda x: x.flatten(),
        lambda x: x.permute(0),
        lambda x: x.expand(3),
        lambda x: x.t(),
    ],
)
def test_a_view_that_changes_nothing_is_a_new_tensor(view):
    x = leaf([1.0, 2.0, 3.0])
    with gradc.no_grad():
        y = view(x)
    assert y is not x and not y.requires_grad and y._base is x
    (y * x).sum().backward()
    close(x.grad, [1.0, 2.0, 3.0])  # y is a constant here: x, not 2x
    z = view(x)
    assert z is not x and z.grad_fn is not None and z._version == x._version
    with gradc.no_grad():
        z.add_(1)
    close(x, [2.0, 3.0, 4.0])


def test_every_differentiable_table_op_says_what_its_rules_read():
    for op in list(OPS.values()):
        for i, rule in enumerate(op.vjp):
            if rule is not None:
                got = reads(op, i)
                assert all(r == OUT or isinstance(r, int) for r in got), op.name


@pytest.mark.parametrize("form", ["tensor ** tensor", "number ** tensor", "tensor ** number"])
def test_pow_with_a_tensor_exponent_saves_its_result_as_torchs(form):
    # fuzzer finding: torch's PowBackward1/2 save the result (the exponent's gradient reads
    # it), so an in-place write to it makes backward raise; x ** 2.0 saves only x
    x = gradc.tensor([1.5, 2.0], dtype=gradc.float64, requires_grad=True)
    y = gradc.tensor([2.0, 3.0], dtype=gradc.float64)
    v = {
        "tensor ** tensor": lambda: x**y,
        "number ** tensor": lambda: 2.0**x,
        "tensor ** number": lambda: x**2.0,
    }[form]()
    v.add_(1.0)
    if form == "tensor ** number":
        v.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    else:
        with pytest.raises(gradc.errors.AutogradError, match="modified by an in-place"):
            v.sum().backward()


@pytest.mark.parametrize(
    "expr",
    [
        "x.std()",
        "x.norm()",
        "x.norm(p=1)",
        "x.norm(p=3)",
        "x.norm(p=math.inf)",
        "x.logsumexp(0)",
        "x.prod()",
        "x.expm1()",
        "x.exp2()",
        "x.reciprocal()",
        "x.rsqrt()",
        "x.tan()",
    ],
)
def test_ops_torch_saves_the_result_of_refuse_a_backward_after_it_is_written(expr):
    # fuzzer finding (in-place ops on earlier results): torch's backward of these reads the
    # result, so writing to it in place makes backward raise; var reads only its input
    x = gradc.tensor([0.5, 0.7], dtype=gradc.float64, requires_grad=True)
    v = eval(expr, {"x": x, "math": math})
    v.add_(1.0)
    with pytest.raises(gradc.errors.AutogradError, match="modified by an in-place"):
        v.sum().backward()
    w = x.var()
    w.add_(1.0)
    w.backward()
