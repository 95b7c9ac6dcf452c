"""The view x in-place table of view_cases.py run on PyTorch and gradc side by side: values,
gradients, versions and which calls raise must agree. Skipped when torch is not installed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradc
from tests.core.view_cases import BASE, INPLACE, SCALE, VIEWS, WEIGHTS

torch = pytest.importorskip("torch")


class Lib:
    """What a case needs of a tensor library, for gradc and torch alike."""

    def __init__(self, mod, f64, errors):
        self.mod, self.f64, self.errors = mod, f64, errors

    def t(self, a, requires_grad=False):
        return self.mod.tensor(np.asarray(a), dtype=self.f64, requires_grad=requires_grad)


GRADC = Lib(gradc, gradc.float64, gradc.GradcError)
TORCH = Lib(torch, torch.float64, RuntimeError)


def _np(t):
    return None if t is None else np.asarray(t.detach().numpy())


def _outcome(fn, lib):
    try:
        return "ok", fn(lib)
    except lib.errors as e:
        return "raises", type(e).__name__


def _agree(fn):
    got, want = _outcome(fn, GRADC), _outcome(fn, TORCH)
    assert got[0] == want[0], f"gradc {got}, torch {want}"
    if got[0] == "ok":
        for a, b in zip(got[1], want[1]):
            if b is None or isinstance(b, (int, bool, str)):
                assert a == b
            else:
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def _mode_case(view, op, mode):
    def run(lib):
        x = lib.t(BASE, requires_grad=mode != "nograd")
        y = x * SCALE if mode == "nonleaf" else x
        if mode == "leaf_no_grad":
            with lib.mod.no_grad():
                INPLACE[op][0](VIEWS[view][0](y))
            return _np(y), y._version
        v = VIEWS[view][0](y)
        INPLACE[op][0](v)
        out = [_np(y), _np(v), v._version, y._version, y.requires_grad]
        if mode == "nonleaf":
            (y * lib.t(WEIGHTS)).sum().backward()
            out += [_np(x.grad), type(y.grad_fn).__name__]
        return out

    return run


@pytest.mark.parametrize("mode", ["nograd", "nonleaf", "leaf", "leaf_no_grad"])
@pytest.mark.parametrize("op", INPLACE)
@pytest.mark.parametrize("view", VIEWS)
def test_view_inplace_table_agrees_with_torch(view, op, mode):
    _agree(_mode_case(view, op, mode))


@pytest.mark.parametrize("view", VIEWS)
def test_copy_and_setitem_agree_with_torch(view):
    def run(lib):
        x = lib.t(BASE, requires_grad=True)
        y = x * SCALE
        v = VIEWS[view][0](y)
        src = lib.t(np.arange(v.numel()).reshape(tuple(v.shape)) + 0.5, requires_grad=True)
        v.copy_(src)
        z = x * 1
        z[:, 1:] = src.sum() * 2
        ((y + z) * lib.t(WEIGHTS)).sum().backward()
        return _np(y), _np(z), _np(x.grad), _np(src.grad)

    _agree(run)


SAVERS = {
    "mul_self": lambda y: y * y,
    "sum": lambda y: y.sum(),
    "add": lambda y: y + 1,
    "reshape": lambda y: y.reshape(6),
    "getitem": lambda y: y[1:],
    "amax": lambda y: y.amax(),
    "exp_of_view": lambda y: y[0].exp(),
    "matmul": lambda y: y @ y.t(),
}


@pytest.mark.parametrize("writer", ["slice", "int", "permute", "reshape", "ellipsis"])
@pytest.mark.parametrize("saver", SAVERS)
def test_backward_after_a_write_through_a_view_agrees_with_torch(saver, writer):
    """Which saved values backward checks: an error exactly where torch raises."""

    def run(lib):
        x = lib.t(BASE, requires_grad=True)
        y = x * 2
        w = SAVERS[saver](y)
        VIEWS[writer][0](y).add_(1)
        w.sum().backward()
        return (_np(x.grad),)

    _agree(run)


@pytest.mark.parametrize(
    "fn",
    [
        lambda t: t.exp(),
        lambda t: t.tanh(),
        lambda t: t.sigmoid(),
        lambda t: t.sqrt(),
        lambda t: t.relu(),
        lambda t: t.amax(0),
        lambda t: t * 2,
        lambda t: t.reshape(6),
    ],
)
def test_writing_an_op_output_then_backward_agrees_with_torch(fn):
    def run(lib):
        x = lib.t(BASE, requires_grad=True)
        v = fn(x)
        v.mul_(2)
        v.sum().backward()
        return (_np(x.grad),)

    _agree(run)


@pytest.mark.parametrize(
    "write",
    [
        lambda y: y[1:].copy_(y[:2]),
        lambda y: y[1:].mul_(y[:2]),
        lambda y: y[1:].add_(y[1:]),
        lambda y: y[::2].add_(y[1::2]),
        lambda y: y.copy_(y),
        lambda y: y.view(2, 2).copy_(y.view(2, 2).t()),
        lambda y: y[:1].expand(3).add_(1),
        lambda y: y[:2].copy_(y[2:]),
    ],
)
def test_memory_overlap_refusals_agree_with_torch(write):
    def run(lib):
        y = lib.t([1.0, 2.0, 3.0, 4.0])
        write(y)
        return (_np(y),)

    _agree(run)


@given(st.data())
def test_random_programs_of_views_and_writes_agree_with_torch(data):
    """A few steps, each taking a view of y (or of an earlier view) and writing through it,
    sometimes with an operand read from another view taken earlier; the loss reads y and every
    view taken. Values, gradients and raise-or-not must match torch."""
    steps = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(sorted(VIEWS)),
                st.sampled_from(sorted(INPLACE) + ["mul_view", "copy_view", "save", "exp"]),
                st.booleans(),
                st.integers(0, 3),
            ),
            min_size=1,
            max_size=4,
        )
    )
    grad_mode = data.draw(st.sampled_from(["nonleaf", "no_grad_writes"]))

    def run(lib):
        x = lib.t(BASE, requires_grad=True)
        y = x * SCALE
        taken, saved = [y], []
        for view, op, of_view, k in steps:
            src = taken[k % len(taken)] if of_view else y
            if tuple(src.shape) != (2, 3):  # the table's views are of [2, 3] tensors
                src = y
            v = VIEWS[view][0](src)
            taken.append(v)
            other = taken[(k + 1) % len(taken)]
            if grad_mode == "no_grad_writes":
                ctx = lib.mod.no_grad()
            else:
                ctx = lib.mod.enable_grad()
            with ctx:
                if op == "save":
                    saved.append((v * other.sum()).sum())  # saves v and other
                elif op == "exp":
                    saved.append(v.exp().sum())  # saves exp's output only
                elif op == "mul_view":
                    v.mul_(other.sum() * 0.1)
                elif op == "copy_view":
                    v.copy_(other.sum() + 1)
                else:
                    INPLACE[op][0](v)
        loss = (y * lib.t(WEIGHTS)).sum() + sum((t * t).sum() for t in taken[1:]) + sum(saved)
        loss.backward()
        return _np(y), _np(x.grad), *[_np(t) for t in taken]

    _agree(run)
