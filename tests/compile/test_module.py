"""``gradc.compile(module)``: the ordinary training loop works unchanged on the compiled module."""

import copy

import numpy as np
import pytest

import gradc
import gradc.nn as nn
import gradc.nn.functional as F

f64 = gradc.float64


def _net():
    gradc.manual_seed(1)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()


def test_the_compiled_module_is_the_module_for_everything_but_calling(backend):
    net = _net()
    c = gradc.compile(net, backend=backend)
    assert repr(c) == repr(net)
    assert list(c.state_dict()) == list(net.state_dict())
    assert [id(p) for p in c.parameters()] == [id(p) for p in net.parameters()]
    assert c.eval() is c and not net.training
    c.train()
    assert net.training and c[0] is net[0]


def test_the_ordinary_loop_accumulates_grads_as_eager(backend):
    net = _net()
    ref = copy.deepcopy(net)
    c = gradc.compile(net, backend=backend)
    opt = gradc.optim.SGD(c.parameters(), lr=0.1)
    ropt = gradc.optim.SGD(ref.parameters(), lr=0.1)
    for b in (5, 5, 2, 7):
        x, y = gradc.randn(b, 4, dtype=f64), gradc.randint(0, 3, (b,))
        for model, o in ((c, opt), (ref, ropt)):
            o.zero_grad()
            out = model(x)
            F.cross_entropy(out, y).backward()
            F.cross_entropy(model(x), y).backward()  # .grad accumulates over two backward()s
            o.step()
            if model is c:
                assert out.grad_fn.name() == "CompiledFunctionBackward"
        for p, q in zip(net.parameters(), ref.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=0, atol=1e-12)
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), atol=1e-12)
    assert c.compiles == 1


def test_input_gradients_flow_into_the_eager_tape(backend):
    net = _net()
    c = gradc.compile(net, backend=backend)
    x = gradc.randn(3, 4, dtype=f64, requires_grad=True)
    (c(x * 2).sum() * 3).backward()
    x2 = x.detach().requires_grad_()
    (net(x2 * 2).sum() * 3).backward()
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), atol=1e-12)


def test_mode_requires_grad_and_grad_mode_are_guards(backend):
    net = _net()
    c = gradc.compile(net, backend=backend)
    x = gradc.randn(3, 4, dtype=f64)
    c(x)
    c.eval()
    c(x)
    net[0].weight.requires_grad_(False)
    out = c(x)
    out.sum().backward()
    assert net[0].weight.grad is None and net[2].weight.grad is not None
    with gradc.no_grad():
        assert c(x).grad_fn is None
    assert c.compiles == 4


def test_backward_twice_needs_retain_graph(backend):
    c = gradc.compile(_net(), backend=backend)
    loss = c(gradc.randn(2, 4, dtype=f64)).sum()
    loss.backward()
    with pytest.raises(gradc.AutogradError, match="second time"):
        loss.backward()


def test_an_in_place_change_before_backward_is_caught_and_create_graph_refused(backend):
    net = _net()
    c = gradc.compile(net, backend=backend)
    assert c.double() is c  # methods that return the module return the compiled one
    loss = c(gradc.randn(2, 4, dtype=f64)).sum()
    with gradc.no_grad():
        net[2].weight.mul_(2.0)  # the backward reads it (layer 0's input gradient)
    with pytest.raises(gradc.AutogradError, match="modified by an in-place operation"):
        loss.backward()
    loss = c(gradc.randn(2, 4, dtype=f64)).sum()
    with pytest.raises(gradc.AutogradError, match="create_graph"):
        loss.backward(create_graph=True)
    with pytest.raises(TypeError, match="positional"):
        c(x=gradc.randn(2, 4, dtype=f64))


def test_a_deep_copy_is_an_independent_compiled_module(backend):
    c = gradc.compile(_net(), backend=backend)
    x = gradc.randn(2, 4, dtype=f64)
    c(x)
    d = copy.deepcopy(c)
    with gradc.no_grad():
        d[0].weight.mul_(0.0)
    assert not np.array_equal(c(x).detach().numpy(), d(x).detach().numpy())
    np.testing.assert_allclose(d(x).detach().numpy(), d._orig_mod(x).detach().numpy())
