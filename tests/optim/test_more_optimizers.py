"""AdamW, RMSprop and the lr schedulers against numpy references of torch's rules (and torch
itself where installed); the loss and the runner are test_updates.py's."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradc
from gradc import optim
from gradc.optim import lr_scheduler
from tests.optim.test_updates import grads_np, run, start


def adamw_ref(params, steps, lr, weight_decay=0.01, **kw):
    """AdamW is Adam with the parameters shrunk first: run the Adam oracle one step at a time."""
    params = [p.copy() for p in params]
    b1, b2 = kw.get("betas", (0.9, 0.999))
    eps = kw.get("eps", 1e-8)
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t in range(1, steps + 1):
        grads = grads_np(params)
        for i, (p, g) in enumerate(zip(params, grads)):
            p = p * (1 - lr * weight_decay)
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            denom = np.sqrt(v[i]) / np.sqrt(1 - b2**t) + eps
            params[i] = p - lr / (1 - b1**t) * m[i] / denom
    return params


def rmsprop_ref(
    params, steps, lr, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False
):
    params = [p.copy() for p in params]
    sq = [np.zeros_like(p) for p in params]
    ga = [np.zeros_like(p) for p in params]
    buf = [np.zeros_like(p) for p in params]
    for _ in range(steps):
        grads = grads_np(params)
        for i, (p, g) in enumerate(zip(params, grads)):
            g = g + weight_decay * p
            sq[i] = alpha * sq[i] + (1 - alpha) * g * g
            if centered:
                ga[i] = alpha * ga[i] + (1 - alpha) * g
                avg = np.sqrt(sq[i] - ga[i] ** 2) + eps
            else:
                avg = np.sqrt(sq[i]) + eps
            if momentum > 0:
                buf[i] = momentum * buf[i] + g / avg
                params[i] = p - lr * buf[i]
            else:
                params[i] = p - lr * g / avg
    return params


@pytest.mark.parametrize("kwargs", [dict(lr=0.01), dict(lr=0.05, weight_decay=0.1)])
def test_adamw_matches_reference(kwargs):
    got, _ = run(optim.AdamW, 7, **kwargs)
    for g, w in zip(got, adamw_ref(start(), 7, **kwargs)):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-6)


def test_adamw_differs_from_adam_with_l2():
    got, _ = run(optim.AdamW, 5, lr=0.05, weight_decay=0.5)
    adam, _ = run(optim.Adam, 5, lr=0.05, weight_decay=0.5)
    assert not np.allclose(got[0], adam[0])
    assert optim.AdamW([gradc.nn.Parameter(gradc.ones(1))]).defaults["weight_decay"] == 0.01


RMSPROP_CASES = [
    dict(lr=0.01),
    dict(lr=0.01, alpha=0.9, eps=1e-6),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, centered=True),
    dict(lr=0.005, centered=True, momentum=0.5, weight_decay=0.1),
]


@pytest.mark.parametrize(
    "kwargs", RMSPROP_CASES, ids=lambda k: ",".join(f"{a}={v}" for a, v in k.items())
)
def test_rmsprop_matches_reference(kwargs):
    got, opt = run(optim.RMSprop, 6, **kwargs)
    for g, w in zip(got, rmsprop_ref(start(), 6, **kwargs)):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-6)
    state = opt.state[opt.param_groups[0]["params"][0]]
    assert state["step"].item() == 6 and "square_avg" in state


def test_rmsprop_refuses_negative_rates():
    with pytest.raises(optim.OptimizerError, match="learning rate"):
        optim.RMSprop([gradc.nn.Parameter(gradc.ones(1))], lr=-1)


@pytest.mark.parametrize("name", ["AdamW", "RMSprop"])
def test_against_torch(name):
    torch = pytest.importorskip("torch")
    kwargs = dict(lr=0.02, weight_decay=0.05)
    if name == "RMSprop":
        kwargs.update(momentum=0.5, centered=True)
    got, _ = run(getattr(optim, name), 6, **kwargs)
    ps = [torch.tensor(p, requires_grad=True) for p in start()]
    opt = getattr(torch.optim, name)(ps, **kwargs)
    for _ in range(6):
        opt.zero_grad()
        for p, g in zip(ps, grads_np([p.detach().numpy() for p in ps])):
            p.grad = torch.tensor(g)
        opt.step()
    for g, p in zip(got, ps):
        np.testing.assert_allclose(g, p.detach().numpy(), rtol=0, atol=1e-9)


# ---- schedulers ------------------------------------------------------------------------------
def _opt(lr=0.1):
    return optim.SGD([gradc.nn.Parameter(gradc.ones(1))], lr=lr)


def _rates(sched, n):
    out = []
    for _ in range(n):
        out.append(sched.get_last_lr()[0])
        sched.optimizer.step()
        sched.step()
    return out


def test_step_lr():
    rates = _rates(lr_scheduler.StepLR(_opt(), step_size=3, gamma=0.5), 8)
    np.testing.assert_allclose(rates, [0.1] * 3 + [0.05] * 3 + [0.025] * 2)


def test_cosine_annealing_lr_follows_the_closed_form():
    opt = _opt()
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
    rates = _rates(sched, 11)
    want = [0.01 + 0.09 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)]
    np.testing.assert_allclose(rates, want, rtol=1e-12)
    assert opt.param_groups[0]["initial_lr"] == 0.1


def test_other_schedulers_and_state_dict():
    np.testing.assert_allclose(
        _rates(lr_scheduler.ExponentialLR(_opt(), 0.5), 3), [0.1, 0.05, 0.025]
    )
    np.testing.assert_allclose(
        _rates(lr_scheduler.MultiStepLR(_opt(), [1, 3], 0.1), 4), [0.1, 0.01, 0.01, 0.001]
    )
    np.testing.assert_allclose(
        _rates(lr_scheduler.LambdaLR(_opt(), lambda e: 1 / (e + 1)), 3), [0.1, 0.05, 0.1 / 3]
    )
    sched = lr_scheduler.StepLR(_opt(), 2)
    _rates(sched, 3)
    state = sched.state_dict()
    assert state["last_epoch"] == 3 and "optimizer" not in state
    other = lr_scheduler.StepLR(_opt(), 5)
    other.load_state_dict(state)
    assert other.step_size == 2 and other.last_epoch == 3


@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "ExponentialLR", "MultiStepLR"])
def test_schedulers_against_torch(name):
    torch = pytest.importorskip("torch")
    args = {
        "StepLR": dict(step_size=4, gamma=0.3),
        "CosineAnnealingLR": dict(T_max=7, eta_min=0.001),
        "ExponentialLR": dict(gamma=0.9),
        "MultiStepLR": dict(milestones=[2, 5, 5], gamma=0.5),
    }[name]
    ours = getattr(lr_scheduler, name)(_opt(), **args)
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    theirs = getattr(torch.optim.lr_scheduler, name)(topt, **args)
    for _ in range(20):  # past T_max: the cosine climbs back up as torch's does
        assert ours.get_last_lr()[0] == pytest.approx(theirs.get_last_lr()[0], rel=1e-12)
        topt.step()
        theirs.step()
        ours.optimizer.step()
        ours.step()
