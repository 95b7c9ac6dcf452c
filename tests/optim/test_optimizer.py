"""Optimizer mechanics: parameter groups, zero_grad, state dicts, errors, repr."""

from __future__ import annotations

import numpy as np
import pytest

import gradc
import gradc.nn as nn
from gradc import optim


def model():
    gradc.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))


def step(net, opt, x):
    opt.zero_grad()
    (net(x) ** 2).mean().backward()
    opt.step()


def test_param_groups_have_their_own_hyper_parameters():
    net = model()
    opt = optim.SGD(
        [{"params": net[0].parameters()}, {"params": net[2].parameters(), "lr": 0.0}],
        lr=0.1,
        momentum=0.9,
    )
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.0]
    assert opt.param_groups[1]["momentum"] == 0.9  # filled from the defaults
    frozen = net[2].weight.detach().numpy().copy()
    moving = net[0].weight.detach().numpy().copy()
    step(net, opt, gradc.randn(5, 3))
    np.testing.assert_array_equal(net[2].weight.detach().numpy(), frozen)
    assert not np.array_equal(net[0].weight.detach().numpy(), moving)
    opt.add_param_group({"params": [nn.Parameter(gradc.zeros(1))], "lr": 1.0})
    assert len(opt.param_groups) == 3


def test_zero_grad():
    net = model()
    opt = optim.SGD(net.parameters(), lr=0.1)
    (net(gradc.randn(2, 3)) ** 2).sum().backward()
    g = net[0].weight.grad
    opt.zero_grad(set_to_none=False)
    assert net[0].weight.grad is g and not g.numpy().any()
    opt.zero_grad()
    assert all(p.grad is None for p in net.parameters())


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
        lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True),
    ],
)
def test_state_dict_round_trip_continues_identically(make):
    x = gradc.randn(6, 3)
    a = model()
    opt_a = make(a.parameters())
    for _ in range(3):
        step(a, opt_a, x)
    sd = opt_a.state_dict()
    assert sd["param_groups"][0]["params"] == [0, 1, 2, 3] and set(sd["state"]) == {0, 1, 2, 3}

    b = model()
    b.load_state_dict(a.state_dict())
    opt_b = make(b.parameters())
    opt_b.load_state_dict(sd)
    for _ in range(3):
        step(a, opt_a, x)
        step(b, opt_b, x)
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(pa.detach().numpy(), pb.detach().numpy())
    first = opt_a.param_groups[0]["params"][0]
    assert opt_b.state[opt_b.param_groups[0]["params"][0]] is not opt_a.state[first]


def test_load_state_dict_restores_hyper_parameters_and_checks_sizes():
    net = model()
    opt = optim.SGD(net.parameters(), lr=0.1)
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = 0.5
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["lr"] == 0.5
    other = optim.SGD(list(net.parameters())[:2], lr=0.1)
    with pytest.raises(optim.OptimizerError, match="doesn't match the size"):
        other.load_state_dict(sd)


def test_bad_arguments_raise_optimizer_errors():
    ps = list(model().parameters())
    with pytest.raises(optim.OptimizerError, match="Nesterov momentum requires"):
        optim.SGD(ps, lr=0.1, nesterov=True)
    with pytest.raises(optim.OptimizerError, match="Invalid learning rate"):
        optim.SGD(ps, lr=-1)
    with pytest.raises(optim.OptimizerError, match="Invalid beta parameter at index 1"):
        optim.Adam(ps, betas=(0.9, 1.0))
    with pytest.raises(optim.OptimizerError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(optim.OptimizerError, match="more than one parameter group"):
        optim.SGD([{"params": ps}, {"params": ps[:1]}], lr=0.1)
    with pytest.raises(optim.OptimizerError, match="non-leaf"):
        optim.SGD([ps[0] * 2], lr=0.1)
    with pytest.raises(optim.OptimizerError, match="got a Tensor"):
        optim.SGD(ps[0], lr=0.1)
    assert isinstance(optim.OptimizerError("x"), (gradc.GradcError, ValueError))


def test_closure_and_repr():
    net = model()
    opt = optim.Adam(net.parameters(), lr=0.01)

    def closure():
        opt.zero_grad()
        out = (net(gradc.ones(1, 3)) ** 2).sum()
        out.backward()
        return out

    assert opt.step(closure).item() > 0
    text = repr(opt)
    assert text.startswith("Adam (\nParameter Group 0\n") and "    lr: 0.01\n" in text
