"""Views share storage and a version counter with their base; in-place ops through them follow
torch's autograd rules (gradc/views.py, gradc/tensor_inplace.py). Expected values come from
numpy views of the same data (tests/core/view_cases.py); test_views_torch.py runs the same table
against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradc
from tests.core.op_cases import basic_indices
from tests.core.view_cases import (
    BASE,
    INPLACE,
    SCALE,
    VIEWS,
    WEIGHTS,
    expected,
    expected_copy,
)

F64 = gradc.float64


def t64(a, requires_grad=False):
    return gradc.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def close(t, want):
    np.testing.assert_allclose(np.asarray(t.detach()), want, rtol=1e-12, atol=1e-12)


# ---- the table: every view x every in-place op, with and without autograd --------------------
@pytest.mark.parametrize("op", INPLACE)
@pytest.mark.parametrize("view", VIEWS)
def test_write_through_a_view_reaches_the_base_without_autograd(view, op):
    y = t64(BASE * SCALE)
    v = VIEWS[view][0](y)
    assert v._base is y and v._version == y._version == 0
    INPLACE[op][0](v)
    want, _ = expected(view, op)
    close(y, want)
    close(v, VIEWS[view][1](want))
    assert v._version == y._version == 1


@pytest.mark.parametrize("op", INPLACE)
@pytest.mark.parametrize("view", VIEWS)
def test_write_through_a_view_of_a_non_leaf_has_torch_gradients(view, op):
    x = t64(BASE, requires_grad=True)
    y = x * SCALE
    v = VIEWS[view][0](y)
    INPLACE[op][0](v)
    assert type(y.grad_fn).__name__ == "CopySlices"
    (y * t64(WEIGHTS)).sum().backward()
    want_y, want_grad = expected(view, op)
    close(y, want_y)
    close(x.grad, want_grad)


@pytest.mark.parametrize("view", VIEWS)
def test_copy_into_a_view_sends_gradients_to_the_source_and_not_the_overwritten(view):
    x = t64(BASE, requires_grad=True)
    y = x * SCALE
    v = VIEWS[view][0](y)
    src = t64(np.arange(v.numel()).reshape(tuple(v.shape)) * 10.0, requires_grad=True)
    v.copy_(src)
    (y * t64(WEIGHTS)).sum().backward()
    want_y, want_x, want_src = expected_copy(view, np.asarray(src.detach()))
    close(y, want_y)
    close(x.grad, want_x)
    close(src.grad, want_src)


@pytest.mark.parametrize("op", INPLACE)
@pytest.mark.parametrize("view", VIEWS)
def test_write_through_a_view_of_a_leaf_that_requires_grad_raises(view, op):
    x = t64(BASE * SCALE, requires_grad=True)
    with pytest.raises(gradc.AutogradError, match="view of a leaf Variable") as e:
        INPLACE[op][0](VIEWS[view][0](x))
    assert "no_grad" in str(e.value) and "view_cases.py:" in str(e.value)  # the user line
    with gradc.no_grad():  # how an optimizer writes parameters: allowed, and reaches the leaf
        INPLACE[op][0](VIEWS[view][0](x))
    close(x, expected(view, op)[0])
    assert x.is_leaf and x.requires_grad and x._version == 1


@given(st.data())
def test_drawn_slices_write_through_with_torch_gradients(data):
    """hypothesis draws the base shape, a basic index (ints, slices with steps, None, ...) and
    the in-place op; the reference is the same write into a numpy view."""
    shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
    idx = data.draw(basic_indices(shape))
    op = data.draw(st.sampled_from(["add_", "mul_", "clamp_", "fill_"]))
    n = int(np.prod(shape))
    x0 = (np.arange(n, dtype=np.float64).reshape(shape) - n / 3) * 0.7 + 0.05
    w = np.linspace(0.5, 2.0, n).reshape(shape)
    x = t64(x0, requires_grad=True)
    y = x * 1.0
    INPLACE[op][0](y[idx])
    (y * t64(w)).sum().backward()
    key = idx if isinstance(idx, tuple) else (idx,)
    key = key if any(k is Ellipsis for k in key) else (*key, ...)  # numpy: a view even for x[0]
    ref = x0.copy()
    pos, old = np.arange(n).reshape(shape)[key], ref[key].copy()
    INPLACE[op][1](ref[key])
    g = w.copy().reshape(-1)
    g[pos.reshape(-1)] *= np.broadcast_to(INPLACE[op][2](old), old.shape).reshape(-1)
    close(y, ref)
    close(x.grad, g.reshape(shape))


# ---- literal cases from the issue, with torch's numbers ------------------------------------
def test_issue_example_write_through_slice_is_kept():
    x = t64([0.5, 1.0, 2.0], requires_grad=True)
    y = x * 3
    y[:2].mul_(2)
    close(y, [3.0, 6.0, 6.0])
    y.sum().backward()
    close(x.grad, [6.0, 6.0, 3.0])


def test_item_assignment_is_copy_slices():
    x = t64([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    v = t64([10.0, 20.0], requires_grad=True)
    y[1:3] = v
    assert type(y.grad_fn).__name__ == "CopySlices"
    (y * t64([1.0, 2.0, 3.0])).sum().backward()
    close(y, [1.0, 10.0, 20.0])
    close(x.grad, [1.0, 0.0, 0.0])
    close(v.grad, [2.0, 3.0])


def test_item_assignment_broadcasts_numbers_and_tensors():
    y = gradc.zeros(2, 3)
    y[0] = 5
    y[:, 1] = gradc.tensor([7.0, 8.0])
    y[1, 2] = gradc.tensor(9.0)
    close(y, [[5, 7, 5], [0, 8, 9]])
    with pytest.raises(gradc.ShapeError):
        y[0] = gradc.ones(4)


def test_item_assignment_into_a_constant_makes_it_require_grad():
    b = gradc.zeros(3, dtype=F64)
    a = t64([1.0, 2.0, 3.0], requires_grad=True)
    b[:2] = a[1:]
    assert b.requires_grad and type(b.grad_fn).__name__ == "CopySlices"
    b.sum().backward()
    close(a.grad, [0.0, 1.0, 1.0])


def test_other_views_see_the_write_and_rebuild_their_grad_fn():
    x = t64([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    a, b = y[:2], y[1:]
    a.mul_(3)  # b overlaps a at y[1]
    close(b, [12.0, 6.0])
    assert b._version == y._version == 1
    (b * t64([1.0, 10.0])).sum().backward()
    close(x.grad, [0.0, 6.0, 20.0])


def test_a_view_taken_before_the_base_is_written_follows_the_base():
    x = t64([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    v = y[:2]
    y.mul_(3)
    close(v, [6.0, 12.0])
    v.sum().backward()
    close(x.grad, [6.0, 6.0, 0.0])


def test_in_place_on_an_expanded_tensor_raises():
    a = gradc.zeros(1)
    with pytest.raises(gradc.GradcError, match="single memory location.*clone"):
        a.expand(3).add_(1)
    with pytest.raises(gradc.GradcError, match="single memory location"):
        gradc.zeros(2, 1).expand(2, 3)[0] = 1.0
    close(a, [0.0])
    b = a.expand(3).clone()
    b.add_(1)  # the clone owns its memory
    close(b, [1.0, 1.0, 1.0])


def test_in_place_from_a_partly_overlapping_input_raises():
    y = gradc.tensor([1.0, 2.0, 3.0])
    for write in (
        lambda: y[1:].copy_(y[:2]),
        lambda: y[1:].add_(y[:2]),
        lambda: y[1:].__setitem__(slice(None), y[:2]),
    ):
        with pytest.raises(gradc.GradcError, match="input tensor and the written-to tensor"):
            write()
    m = gradc.tensor([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(gradc.GradcError, match="single memory location"):
        m.copy_(m.t())
    y[1:].add_(y[1:])  # the same memory in the same layout is fine, as in torch
    y[::2].add_(y[1::2])  # interleaved: no element shared
    y.copy_(y)
    close(y, [5.0, 4.0, 10.0])
    y[1:].copy_(y[:2].clone())
    close(y, [5.0, 5.0, 4.0])


def test_a_view_made_under_no_grad_cannot_be_written_with_grad_on():
    x = t64([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    with gradc.no_grad():
        v = y[:2]
    assert not v.requires_grad
    with pytest.raises(gradc.AutogradError, match="created in no_grad mode"):
        v.mul_(2)


@pytest.mark.parametrize("view", ["slice", "int", "permute", "reshape", "unsqueeze"])
def test_backward_through_a_tensor_saved_then_written_through_a_view_raises(view):
    x = t64(BASE, requires_grad=True)
    y = x * 2
    z = y * y  # mul saves y
    VIEWS[view][0](y).add_(1)
    with pytest.raises(gradc.AutogradError, match="modified by an in-place operation"):
        z.sum().backward()


def test_a_saved_view_written_through_its_base_raises():
    x = t64([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    v = y[:2]
    z = v * v  # saves the view
    y.add_(1)
    with pytest.raises(gradc.AutogradError, match="modified by an in-place operation"):
        z.sum().backward()


def test_the_saved_output_of_exp_written_through_a_view_raises():
    x = t64([1.0, 2.0, 3.0], requires_grad=True)
    y = x.exp()
    y[:2].mul_(2)
    with pytest.raises(gradc.AutogradError, match="its output"):
        y.sum().backward()


def test_views_of_views_share_the_root_base_and_version():
    y = gradc.zeros(2, 3)
    v = y.view(3, 2)[1:]
    assert v._base is y and v._is_view() and not y._is_view()
    v[0, 0] = 4.0
    assert y[0, 2].item() == 4.0 and y._version == v._version == 1
    y.add_(1)
    assert v._version == 2


def test_a_reshape_that_must_copy_is_not_a_view():
    y = gradc.zeros(2, 3)
    r = y.t().reshape(6)  # not expressible as a view: a copy, as in torch
    assert r._base is None
    r.add_(1)
    close(y, np.zeros((2, 3)))


def test_detach_shares_the_version_counter_and_data_does_not():
    x = t64([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = y * y
    d = y.detach()
    d.add_(1)
    close(y, [3.0, 5.0])
    with pytest.raises(gradc.AutogradError, match="modified"):
        z.sum().backward()
    y2 = x * 2
    z2 = y2 * y2
    y2.data.add_(1)  # .data bypasses the version counter, as in torch
    z2.sum().backward()
    close(x.grad, [2 * 2 * 3.0, 2 * 2 * 5.0])  # 2 * dz/dy2, from the written values [3, 5]


def test_grad_owns_its_storage():
    w = t64([1.0, 2.0], requires_grad=True)
    b = t64([3.0, 4.0], requires_grad=True)
    (w + b).sum().backward()  # add's vjp hands the same cotangent to both
    with gradc.no_grad():
        w.grad.mul_(10)
    close(b.grad, [1.0, 1.0])
    s = t64(2.0, requires_grad=True)
    (s * t64([1.0, 1.0, 1.0])).sum().backward()
    s.grad.zero_()  # not an expanded view of the cotangent
    close(s.grad, 0.0)


# ---- finite differences: writes through views with tensor operands ----------------------------
WRITES = {
    "mul_": lambda v, s: v.mul_(s),
    "add_": lambda v, s: v.add_(s, alpha=2),
    "div_": lambda v, s: v.div_(s),
    "copy_": lambda v, s: v.copy_(s * s),
    "setitem": None,  # y[idx] = s * 3
}


@given(st.data())
def test_writes_through_views_pass_gradcheck_and_gradgradcheck(data):
    """y = x * x, then a write through a drawn view of y with a drawn operand s; the loss also
    reads a second, overlapping view taken before the write (its grad_fn is rebuilt)."""
    from gradc.testing import gradcheck, gradgradcheck

    shape = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple))
    idx = data.draw(basic_indices(shape))
    kind = data.draw(st.sampled_from(sorted(WRITES)))
    n = int(np.prod(shape))
    x = t64(np.linspace(0.5, 1.5, n).reshape(shape), requires_grad=True)
    probe = gradc.zeros(*shape)[idx]
    s = t64(np.linspace(1.2, 2.0, probe.numel()).reshape(tuple(probe.shape)), requires_grad=True)

    def f(x, s):
        y = x * x
        other = y.reshape(-1)[::2]
        if kind == "setitem":
            y[idx] = s * 3
        else:
            WRITES[kind](y[idx], s)
        return (y * y).sum() + (other * other.exp()).sum()

    assert gradcheck(f, x, s)
    assert gradgradcheck(f, x, s)


def test_a_view_made_a_leaf_keeps_requires_grad_when_its_base_changes():
    b = gradc.zeros(3, dtype=F64)
    v = b[:2].requires_grad_()
    b.add_(1)
    assert v.requires_grad and v.is_leaf


def test_contiguous_copies_a_view_that_is_not_in_order():
    y = gradc.zeros(2, 3)
    assert y.contiguous() is y
    c = y.t().contiguous()
    assert c._base is None
    c.add_(1)
    close(y, np.zeros((2, 3)))
    r = y[1].contiguous()  # already in order: the view itself, writes reach y
    r.add_(1)
    close(y, [[0, 0, 0], [1, 1, 1]])


def test_detach_in_place_refuses_views():
    y = t64([1.0, 2.0, 3.0], requires_grad=True) * 2
    with pytest.raises(gradc.AutogradError, match="detach"):
        y[:2].detach_()
    assert y.detach_() is y and not y.requires_grad


def test_retain_grad_follows_in_place_writes_as_in_torch():
    x = t64([1.0, 1.0, 1.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    h.mul_(3)
    (h * h).sum().backward()
    close(h.grad, [12.0, 12.0, 12.0])  # with respect to h's new value
    y = x * 2
    y.retain_grad()
    y[:2].mul_(3)
    (y * y).sum().backward()
    close(y.grad, [12.0, 12.0, 4.0])
    y = x * 2
    v = y[:2]
    v.retain_grad()
    y.mul_(3)
    (v * v).sum().backward()
    close(v.grad, [12.0, 12.0])
