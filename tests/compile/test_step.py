"""A whole LeNet training step compiled into one graph tracks the eager step."""

import copy
import sys
from pathlib import Path

import numpy as np
import pytest

import gradc
import gradc.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from lenet import LeNet  # noqa: E402

from tests.compile.steps import train_step  # noqa: E402

f64 = gradc.float64


def _arrays(t):
    return None if t is None else t.detach().numpy()


def _assert_same(net, ref, opt, ropt, tol):
    for (name, p), q in zip(net.named_parameters(), ref.parameters()):
        np.testing.assert_allclose(_arrays(p), _arrays(q), rtol=0, atol=tol, err_msg=name)
        np.testing.assert_allclose(_arrays(p.grad), _arrays(q.grad), rtol=0, atol=tol)
        a, b = opt.state[p], ropt.state[q]
        assert a.keys() == b.keys(), name
        for k in a:
            np.testing.assert_allclose(_arrays(a[k]), _arrays(b[k]), rtol=0, atol=tol)


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda ps: gradc.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
        lambda ps: gradc.optim.Adam(ps, lr=2e-3, amsgrad=True, weight_decay=1e-3),
    ],
    ids=["sgd", "adam"],
)
def test_lenet_training_step_tracks_eager_for_ten_steps(backend, make_opt):
    gradc.manual_seed(0)
    net = LeNet().double()
    ref = copy.deepcopy(net)
    opt, ropt = make_opt(net.parameters()), make_opt(ref.parameters())
    step = gradc.compile(train_step(net, opt), backend=backend)
    eager = train_step(ref, ropt)
    batches = [3, 3, 3, 5, 5, 2, 4, 4, 1, 3]
    warm = None
    for i, b in enumerate(batches):
        x, y = gradc.randn(b, 1, 32, 32, dtype=f64), gradc.randint(0, 10, (b,))
        if i == 4:  # a checkpoint restored mid-run, and a new learning rate
            state = {k: v * 0.5 for k, v in ref.state_dict().items()}
            net.load_state_dict(state)
            ref.load_state_dict(state)
        if i == 6:
            for o in (opt, ropt):
                o.param_groups[0]["lr"] *= 0.3
        loss, ref_loss = step(x, y), eager(x, y)
        assert abs(loss.item() - ref_loss.item()) <= 1e-10
        _assert_same(net, ref, opt, ropt, 1e-10)
        if i == 1:
            warm = step.compiles  # the first step creates the optimizer state and .grad
    assert warm == 2 and step.compiles == 2  # no recompile for batch sizes, lr or a checkpoint


def test_recompile_log_names_the_failed_guard(backend, capsys, monkeypatch):
    monkeypatch.setenv("GRADC_LOG", "recompiles")
    net = gradc.nn.Linear(4, 2).double()
    f = gradc.compile(lambda x: net(x).sum(), backend=backend)
    f(gradc.randn(3, 4, dtype=f64))
    f(gradc.randn(5, 4, dtype=f64))  # batch size: no recompile
    assert f.compiles == 1 and capsys.readouterr().err == ""
    with pytest.raises(gradc.GradcError):
        f(gradc.randn(3, 5, dtype=f64))  # a new non-batch size recompiles (and net rejects it)
    err = capsys.readouterr().err
    assert err.count("recompiling") == 1 and "x.shape[1]: 4 -> 5" in err
    with pytest.raises(gradc.GradcError):
        f(gradc.randn(3, 4))  # float32: a recompile (and a dtype error from the f64 weights)
    assert "x.dtype: 'float64' -> 'float32'" in capsys.readouterr().err


def test_python_values_and_rank_are_guards(backend):
    f = gradc.compile(lambda x, k: (x * k).sum(), backend=backend)
    x = gradc.randn(2, 3, dtype=f64)
    assert f(x, 2).item() == pytest.approx((x * 2).sum().item())
    assert f(x, 3).item() == pytest.approx((x * 3).sum().item())
    f(gradc.randn(2, 3, 1, dtype=f64), 3)
    assert f.compiles == 3


def test_an_unknown_backend_names_the_known_ones():
    with pytest.raises(gradc.GradcError, match="unknown backend 'tpu'; choose one of interpret"):
        gradc.compile(lambda x: x, backend="tpu")


def test_optimizer_state_made_by_the_first_call_is_a_guard(backend):
    """Grads already exist before the first call, so only the state's keys tell the first
    (state-creating) step from the steady one: found by the README example."""
    gradc.manual_seed(2)
    net = gradc.nn.Linear(3, 2).double()
    ref = copy.deepcopy(net)
    for m in (net, ref):
        m(gradc.randn(4, 3, dtype=f64)).sum().backward()
    opt, ropt = (gradc.optim.Adam(m.parameters(), lr=0.1) for m in (net, ref))

    def make(m, o):
        def step(x):
            o.zero_grad()
            loss = m(x).pow(2).sum()
            loss.backward()
            o.step()
            return loss

        return step

    step, eager = gradc.compile(make(net, opt), backend=backend), make(ref, ropt)
    for _ in range(3):
        x = gradc.randn(4, 3, dtype=f64)
        assert abs(step(x).item() - eager(x).item()) < 1e-12
    _assert_same(net, ref, opt, ropt, 1e-12)
    assert step.compiles == 2 and opt.state[net.weight]["step"].item() == 3


def test_a_step_that_returns_nothing(backend):
    net = gradc.nn.Linear(2, 1).double()
    opt = gradc.optim.SGD(net.parameters(), lr=0.5)
    before = net.weight.detach().numpy().copy()

    @gradc.compile(backend=backend)
    def step(x):
        opt.zero_grad()
        net(x).sum().backward()
        opt.step()

    x = gradc.ones(3, 2, dtype=f64)
    assert step(x) is None
    np.testing.assert_allclose(net.weight.detach().numpy(), before - 0.5 * 3.0)


def test_a_compiled_module_inside_a_compiled_step_is_traced_through(backend):
    gradc.manual_seed(4)
    net = gradc.nn.Linear(3, 2).double()
    ref = copy.deepcopy(net)
    inner = gradc.compile(net, backend=backend)
    opt, ropt = (gradc.optim.SGD(m.parameters(), lr=0.1, momentum=0.5) for m in (net, ref))
    step = gradc.compile(train_step(inner, opt, F.mse_loss), backend=backend)
    eager = train_step(ref, ropt, F.mse_loss)
    for b in (2, 3, 2):
        x, y = gradc.randn(b, 3, dtype=f64), gradc.randn(b, 2, dtype=f64)
        assert abs(step(x, y).item() - eager(x, y).item()) < 1e-12
    _assert_same(net, ref, opt, ropt, 1e-12)
    assert inner.compiles == 0 and step.compiles == 2


def test_branching_on_the_batch_size_specialises_instead_of_failing(backend):
    def f(x):
        return x.sum() if x.shape[0] > 2 else x.mean()

    c = gradc.compile(f, backend=backend)
    for b in (1, 4, 4, 2, 1, 4):
        x = gradc.randn(b, 3, dtype=f64)
        assert c(x).item() == pytest.approx(f(x).item(), abs=1e-12)
    assert c.compiles == 3  # one graph per batch size now: 1, 4, 2


def test_dynamic_false_specialises_on_every_batch_size(backend):
    net = gradc.nn.Linear(3, 1).double()
    c = gradc.compile(lambda x: net(x).sum(), backend=backend, dynamic=False)
    for b in (2, 2, 3):
        c(gradc.randn(b, 3, dtype=f64))
    assert c.compiles == 2
    g = c.entries[0].traced.graph
    assert str(g.inputs[0].type) == "f64[2,3]"


def test_zero_grad_in_place_and_gradient_clipping_inside_the_step(backend):
    gradc.manual_seed(6)
    net = gradc.nn.Linear(3, 2).double()
    ref = copy.deepcopy(net)
    opt, ropt = (gradc.optim.SGD(m.parameters(), lr=0.1) for m in (net, ref))

    def make(m, o):
        def step(x, y):
            o.zero_grad(set_to_none=False)  # .grad read and zeroed in place: an input
            loss = F.mse_loss(m(x), y)
            loss.backward()
            for p in m.parameters():
                p.grad.clamp_(-0.05, 0.05)
            o.step()
            return loss

        return step

    step, eager = gradc.compile(make(net, opt), backend=backend), make(ref, ropt)
    for b in (4, 4, 2):
        x, y = gradc.randn(b, 3, dtype=f64), gradc.randn(b, 2, dtype=f64)
        assert abs(step(x, y).item() - eager(x, y).item()) < 1e-12
        _assert_same(net, ref, opt, ropt, 1e-12)


def test_parameter_groups_each_have_their_own_learning_rate_input(backend):
    gradc.manual_seed(7)
    net = gradc.nn.Sequential(gradc.nn.Linear(3, 4), gradc.nn.Linear(4, 1)).double()
    ref = copy.deepcopy(net)

    def groups(m):
        return [{"params": m[0].parameters(), "lr": 0.1}, {"params": m[1].parameters()}]

    opt = gradc.optim.Adam(groups(net), lr=0.01, maximize=True)
    ropt = gradc.optim.Adam(groups(ref), lr=0.01, maximize=True)
    step, eager = (
        gradc.compile(train_step(net, opt, F.mse_loss), backend=backend),
        train_step(ref, ropt, F.mse_loss),
    )
    for i in range(4):
        if i == 2:
            for o in (opt, ropt):
                o.param_groups[1]["lr"] = 0.2
        x, y = gradc.randn(3, 3, dtype=f64), gradc.randn(3, 1, dtype=f64)
        assert abs(step(x, y).item() - eager(x, y).item()) < 1e-12
        _assert_same(net, ref, opt, ropt, 1e-12)
    text = str(step.entries[-1].traced.graph)
    assert "hyper %opt.group0.lr" in text and "hyper %opt.group1.lr" in text
    assert step.compiles == 2
