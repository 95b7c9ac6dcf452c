"""Acceptance 3: SGD (momentum, dampening, Nesterov, weight decay) and Adam match a numpy
reference of torch's update rules to 1e-6 over several steps, updating parameters in place."""

from __future__ import annotations

import numpy as np
import pytest

import gradc
from gradc import optim
from tests.optim import reference

A = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]])
B = np.array([0.2, -0.4, 1.1])


def loss(ps):
    """A non-quadratic loss so gradients change from step to step."""
    w, b = ps
    a, bb = gradc.tensor(A, dtype=gradc.float64), gradc.tensor(B, dtype=gradc.float64)
    return ((w * a).sum() - 1) ** 2 + (gradc.tanh(b) * bb).sum() + (w * w * w).sum() * 0.1


def grads_np(ps):
    w, b = ps
    gw = 2 * ((w * A).sum() - 1) * A + 0.3 * w * w
    gb = (1 - np.tanh(b) ** 2) * B
    return [gw, gb]


def start():
    return [np.linspace(-1, 1, 6).reshape(2, 3), np.array([0.3, -0.2, 0.5])]


def run(opt_cls, steps, **kwargs):
    params = [gradc.nn.Parameter(gradc.tensor(p, dtype=gradc.float64)) for p in start()]
    storage = [p._data for p in params]
    opt = opt_cls(params, **kwargs)
    for _ in range(steps):
        opt.zero_grad()
        loss(params).backward()
        opt.step()
    assert all(p._data is s for p, s in zip(params, storage))  # updated in place
    return [p.detach().numpy() for p in params], opt


SGD_CASES = [
    dict(lr=0.05),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.8, nesterov=True),
    dict(lr=0.05, momentum=0.9, weight_decay=0.1),
    dict(lr=0.03, momentum=0.5, nesterov=True, weight_decay=0.01),
]


@pytest.mark.parametrize(
    "kwargs", SGD_CASES, ids=lambda k: ",".join(f"{a}={v}" for a, v in k.items())
)
def test_sgd_matches_reference(kwargs):
    got, _ = run(optim.SGD, 6, **kwargs)
    want = reference.sgd(start(), grads_np, 6, **kwargs)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-6)
        assert not np.allclose(g, start()[0] if g.ndim == 2 else start()[1])


ADAM_CASES = [
    dict(lr=0.01),
    dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.02, amsgrad=True),
]


@pytest.mark.parametrize(
    "kwargs", ADAM_CASES, ids=lambda k: ",".join(f"{a}={v}" for a, v in k.items())
)
def test_adam_matches_reference(kwargs):
    got, opt = run(optim.Adam, 7, **kwargs)
    want = reference.adam(start(), grads_np, 7, **kwargs)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-6)
    state = opt.state[opt.param_groups[0]["params"][0]]
    assert state["step"].item() == 7 and set(state) >= {"exp_avg", "exp_avg_sq"}


def test_maximize_ascends():
    p = gradc.nn.Parameter(gradc.tensor([1.0]))
    opt = optim.SGD([p], lr=0.1, maximize=True)
    (p * 2).sum().backward()
    opt.step()
    assert p.item() == pytest.approx(1.2)


def test_params_without_grad_are_left_alone():
    a, b = gradc.nn.Parameter(gradc.ones(2)), gradc.nn.Parameter(gradc.ones(2))
    opt = optim.Adam([a, b], lr=0.1)
    a.sum().backward()
    opt.step()
    assert (b.detach().numpy() == 1).all() and (a.detach().numpy() < 1).all()
    assert b not in opt.state
