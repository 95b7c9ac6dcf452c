"""One regression test per way a trace used to lose eager autograd's meaning or leak state."""

import copy

import numpy as np
import pytest

import gradc
import gradc.nn as nn
import gradc.nn.functional as F
from gradc.ir import interpret, verify

f64 = gradc.float64


def _grad_of(fn, x):
    """d fn / d x through the traced joint graph."""
    g = gradc.trace(fn, gradc.TensorSpec(x.shape, f64))
    return interpret(gradc.grad_graph(g, wrt=["x"], recompute=True), x, 1.0)[0]


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: (x * x.detach()).sum(),
        lambda x: (x * x.data).sum(),
        lambda x: (x * _no_grad_square_root(x)).sum(),
    ],
    ids=["detach", "data", "no_grad"],
)
def test_stop_gradient_is_recorded_and_differentiation_respects_it(fn):
    x = np.array([1.0, -2.0, 3.0])
    t = gradc.tensor(x, requires_grad=True)
    fn(t).backward()
    np.testing.assert_allclose(_grad_of(fn, x), t.grad.numpy(), rtol=0, atol=1e-15)
    g = gradc.trace(fn, gradc.TensorSpec((3,), f64))
    assert "stop_gradient" in [n.op.name for n in g.nodes]


def _no_grad_square_root(x):
    with gradc.no_grad():
        return (x * x).sqrt()


def test_buffers_and_frozen_parameters_get_no_gradient():
    net = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    net[0].weight.requires_grad_(False)
    net[1].register_buffer("scale", gradc.ones(1))
    g = gradc.trace(net, gradc.TensorSpec((4, 3)))
    roles = {v.name: str(v.role) for v in g.inputs}
    assert roles["%0.weight"] == "param frozen" and roles["%1.scale"] == "buffer"
    joint = gradc.joint_graph(g)
    assert joint.output_names[1:] == ["0.bias.grad", "1.weight.grad", "1.bias.grad"]


def test_a_module_reached_through_a_closure_is_lifted_not_baked(backend):
    net = nn.Linear(3, 2).double()
    g = gradc.trace(lambda x: net(x).sum(), gradc.TensorSpec((4, 3), f64))
    assert [str(v.role) for v in g.inputs] == ["input", "param", "param"]
    assert not any(n.op.name == "constant" for n in g.nodes)
    step = gradc.compile(lambda x: net(x).sum(), backend=backend)
    x = gradc.randn(4, 3, dtype=f64)
    first = step(x).item()
    with gradc.no_grad():
        net.weight.mul_(2.0)  # a later weight update must be seen, not a stale constant
    assert step(x).item() == pytest.approx(net(x).sum().item(), abs=1e-12)
    assert step(x).item() != pytest.approx(first)


def test_tracing_a_backward_leaves_no_traced_value_in_grads_or_params():
    net = nn.Linear(3, 1).double()
    before = [p._data for p in net.parameters()]

    def f(x):
        loss = net(x).sum()
        loss.backward()
        return loss

    g = gradc.trace(f, gradc.TensorSpec((2, 3), f64))
    assert all(p.grad is None and not p.is_traced for p in net.parameters())
    assert [p._data for p in net.parameters()] == before
    assert "new(net.weight.grad)" in str(g)
    net(gradc.randn(2, 3, dtype=f64)).sum().backward()  # eager backward afterwards just works
    assert all(not p.grad.is_traced for p in net.parameters())


def test_a_traced_value_that_escapes_its_trace_is_an_error_not_a_dead_graph_append():
    leaked = []

    def f(x):
        leaked.append(x * 2)
        return x.sum()

    g = gradc.trace(f, gradc.TensorSpec((3,)))
    n = len(g.nodes)
    with pytest.raises(gradc.TraceError, match="finished trace"):
        leaked[0] + 1
    assert len(g.nodes) == n


def test_dropout_with_fixed_shapes_is_a_random_op_on_the_rng_state():
    g = gradc.trace(lambda x: F.dropout(x, 0.5), gradc.TensorSpec((4, 5)))
    assert "rand" in [n.op.name for n in g.nodes]
    assert not any(n.op.name == "constant" and n.out.type.shape == (4, 5) for n in g.nodes)
    assert [str(v.role) for v in g.inputs] == ["input", "rng"]
    assert g.roles()[1].kind == "new" and g.output_names[1] == "rng"


def test_in_place_updates_and_an_optimizer_step_trace_as_new_values():
    net = nn.Linear(2, 1).double()
    opt = gradc.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

    def step(x):
        opt.zero_grad()
        loss = net(x).pow(2).sum()
        loss.backward()
        opt.step()
        return loss

    g = verify(gradc.trace(step, gradc.TensorSpec((3, 2), f64)))
    text = str(g)
    assert "hyper %opt.lr: f64[]" in text
    for name in ("net.weight", "net.bias", "net.weight.grad"):
        assert f"new({name})=" in text
    assert "new(opt.state.net.weight.momentum_buffer)=" in text
    assert opt.state[net.weight] == {}  # the trace left the optimizer as it was


class _RunningMean(nn.Module):
    """A buffer updated in forward: in place (``count``) and by reassignment (``mean``)."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3).double()
        self.register_buffer("mean", gradc.zeros(3, dtype=f64))
        self.register_buffer("count", gradc.zeros((), dtype=f64))

    def forward(self, x):
        h = self.lin(x)
        with gradc.no_grad():
            self.mean = 0.9 * self.mean + 0.1 * h.mean(0)
            self.count.add_(1)
        return h - self.mean


def test_buffers_updated_in_forward_are_written_back(backend):
    net = _RunningMean()
    ref = copy.deepcopy(net)
    c = gradc.compile(net, backend=backend)
    for b in (4, 4, 6):
        x = gradc.randn(b, 3, dtype=f64)
        c(x).sum().backward()
        ref(x).sum().backward()
        np.testing.assert_allclose(net.mean.numpy(), ref.mean.numpy(), atol=1e-12)
        np.testing.assert_allclose(net.lin.weight.grad.numpy(), ref.lin.weight.grad.numpy())
    assert net.count.item() == 3 and c.compiles == 1
    assert not net.mean.is_traced and not net.count.is_traced


def test_a_traced_value_stored_where_it_cannot_be_written_back_is_an_error():
    net = nn.Linear(3, 3)

    def f(x):
        net.last = net(x)  # a plain attribute, not a buffer
        return net.last.sum()

    with pytest.raises(gradc.TraceError, match="last"):
        gradc.trace(f, gradc.TensorSpec((2, 3)))


def test_an_error_inside_a_trace_leaves_every_tensor_as_it_was(backend):
    net = nn.Linear(3, 2).double()
    opt = gradc.optim.SGD(net.parameters(), lr=0.1)
    before = [p._data for p in net.parameters()]

    def step(x):
        net(x).sum().backward()
        opt.step()
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        gradc.compile(step, backend=backend)(gradc.randn(2, 3, dtype=f64))
    assert [p._data for p in net.parameters()] == before
    assert all(p.grad is None and p.grad_fn is None for p in net.parameters())
    assert gradc.dispatch.current_graph() is None and opt.state[net.weight] == {}
