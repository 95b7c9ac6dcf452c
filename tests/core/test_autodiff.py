"""The differentiation pass: backward graphs traced from the ops' vjp rules equal eager autograd."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

import gradc
from gradc.errors import GradcError
from gradc.ir import interpret, interpret_dict, verify
from gradc.ir.symbols import substitute

HERE = os.path.basename(__file__)
ROOT = Path(__file__).resolve().parents[2]
N = gradc.Dim("N")
rng = np.random.default_rng(0)


def _eager_grads(f, arrays, tangent=None):
    xs = [gradc.tensor(a, requires_grad=True) for a in arrays]
    out = f(*xs)
    t = np.ones(out.shape) if tangent is None else tangent
    grads = gradc.autograd.grad(out, xs, gradc.tensor(t, dtype=gradc.float64), allow_unused=True)
    return out.detach().numpy(), [
        np.zeros(a.shape) if g is None else g.numpy() for a, g in zip(arrays, grads)
    ]


# name -> (function, input shapes with a symbolic batch N)
CASES = {
    "fan_out_broadcast": (lambda x, b: (x * b + x.tanh() * x).sum(1), [(N, 3), (3,)]),
    "matmul_vector": (lambda x, w: gradc.sigmoid(x @ w) * x.mean(), [(N, 4), (4,)]),
    "getitem_cat_stack": (
        lambda x: gradc.cat([x[:, 1:], x[:, :1] * 2], 1) + gradc.stack([x, x], 0).sum(0),
        [(N, 3)],
    ),
    "amax_minimum_where": (
        lambda x, y: gradc.where(x > y, x.amax(1, keepdim=True), gradc.minimum(x, y)).exp(),
        [(N, 2), (N, 2)],
    ),
    "log_div_pow": (lambda x: (x * x + 1).log() / (x.abs() + 2) ** 1.5, [(N, 2, 2)]),
    "permute_reshape": (lambda x: x.permute(2, 0, 1).reshape(-1, 2).relu() @ x[0], [(N, 2, 2)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_backward_graph_matches_eager_at_several_batch_sizes(name):
    f, shapes = CASES[name]
    graph = gradc.trace(f, *[gradc.TensorSpec(s, gradc.float64) for s in shapes])
    backward = gradc.grad_graph(graph, recompute=True)  # inputs: primals, then tangents_1
    for n in (1, 5):
        arrays = [rng.standard_normal([n if d == N else d for d in s]) for s in shapes]
        tangent = rng.standard_normal(substitute(graph.outputs[0].type.shape, {N: n}))
        want_out, want = _eager_grads(f, arrays, tangent)
        np.testing.assert_array_equal(interpret(graph, *arrays)[0], want_out)
        got = interpret(backward, *arrays, tangent)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


def test_joint_graph_and_partition():
    f, shapes = CASES["fan_out_broadcast"]
    graph = gradc.trace(f, *[gradc.TensorSpec(s, gradc.float64) for s in shapes])
    joint = gradc.joint_graph(graph)
    assert [v.name for v in joint.inputs] == ["%x", "%b", "%tangents_1"]
    assert joint.output_names == ["out", "x.grad", "b.grad"]
    saved = joint.meta["saved"]
    assert all(
        v.node is None or joint.nodes.index(v.node) < joint.meta["num_forward_nodes"] for v in saved
    )
    text = str(joint)
    assert "  # backward; saved from forward: %x, %b\n" in text  # tanh is recomputed, not saved
    fwd, bwd = gradc.partition(joint)
    assert fwd.output_names[0] == "out" and len(fwd.outputs) == 1 + fwd.meta["num_saved"]
    assert [v.name for v in bwd.inputs][-1] == "%tangents_1"
    x, b, t = rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal(4)
    everything = interpret_dict(joint, x, b, t)
    values = {**interpret_dict(fwd, x, b), "x": x, "b": b, "tangents_1": t}
    split = interpret(bwd, {v.name[1:]: values[v.name[1:]] for v in bwd.inputs})
    np.testing.assert_array_equal(values["out"], everything["out"])
    np.testing.assert_array_equal(split[0], everything["x.grad"])
    np.testing.assert_array_equal(split[1], everything["b.grad"])


def test_second_and_third_derivatives_match_eager_create_graph():
    def f(x, w):
        return ((x @ w).tanh() * x.sin().sum()).sum()

    x, w = rng.standard_normal((3, 2)), rng.standard_normal((2, 2))
    graph = gradc.trace(f, *[gradc.TensorSpec(a.shape, gradc.float64) for a in (x, w)])
    g1 = gradc.grad_graph(graph, wrt=["x"], recompute=True)  # (x, w, tangents_1) -> x.grad
    g2 = gradc.grad_graph(g1, wrt=["x", "w"], recompute=True)  # + tangents_2 -> x.grad, w.grad
    assert [v.name for v in g2.inputs] == ["%x", "%w", "%tangents_1", "%tangents_2"]
    v = rng.standard_normal(x.shape)
    hx, hw = interpret(g2, x, w, 1.0, v)

    tx, tw = gradc.tensor(x, requires_grad=True), gradc.tensor(w, requires_grad=True)
    (gx,) = gradc.autograd.grad(f(tx, tw), tx, create_graph=True)
    (gx * gradc.tensor(v)).sum().backward()
    np.testing.assert_allclose(hx, tx.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hw, tw.grad.numpy(), rtol=1e-12, atol=1e-14)

    g3 = gradc.grad_graph(g2, wrt=["w"], recompute=True)  # third order: d(v.H.u)/dw
    for g in (g1, g2, g3):
        verify(g)
    u = rng.standard_normal(x.shape)
    (third,) = interpret(g3, x, w, 1.0, v, u, np.zeros_like(w))
    tx.grad = tw.grad = None
    (gx,) = gradc.autograd.grad(f(tx, tw), tx, create_graph=True)
    (hv,) = gradc.autograd.grad((gx * gradc.tensor(v)).sum(), tx, create_graph=True)
    (hv * gradc.tensor(u)).sum().backward()
    np.testing.assert_allclose(third, tw.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_backward_nodes_point_at_forward_lines_and_rules():
    def f(x):
        y = x.exp()
        return (y * y).sum()

    graph = gradc.trace(f, gradc.TensorSpec((2,), gradc.float64))
    text = str(gradc.grad_graph(graph))
    lines = {n.loc for n in graph.nodes}
    assert len(lines) == 2 and all(HERE in loc for loc in lines)
    assert "vjp(exp)" in text and "vjp(mul)" in text and "vjp(sum)" in text
    assert f"{HERE}:" in text


def test_wrt_defaults_zero_gradients_repeats_and_errors():
    class Scale:
        def __init__(self):
            self.s = gradc.tensor([2.0], dtype=gradc.float64, requires_grad=True)

        def named_parameters(self):
            return [("s", self.s)]

        def __call__(self, x, unused):
            return (x * self.s).sum()

    g = gradc.trace(Scale(), gradc.ones(3, dtype=gradc.float64), gradc.ones(2, dtype=gradc.float64))
    assert gradc.grad_graph(g).output_names == ["s.grad"]  # a module: its parameters
    b = gradc.grad_graph(g, wrt=["unused", 0])
    assert b.output_names == ["unused.grad", "x.grad"]
    zeros, gx = interpret(b, {"s": np.array([2.0]), "tangents_1": 1.0})
    np.testing.assert_array_equal(zeros, np.zeros(2))
    np.testing.assert_array_equal(gx, [2.0, 2.0, 2.0])

    twice = gradc.trace(lambda x: (x.exp(), x.exp() * 1.0, x), gradc.ones(2, dtype=gradc.float64))
    dup = gradc.trace(lambda x: (x.sin(),) * 2, gradc.ones(2, dtype=gradc.float64))
    (gd,) = interpret(gradc.grad_graph(dup), np.zeros(2), np.ones(2), np.full(2, 3.0))
    np.testing.assert_array_equal(gd, [4.0, 4.0])  # an output returned twice: tangents add
    assert len(twice.outputs) == 3

    with pytest.raises(GradcError, match="only float inputs have gradients"):
        gradc.grad_graph(gradc.trace(lambda i: i * 2, gradc.tensor([1, 2])), wrt=["i"])
    with pytest.raises(GradcError, match="wrt='nope' is not an input"):
        gradc.grad_graph(g, wrt="nope")


def _load_lenet():
    path = ROOT / "examples" / "lenet.py"
    spec = importlib.util.spec_from_file_location("lenet_example", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.LeNet


def test_lenet_traced_once_matches_eager_at_batch_1_7_64():
    """Acceptance 3: one trace with a symbolic batch; forward and gradients to 1e-10 (f64)."""
    import gradc.nn.functional as F

    gradc.manual_seed(0)
    net = _load_lenet()().double()
    params = [p for _, p in net.named_parameters()]

    def loss(x, y):
        return F.cross_entropy(net(x), y)

    specs = (gradc.TensorSpec((N, 1, 32, 32), gradc.float64), gradc.TensorSpec((N,), gradc.int64))
    forward = gradc.trace(net, specs[0])
    batched = [n for n in forward.nodes if n.op.name != "permute"]  # permute: of a weight
    assert all(str(n.out.type).startswith("f64[N,") for n in batched)
    assert str(forward.outputs[0].type) == "f64[N,10]"
    graph = gradc.trace(loss, *specs, params=net)
    joint = gradc.joint_graph(graph)
    fwd, bwd = gradc.partition(joint)
    for g in (forward, graph, joint, fwd, bwd):
        verify(g)
    assert bwd.output_names == [f"{n}.grad" for n, _ in net.named_parameters()]
    for n in (1, 7, 64):
        x, y = rng.standard_normal((n, 1, 32, 32)), rng.integers(0, 10, n)
        arrays = [p.detach().numpy() for p in params]
        (logits,) = interpret(forward, x, *arrays)
        for p in params:
            p.grad = None
        eager = loss(gradc.tensor(x), gradc.tensor(y))
        eager.backward()
        np.testing.assert_allclose(
            logits, net(gradc.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12
        )
        values = {**interpret_dict(fwd, x, y, *arrays), "x": x, "y": y, "tangents_1": 1.0}
        values.update({name: p.detach().numpy() for name, p in net.named_parameters()})
        np.testing.assert_allclose(values["out"], eager.item(), rtol=1e-10)
        grads = interpret(bwd, {v.name[1:]: values[v.name[1:]] for v in bwd.inputs})
        for g, p in zip(grads, params):
            np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_save_policy_recomputes_views_and_pointwise_and_computes_the_argmax_once():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
    from lenet import LeNet

    net = LeNet().double()
    g = gradc.trace(
        lambda x, y: gradc.nn.functional.cross_entropy(net(x), y),
        gradc.TensorSpec((N, 1, 32, 32), gradc.float64),
        gradc.TensorSpec((N,), gradc.int64),
    )
    fwd, bwd = gradc.partition(gradc.joint_graph(g))
    saved = [v.node.op.name for v in fwd.outputs[1:]]
    # the expensive values only: no relu, no transposed weight; log_softmax's output, which its
    # gradient reads (as torch's LogSoftmaxBackward does)
    want = ["conv2d", "log_softmax", "matmul", "max_pool2d", "max_pool2d_indices", "sum"]
    assert sorted(set(saved)) == want
    assert saved.count("max_pool2d_indices") == 2
    assert "max_pool2d_indices" not in [n.op.name for n in bwd.nodes]  # computed once, forward
    x = rng.standard_normal((3, 1, 32, 32))
    y = np.array([1, 7, 3])
    outs = interpret(fwd, x, y, *[p.detach().numpy() for p in net.parameters()])
    feed = dict(zip(fwd.output_names, outs)) | {"tangents_1": 1.0}
    feed |= {f"net.{k}": p.detach().numpy() for k, p in net.named_parameters()} | {"x": x, "y": y}
    grads = interpret(bwd, {v.name[1:]: feed[v.name[1:]] for v in bwd.inputs})
    loss = gradc.nn.functional.cross_entropy(net(gradc.tensor(x)), gradc.tensor(y))
    loss.backward()
    for got, p in zip(grads, net.parameters()):
        np.testing.assert_allclose(got, p.grad.numpy(), rtol=1e-12, atol=1e-14)
