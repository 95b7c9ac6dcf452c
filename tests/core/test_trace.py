"""Tracing: inputs and parameters become graph values, shapes stay symbolic, errors name the
user's line."""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

import gradc
from gradc.errors import GradcError, ShapeError, TraceError
from gradc.ir import interpret

HERE = os.path.basename(__file__)


def line_of(fn, text: str) -> int:
    """The line number of the first source line of ``fn`` containing ``text``."""
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, s in enumerate(lines) if text in s)


class Linear:
    """A minimal module (no gradc.nn): named_parameters is all tracing asks of a module."""

    def __init__(self, n_in, n_out, dtype=gradc.float64):
        self.weight = gradc.randn(n_out, n_in, dtype=dtype, requires_grad=True)
        self.bias = gradc.zeros(n_out, dtype=dtype, requires_grad=True)

    def named_parameters(self):
        return [("weight", self.weight), ("bias", self.bias)]

    def __call__(self, x):
        return x @ self.weight.t() + self.bias


class Net:
    def __init__(self):
        self.fc1, self.fc2 = Linear(12, 8), Linear(8, 3)

    def named_parameters(self):
        return [
            (f"{m}.{n}", p) for m in ("fc1", "fc2") for n, p in getattr(self, m).named_parameters()
        ]

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        x = x.view(-1, self.num_flat_features(x))
        x = gradc.relu(self.fc1(x))
        return self.fc2(x)

    def num_flat_features(self, x):
        n = 1
        for s in x.size()[1:]:
            n *= s
        return n


def test_parameters_are_named_inputs_and_restored():
    net = Net()
    before = [p._data for _, p in net.named_parameters()]
    g = gradc.trace(net, gradc.TensorSpec((gradc.Dim("N"), 3, 4), gradc.float64))
    assert [v.name for v in g.inputs] == [
        "%x", "%fc1.weight", "%fc1.bias", "%fc2.weight", "%fc2.bias"
    ]  # fmt: skip
    params = ["%fc1.weight", "%fc1.bias", "%fc2.weight", "%fc2.bias"]
    assert [v.name for v in g.inputs_of("param")] == params
    assert not any(n.op.name == "constant" for n in g.nodes)  # weights are not baked in
    assert [p._data for _, p in net.named_parameters()] == before
    assert str(g.outputs[0].type) == "f64[N,3]"
    reshape = next(n for n in g.nodes if n.op.name == "reshape")
    assert str(reshape.out.type) == "f64[N,12]"  # view(-1, x.size()[1:] product) stays symbolic
    assert reshape.loc.endswith(f"{HERE}:{line_of(Net.forward, 'view(')}")


def test_parameters_restored_when_tracing_fails():
    net = Net()
    before = [p._data for _, p in net.named_parameters()]
    with pytest.raises(ShapeError):
        gradc.trace(net, gradc.TensorSpec((2, 5), gradc.float64))  # 5 features, fc1 wants 12
    assert [p._data for _, p in net.named_parameters()] == before
    assert not gradc.dispatch._trace_stack


def test_input_kinds_and_dynamic():
    f = lambda a, b: a * b.sum()  # noqa: E731
    x = gradc.ones(4, 3)
    g = gradc.trace(f, x, ((gradc.Dim("M"),), gradc.float64))
    assert [str(v) for v in g.inputs] == ["%a: f32[4,3]", "%b: f64[M]"]
    g = gradc.trace(f, x, x, dynamic=True)
    assert [str(v.type) for v in g.inputs] == ["f32[N,3]", "f32[N,3]"]
    g = gradc.trace(f, x, x, dynamic={1: "C"})
    assert [str(v.type) for v in g.inputs] == ["f32[4,C]", "f32[4,C]"]
    g = gradc.trace(f, x, x, dynamic=[{0: "B"}, None])
    assert [str(v.type) for v in g.inputs] == ["f32[B,3]", "f32[4,3]"]
    g = gradc.trace(lambda *xs: xs[0] + xs[1], x, np.ones((4, 3), np.float32))
    assert [v.name for v in g.inputs] == ["%xs0", "%xs1"]
    g = gradc.trace(lambda x, scale: x * scale, x, 2.0)  # non-tensors are plain Python values
    assert len(g.inputs) == 1 and any(n.op.name == "constant" for n in g.nodes)


def test_params_argument_for_a_loss_function():
    net = Net()

    def loss(x, y):
        return ((net(x) - y) ** 2).mean()

    specs = gradc.TensorSpec((5, 12), gradc.float64), gradc.TensorSpec((5, 3), gradc.float64)
    g = gradc.trace(loss, *specs, params=net)
    assert [v.name for v in g.inputs][2:] == [
        "%fc1.weight",
        "%fc1.bias",
        "%fc2.weight",
        "%fc2.bias",
    ]
    x, y = np.ones((5, 12)), np.zeros((5, 3))
    params = [p.detach().numpy() for _, p in net.named_parameters()]
    (out,) = interpret(g, x, y, *params)
    assert out == loss(gradc.tensor(x), gradc.tensor(y)).item()


def test_shape_control_flow_traces_value_control_flow_raises_at_the_users_line():
    def on_shape(x):
        if x.shape[1] == 3:  # static dim: fine
            return x * 2
        return x

    g = gradc.trace(on_shape, gradc.TensorSpec((gradc.Dim("N"), 3)))
    assert [n.op.name for n in g.nodes] == ["constant", "mul"]

    def on_value(x):
        y = x.sum()
        if y > 0:
            return x
        return -x

    with pytest.raises(TraceError) as e:
        gradc.trace(on_value, gradc.ones(3))
    msg = str(e.value)
    assert "bool(tensor)" in msg and "gradc.where" in msg
    assert f"{HERE}:{line_of(on_value, 'if y > 0')}: if y > 0:" in msg

    def on_symbol(x):
        if x.shape[0] > 1:  # undecidable for a symbolic N
            return x
        return x * 2

    with pytest.raises(TraceError) as e:
        gradc.trace(on_symbol, gradc.ones(3, 2), dynamic=True)
    assert f"{HERE}:{line_of(on_symbol, 'x.shape[0] > 1')}" in str(e.value)
    assert "symbolic dimension" in str(e.value)


class Mismatch:
    def named_parameters(self):
        return [("w", self.w)]

    def __init__(self):
        self.w = gradc.ones(4, 5)

    def __call__(self, x):
        h = x.relu()
        return h @ self.w  # x has 3 features, w expects 4


def test_shape_mismatch_names_the_line_in_forward():
    with pytest.raises(ShapeError) as e:
        gradc.trace(Mismatch(), gradc.TensorSpec((gradc.Dim("N"), 3)))
    msg = str(e.value)
    assert f"{HERE}:{line_of(Mismatch.__call__, 'h @ self.w')}: return h @ self.w" in msg
    assert "matmul" in msg and "f32[N,3]" in msg


def test_symbolic_creation_and_mean_land_in_the_graph():
    def f(x):
        return x - x.mean(0) + gradc.ones_like(x)

    g = gradc.trace(f, gradc.TensorSpec((gradc.Dim("N"), 2)))
    fulls = [n for n in g.nodes if n.op.name == "full"]
    assert {str(n.out.type) for n in fulls} == {"f32[]", "f32[N,2]"}
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(interpret(g, x)[0], f(gradc.tensor(x)).numpy())


def test_outputs_tuple_dict_and_errors():
    g = gradc.trace(lambda x: (x, x + 1), gradc.ones(2))
    assert g.outputs[0] is g.inputs[0] and g.output_names is None
    g = gradc.trace(lambda x: {"a": x.exp()}, gradc.ones(2))
    assert g.output_names == ["a"]
    with pytest.raises(TraceError, match="must return Tensors"):
        gradc.trace(lambda x: x.shape, gradc.ones(2))
    with pytest.raises(TraceError, match="dynamic="):
        gradc.trace(lambda x: x, gradc.ones(2), dynamic="N")
    with pytest.raises(GradcError):
        gradc.trace(lambda x: x.numpy(), gradc.ones(2))
