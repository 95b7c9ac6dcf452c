"""Graph passes: each output verifies and computes what its input computed (the interpreter says).

dce, cse and fold must agree exactly; simplify up to rounding (float64, tight tolerance);
fusion only reorders, so exactly again.
"""

from __future__ import annotations

import numpy as np
import sympy
from hypothesis import example, given
from hypothesis import strategies as st

import gradc
from gradc import dtypes
from gradc.ir import Graph, interpret, verify
from gradc.ir.symbols import substitute
from gradc.ops import OPS, get_op
from gradc.passes import PASSES, cse, dce, fold, fuse, optimize, simplify
from gradc.passes.cse import attr_key
from gradc.passes.fold import FOLD_LIMIT
from gradc.shapes import TensorType

N = gradc.Dim("N")
F64 = dtypes.float64


def spec(*shape, dtype=F64):
    return gradc.TensorSpec(shape, dtype)


def random_inputs(graph, n: int = 3, seed: int = 0, positive=()) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for v in graph.inputs:
        shape = substitute(v.type.shape, {N: n})
        name = v.name.lstrip("%")
        if v.type.dtype is dtypes.bool_:
            out[name] = rng.random(shape) > 0.5
        elif v.type.dtype is dtypes.int64:
            out[name] = rng.integers(0, 4, shape)
        else:
            a = rng.standard_normal(shape).astype(v.type.dtype.np)
            out[name] = np.abs(a) + 0.5 if name in positive else a
    return out


def assert_same(before, after, *, exact=True, sizes=(1, 3), positive=()):
    """``after`` verifies and matches ``before`` in the interpreter at several batch sizes."""
    verify(after)
    assert [v.name for v in after.inputs] == [v.name for v in before.inputs]
    for n in sizes:
        args = random_inputs(before, n, seed=n, positive=positive)
        want, got = interpret(before, args), interpret(after, args)
        assert len(want) == len(got)
        for w, g in zip(want, got):
            assert w.dtype == g.dtype and w.shape == g.shape
            if exact:
                np.testing.assert_array_equal(g, w)
            else:
                np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def ops_of(graph) -> list[str]:
    return [n.op.name for n in graph.nodes]


# ---- dce ------------------------------------------------------------------------------------
def test_dce_drops_unused_nodes_only():
    def f(x, y):
        unused = gradc.exp(x) * 3.0  # noqa: F841
        return gradc.tanh(x + y)

    g = gradc.trace(f, spec(N, 3), spec(3))
    out = dce(g)
    assert ops_of(out) == ["add", "tanh"]
    assert len(g.nodes) == 5  # the input graph is untouched
    assert_same(g, out)


# ---- cse ------------------------------------------------------------------------------------
def test_cse_merges_identical_nodes_with_awkward_attrs():
    def f(x):
        a = x[:, 1:3] + x[:, 1:3]  # slices in attrs (unhashable before 3.12)
        b = gradc.sum(gradc.exp(x), (0, 1)) * gradc.sum(gradc.exp(x), (0, 1))
        c = x.permute(1, 0).sum(0) - x.permute(1, 0).sum(0)
        return a.sum() + b + c.sum()

    g = gradc.trace(f, spec(N, 4))
    out = cse(g)
    counts = {k: ops_of(out).count(k) for k in ("getitem", "exp", "sum", "permute")}
    assert counts == {"getitem": 1, "exp": 1, "sum": 4, "permute": 1}
    assert_same(g, out)


def _const_graph(values, op="add"):
    g = Graph("consts")
    x = g.add_input("x", TensorType(F64, (3,)))
    acc = x
    for value in values:
        c = g.lift(gradc.tensor(value, dtype=F64)) if isinstance(value, list) else None
        if c is None:
            attrs = {"shape": (3,), "value": value, "dtype": F64}
            c = g.add_node(get_op("full"), [], attrs, TensorType(F64, (3,)))
        acc = g.add_node(get_op(op), [acc, c], {}, TensorType(F64, (3,)))
    g.outputs = [acc]
    return g


def test_cse_keys_keep_meanings_apart():
    assert attr_key(0.0) != attr_key(-0.0)
    assert attr_key(1) != attr_key(1.0) != attr_key(True)
    assert attr_key(slice(0, 3, 1)) == attr_key(slice(0, 3, 1)) != attr_key(slice(0, 3, 2))
    assert attr_key(np.arange(3.0)) == attr_key(np.arange(3.0))
    assert attr_key(np.arange(3.0)) != attr_key(np.arange(3))
    assert attr_key(N + 1) == attr_key(N + 1)
    g = _const_graph([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 4.0], 0.0, -0.0, 0.0], "div")
    out = cse(g)
    assert ops_of(out).count("constant") == 2  # equal arrays merge, a different one does not
    assert ops_of(out).count("full") == 2  # 0.0 and -0.0 differ (x / -0.0 is -inf)
    assert_same(g, out)


# ---- fold -----------------------------------------------------------------------------------
def test_fold_evaluates_constant_subgraphs_exactly():
    c = np.array([[1.0, 2.0], [3.0, 4.0]])
    g = Graph("consts")  # built by hand: tracing runs ops on concrete tensors eagerly
    x = g.add_input("x", TensorType(F64, (N, 2)))
    t = TensorType(F64, (2, 2))
    k = g.add_node(get_op("constant"), [], {"value": c}, t)
    e = g.add_node(get_op("exp"), [k], {}, t)
    m = g.add_node(get_op("matmul"), [e, k], {}, t)
    s = g.add_node(get_op("sum"), [m], {"dim": (0,)}, TensorType(F64, (2,)))
    y = g.add_node(get_op("mul"), [x, s], {}, TensorType(F64, (N, 2)))
    g.outputs = [y]
    out = fold(g)
    assert ops_of(out) == ["constant", "mul"]
    np.testing.assert_array_equal(out.nodes[0].attrs["value"], (np.exp(c) @ c).sum(0))
    assert_same(g, out)


def test_fold_turns_ops_on_fulls_into_fulls():
    def f(x):
        return x + gradc.ones_like(x) * 2.0 - gradc.zeros_like(x).exp().reshape(-1, 1)

    g = gradc.trace(f, spec(N, 1))
    out = fold(g)
    fulls = [(n.attrs["value"], n.out.type.shape) for n in out.nodes if n.op.name == "full"]
    assert fulls == [(2.0, (N, 1)), (1.0, (N, 1))]  # symbolic shapes kept
    assert ops_of(out).count("full") == len(out.nodes) - 2
    assert_same(g, out)


def test_fold_uniform_results_become_full_and_large_ones_stay():
    g = Graph("sizes")
    x = g.add_input("x", TensorType(F64, (4,)))
    three = g.add_node(get_op("constant"), [], {"value": np.array(3.0)}, TensorType(F64, ()))
    outs = []
    for n in (4, FOLD_LIMIT + 1):
        t = TensorType(F64, (n,))
        ones = g.add_node(get_op("constant"), [], {"value": np.ones(n)}, t)
        prod = g.add_node(get_op("mul"), [ones, three], {}, t)
        total = g.add_node(get_op("sum"), [prod], {"dim": (0,)}, TensorType(F64, ()))
        outs.append(g.add_node(get_op("add"), [x, total], {}, TensorType(F64, (4,))))
    g.outputs = outs
    out = fold(g)
    assert ops_of(out).count("mul") == 1  # the big product is left to run time
    assert [n.attrs["value"] for n in out.nodes if n.op.name == "full"] == [12.0]
    assert_same(g, out)


def test_fold_leaves_symbolic_values_alone():
    def f(x):
        return x.mean(0)  # divides by a full holding N

    g = gradc.trace(f, spec(N, 3))
    out = fold(g)
    assert ops_of(out) == ops_of(g)
    assert_same(g, out)


# ---- simplify -------------------------------------------------------------------------------
def test_simplify_removes_identities():
    def f(x, y, c):
        a = gradc.neg(-(x * 1.0 + 0.0))  # x
        b = gradc.where(gradc.ones_like(c, dtype=gradc.bool), y, c)  # y (a constant condition)
        return a * gradc.ones_like(x), b

    g = gradc.trace(f, spec(N, 3), spec(N, 3), spec(N, 3))
    out = simplify(fold(g))
    assert ops_of(out) == []  # both outputs are inputs now
    assert [v.name for v in out.outputs] == ["%x", "%y"]
    assert_same(g, out, exact=False)


def test_simplify_fuses_a_chain_into_one_registered_op():
    def f(x, y):
        return gradc.sigmoid(gradc.tanh(x * 2.0 + y) - 1.0)

    g = gradc.trace(f, spec(N, 3), spec(3))
    out = simplify(g)
    (node,) = [n for n in out.nodes if n.op.kind == "pointwise"]
    assert node.op is OPS[node.op.name] and node.op.name.startswith("fused_")
    assert node.op.meta["parts"][0] == "sigmoid" and len(node.inputs) == 2
    assert_same(g, out, exact=False)
    again = simplify(gradc.trace(f, spec(N, 3), spec(3)))
    assert [n.op for n in again.nodes] == [n.op for n in out.nodes]  # reused by expression


def test_simplify_prefers_a_known_op_and_keeps_dtype():
    def f(x):
        return gradc.relu(x * 1.0 + 0.0), gradc.exp(x.float() * 1.0)

    g = gradc.trace(f, spec(N, 3))
    out = simplify(g)
    assert sorted(ops_of(out)) == ["cast", "exp", "relu"]
    assert out.outputs[1].type.dtype is dtypes.float32
    assert_same(g, out, exact=False)


def test_simplify_keeps_shapes_when_a_broadcast_operand_vanishes():
    def f(x, big):
        return x + big * 0.0  # sympy: x + 0 = x; the result must still be [N,3]

    g = gradc.trace(f, spec(3), spec(N, 3))
    out = simplify(g)
    assert ops_of(out) == ["expand"]
    assert_same(g, out, exact=False)


def test_simplify_removes_and_merges_views():
    def f(x):
        a = x.reshape(x.shape).permute(1, 0).permute(1, 0)  # x
        b = x.permute(1, 0).permute(1, 0).t()  # one permute
        c = x.reshape(-1).reshape(3, -1)  # one reshape
        d = gradc.sum(x, 1, keepdim=True).reshape(x.shape[0])  # sum without keepdim
        return a.double(), b, c, d

    g = gradc.trace(f, spec(N, 3))
    out = simplify(g)
    assert sorted(ops_of(out)) == ["permute", "reshape", "sum"]
    (s,) = [n for n in out.nodes if n.op.name == "sum"]
    assert s.attrs["keepdim"] is False
    assert_same(g, out)


UNARY = ["exp", "tanh", "sigmoid", "relu", "neg", "abs", "sin", "cos"]
BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "pow"]
CLAMP = {"maximum": "clamp_min", "minimum": "clamp_max"}


@given(
    st.lists(
        st.tuples(st.sampled_from(UNARY + BINARY), st.sampled_from(["x", "y", 1.0, 0.0, 0.5, 2.0])),
        min_size=1,
        max_size=4,
    )
)
# sympy folds these nested Piecewises into an ITE condition over inputs of different shapes
@example([("minimum", "x"), ("tanh", "x"), ("maximum", 0.5), ("maximum", "y")])
# an inf in the middle of a chain must survive a later "* 0" (nan, not 0)
@example([("div", 0.0), ("exp", "x"), ("mul", 0.0)])
def test_property_pointwise_chains_simplify_to_the_same_values(program):
    """Random chains of pointwise ops (operands: inputs or constants) keep their values."""

    def f(x, y):
        env = {"x": x, "y": y}
        acc = x
        for op, operand in program:
            fn = getattr(gradc, op)
            if op in UNARY:
                acc = fn(acc)
            elif op == "pow":  # integer powers only: sympy's (x**a)**b = x**(a*b) holds there
                acc = fn(acc, 2.0)
            elif operand in env:
                acc = fn(acc, env[operand])
            else:  # torch.maximum takes tensors only; a number bound is clamp's
                acc = getattr(gradc, CLAMP.get(op, op))(acc, operand)
        return acc

    g = gradc.trace(f, spec(N, 3), spec(3))
    out, _ = optimize(g)
    assert len(out.nodes) <= len(g.nodes)
    with np.errstate(all="ignore"):
        assert_same(g, out, exact=False, sizes=(2,))


# ---- fusion and the pipeline ----------------------------------------------------------------
def mlp_step(x, w, b, target):
    h = gradc.relu(x @ w + b)
    return ((h - target) ** 2).mean()


def test_fusion_groups_epilogues_prologues_and_views():
    g = gradc.trace(mlp_step, spec(N, 4), spec(4, 5), spec(5), spec(N, 5))
    joint = gradc.joint_graph(g, wrt=["w", "b"])
    out, groups = optimize(joint)
    names = [k.name for k in groups]
    assert names[0].startswith("fused_") and names[0].endswith("_matmul_0")  # epilogue
    assert groups[0].kind == "matmul" and groups[0].anchor.op.name == "matmul"
    parts = {p for n in groups[0].nodes for p in n.op.meta.get("parts", (n.op.name,))}
    assert {"add", "relu"} <= parts
    assert any(k.kind == "reduce" and len(k.nodes) > 1 for k in groups)  # a fused reduction
    assert len(set(names)) == len(names)
    # every non-constant node is in exactly one group, and groups run in graph order
    placed = [n for k in groups for n in k.nodes]
    assert placed == [n for n in out.nodes if n.op.kind != "const"]
    for k in groups:
        inside = {id(n) for n in k.nodes}
        assert all(id(v.node) not in inside for v in k.inputs if v.node is not None)
        assert all(id(v.node) in inside for v in k.outputs)
    assert_same(joint, out, exact=False)


def test_fuse_alone_only_reorders():
    g = gradc.trace(mlp_step, spec(N, 4), spec(4, 5), spec(5), spec(N, 5))
    joint = gradc.joint_graph(g)
    out, groups = fuse(joint)
    assert sorted(ops_of(out)) == sorted(ops_of(joint))
    assert_same(joint, out)


def test_every_pass_output_verifies_and_agrees():
    g = gradc.trace(mlp_step, spec(N, 4), spec(4, 5), spec(5), spec(N, 5))
    graph = gradc.joint_graph(g)
    for name, p in PASSES:
        new = p(graph)
        assert_same(graph, new, exact=name != "simplify")
        graph = new


def test_passes_keep_the_joint_graphs_notes():
    g = gradc.trace(mlp_step, spec(N, 4), spec(4, 5), spec(5), spec(N, 5))
    joint = gradc.joint_graph(g)
    out = dce(cse(joint))
    assert out.meta["num_forward_nodes"] == joint.meta["num_forward_nodes"]
    assert out.meta["backward_start"] is out.nodes[out.meta["num_forward_nodes"]]
    assert [v.name for v in out.inputs_of("tangent")] == ["%tangents_1"]
    assert "# backward" in str(out)
    assert all(v.graph is out for v in out.meta["saved"])


def test_symbolic_shapes_survive_the_pipeline():
    g = gradc.trace(mlp_step, spec(N, 4), spec(4, 5), spec(5), spec(N, 5))
    out, _ = optimize(gradc.joint_graph(g))
    assert any(
        isinstance(d, sympy.Basic) and N in d.free_symbols
        for n in out.nodes
        for d in n.out.type.shape
    )
    assert_same(gradc.joint_graph(g), out, exact=False, sizes=(1, 7))


def lenet_step_joint():
    """The joint graph of LeNet's training step (cross-entropy), float64, batch N."""
    from examples.lenet import LeNet

    class Step(gradc.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = LeNet().double()

        def forward(self, x, target):
            return gradc.nn.functional.cross_entropy(self.net(x), target)

    g = gradc.trace(Step(), spec(N, 1, 32, 32), spec(N, dtype=dtypes.int64))
    return gradc.joint_graph(g)


def test_lenet_training_step_acceptance():
    """Acceptance 4: every pass's output verifies; the optimized step has fewer nodes, its
    kernels include conv + relu, and it computes the same loss and gradients."""
    joint = verify(lenet_step_joint())
    graph = joint
    for _, p in PASSES:
        graph = verify(p(graph))
    fused, groups = fuse(graph)
    verify(fused)
    assert len(fused.nodes) < len(joint.nodes)
    names = [k.name for k in groups]
    assert names.count("fused_relu_conv2d_0") == 1 and any("matmul" in n for n in names)
    args = random_inputs(joint, 2)
    args["target"] = np.array([3, 7])
    want, got = interpret(joint, args), interpret(fused, args)
    assert len(want) == 11  # the loss and ten parameter gradients
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_every_pass_keeps_input_and_output_roles():
    import gradc.nn as nn

    net = nn.Linear(4, 2)
    net.register_buffer("shift", gradc.zeros(2))
    opt = gradc.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

    def step(x):
        opt.zero_grad()
        loss = ((net(x) + net.shift) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    step(gradc.randn(3, 4))  # the optimizer's state exists: the steady-state step
    g = gradc.trace(step, spec(N, 4, dtype=gradc.float32))
    want_in = [(v.name, v.role) for v in g.inputs]
    want_out = list(zip(g.output_names, g.roles()))
    assert {r.kind for _, r in want_in} == {"input", "param", "buffer", "hyper", "opt_state"}
    for stage in (dce(g), cse(g), optimize(g)[0]):
        assert [(v.name, v.role) for v in stage.inputs] == want_in
        assert list(zip(stage.output_names, stage.roles())) == want_out


@given(st.integers(0, 2**16))
def test_max_pool_values_read_off_the_kept_argmax(seed):
    """A graph computing max_pool2d and its indices scans once (values gathered at the argmax)
    and means the same: NaN windows, -inf windows and ties included; padded pools are kept."""
    from gradc.passes.pool import share_pool_indices

    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([0.0, 1.0, -1.0, np.nan, -np.inf, np.inf]), (2, 3, 6, 6))
    for attrs in (
        dict(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1)),
        dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 0), dilation=(1, 1)),
    ):

        def f(t, attrs=attrs):
            return gradc.dispatch.apply("max_pool2d", t, **attrs), gradc.dispatch.apply(
                "max_pool2d_indices", t, **attrs
            )

        g = gradc.trace(f, gradc.TensorSpec((2, 3, 6, 6), dtypes.float64))
        h = share_pool_indices(g)
        verify(h)
        ops = [n.op.name for n in h.nodes]
        assert ("max_pool2d" in ops) == bool(attrs["padding"][0])
        for a, b in zip(interpret(h, x), interpret(g, x)):
            np.testing.assert_array_equal(a, b)
