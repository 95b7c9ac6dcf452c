"""The interpreter is the oracle: on a traced graph it must equal eager execution bit for bit.

The property test draws random programs (pointwise ops with broadcasting, reductions, reshapes,
permutes, matmul, indexing, fan-out), runs them eagerly and through trace + interpret, and also
checks the differentiation pass's backward graph against eager ``autograd.grad``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradc
from gradc.errors import DTypeError, GradcError, ShapeError
from gradc.ir import interpret, interpret_dict, verify
from gradc.ir.interpret import run

UNARY = ["tanh", "sin", "sigmoid", "relu", "neg", "exp", "abs"]
BINARY = ["add", "sub", "mul", "maximum"]
REDUCE = ["sum", "mean", "amax"]


def _shapes(min_dims=1, max_dims=3):
    return st.lists(st.integers(1, 4), min_size=min_dims, max_size=max_dims).map(tuple)


def _broadcasts(a, b) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


@st.composite
def programs(draw):
    """(steps, input arrays, output indices); a step reads earlier values by index."""
    inputs, shapes, steps = [], [], []

    def new_input(shape):
        inputs.append(draw(_arrays(shape)))
        steps.append(("input", len(inputs) - 1))
        shapes.append(shape)
        return len(shapes) - 1

    new_input(draw(_shapes()))
    for _ in range(draw(st.integers(1, 7))):
        src = draw(st.integers(0, len(shapes) - 1)) if draw(st.booleans()) else len(shapes) - 1
        shape = shapes[src]
        kind = draw(st.sampled_from(["unary", "binary", "scalar", "reduce", "reshape", "permute",
                                     "matmul", "getitem"]))  # fmt: skip
        if kind == "unary":
            steps.append(("unary", draw(st.sampled_from(UNARY)), src))
            out = shape
        elif kind == "binary":
            others = [k for k, s in enumerate(shapes) if _broadcasts(s, shape)]
            if draw(st.booleans()) or not others:  # a fresh input of a broadcastable shape
                other = new_input(tuple(draw(st.sampled_from([1, d])) for d in shape[1:]))
            else:
                other = draw(st.sampled_from(others))
            pair = (src, other) if draw(st.booleans()) else (other, src)
            steps.append(("binary", draw(st.sampled_from(BINARY)), *pair))
            out = np.broadcast_shapes(shapes[pair[0]], shapes[pair[1]])
        elif kind == "scalar":
            c = draw(st.sampled_from([0.5, -2.0, 3]))
            steps.append(("scalar", draw(st.sampled_from(["mul", "add", "rsub"])), src, c))
            out = shape
        elif kind == "reduce" and shape:
            dims = tuple(sorted(draw(st.sets(st.integers(0, len(shape) - 1), min_size=1))))
            keep = draw(st.booleans())
            steps.append(("reduce", draw(st.sampled_from(REDUCE)), src, dims, keep))
            out = tuple(1 if i in dims else d for i, d in enumerate(shape) if keep or i not in dims)
        elif kind == "reshape" and shape:
            new = draw(st.sampled_from([(-1,), tuple(reversed(shape)), (*shape, 1)]))
            steps.append(("reshape", src, new))
            out = np.empty(shape).reshape(new).shape
        elif kind == "permute" and len(shape) >= 2:
            dims = tuple(draw(st.permutations(range(len(shape)))))
            steps.append(("permute", src, dims))
            out = tuple(shape[d] for d in dims)
        elif kind == "matmul" and len(shape) >= 2:
            w = new_input((shape[-1], draw(st.integers(1, 3))))
            steps.append(("matmul", src, w))
            out = (*shape[:-1], shapes[w][1])
        elif kind == "getitem" and shape:
            d = draw(st.integers(0, len(shape) - 1))
            if draw(st.booleans()):
                item = draw(st.integers(-shape[d], shape[d] - 1))
            else:
                start = draw(st.integers(0, shape[d] - 1))
                item = slice(
                    start, draw(st.integers(start + 1, shape[d])), draw(st.sampled_from([1, 2]))
                )
            index = (slice(None),) * d + (item,)
            steps.append(("getitem", src, index))
            out = np.empty(shape)[index].shape
        else:
            steps.append(("unary", "tanh", src))
            out = shape
        shapes.append(tuple(out))
    outs = [len(shapes) - 1]
    if draw(st.booleans()):
        outs.append(draw(st.integers(0, len(shapes) - 1)))
    return steps, inputs, outs


def _arrays(shape):
    return st.lists(
        st.floats(-2, 2, allow_nan=False, width=64), min_size=int(np.prod(shape)),
        max_size=int(np.prod(shape)),
    ).map(lambda xs: np.array(xs, dtype=np.float64).reshape(shape))  # fmt: skip


def replay(steps, outs):
    """The program as a gradc function of its inputs (eager or traced alike)."""

    def f(*xs):
        vals = []
        for s in steps:
            k = s[0]
            if k == "input":
                v = xs[s[1]]
            elif k == "unary":
                v = getattr(gradc, s[1])(vals[s[2]])
            elif k == "binary":
                v = getattr(gradc, s[1])(vals[s[2]], vals[s[3]])
            elif k == "scalar":
                x, c = vals[s[2]], s[3]
                v = x * c if s[1] == "mul" else c + x if s[1] == "add" else c - x
            elif k == "reduce":
                v = getattr(gradc, s[1])(vals[s[2]], s[3], keepdim=s[4])
            elif k == "reshape":
                v = vals[s[1]].reshape(*s[2])
            elif k == "permute":
                v = vals[s[1]].permute(*s[2])
            elif k == "matmul":
                v = vals[s[1]] @ vals[s[2]]
            else:
                v = vals[s[1]][s[2]]
            vals.append(v)
        return tuple(vals[i] for i in outs)

    return f


@given(programs(), st.integers(0, 2**31 - 1))
def test_interpreter_and_backward_graph_equal_eager(prog, seed):
    steps, arrays, outs = prog
    f = replay(steps, outs)
    xs = [gradc.tensor(a, requires_grad=True) for a in arrays]
    eager = f(*xs)
    graph = gradc.trace(f, *[gradc.tensor(a) for a in arrays])
    got = interpret(graph, *arrays)
    for e, g in zip(eager, got):
        np.testing.assert_array_equal(g, e.detach().numpy())  # exact, NaNs included
        assert g.dtype == np.float64

    rng = np.random.default_rng(seed)
    tangents = [np.asarray(rng.standard_normal(e.shape)) for e in eager]
    roots: dict = {}  # no-op views return the same tensor; eager grad wants each root once
    for e, t in zip(eager, tangents):
        roots[id(e)] = (e, roots[id(e)][1] + t if id(e) in roots else t)
    grads = gradc.autograd.grad(
        [e for e, _ in roots.values()],
        xs,
        [gradc.tensor(t, dtype=gradc.float64) for _, t in roots.values()],
        allow_unused=True,
    )
    want = [np.zeros(x.shape) if g is None else g.numpy() for x, g in zip(xs, grads)]

    joint = gradc.joint_graph(graph)
    fwd, bwd = gradc.partition(joint)
    recomputed = gradc.grad_graph(graph, recompute=True)
    for g in (graph, joint, fwd, bwd, recomputed):
        verify(g)
    assert str(bwd) == str(gradc.grad_graph(graph))
    assert bwd.output_names == [f"{v.name[1:]}.grad" for v in graph.inputs]
    values = interpret_dict(fwd, *arrays)
    values.update({v.name[1:]: a for v, a in zip(graph.inputs, arrays)})
    values.update({f"tangents_{k + 1}": t for k, t in enumerate(tangents)})
    got = interpret(bwd, {v.name[1:]: values[v.name[1:]] for v in bwd.inputs})
    again = interpret(recomputed, *arrays, *tangents)
    for w, g, r in zip(want, got, again):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13)  # fan-out sums may reorder
        np.testing.assert_array_equal(r, g)


# ---- symbolic shapes ------------------------------------------------------------------------
def mlp(x, w1, w2):
    h = gradc.relu(x @ w1)
    flat = h.view(-1, h.size()[1:].numel())
    return flat @ w2


def test_one_trace_serves_every_batch_size():
    rng = np.random.default_rng(0)
    w1, w2 = rng.standard_normal((4, 5)), rng.standard_normal((5, 3))
    graph = gradc.trace(mlp, gradc.TensorSpec((gradc.Dim("N"), 4), gradc.float64), w1, w2)
    assert str(graph.outputs[0].type) == "f64[N,3]"
    for n in (1, 7, 64):
        x = rng.standard_normal((n, 4))
        want = mlp(*(gradc.tensor(a) for a in (x, w1, w2))).numpy()
        (got,) = interpret(graph, x, w1, w2)
        np.testing.assert_array_equal(got, want)


def test_symbols_bind_from_expressions_and_must_agree():
    N = gradc.Dim("N")
    g = gradc.trace(
        lambda a, b: a.reshape(-1) + b, gradc.TensorSpec((N, 2)), gradc.TensorSpec((2 * N,))
    )
    out = interpret(g, np.ones((3, 2), np.float32), np.arange(6, dtype=np.float32))[0]
    np.testing.assert_array_equal(out, np.arange(6) + 1)
    with pytest.raises(ShapeError, match=r"expects \[2\*N\] with N=3"):
        interpret(g, np.ones((3, 2), np.float32), np.ones(5, np.float32))
    g2 = gradc.trace(lambda a: a.sum(), gradc.TensorSpec((2 * N, 3)))
    assert interpret(g2, np.ones((8, 3), np.float32))[0] == 24  # N solved from 2*N = 8


def test_binding_errors_are_clear():
    N = gradc.Dim("N")
    g = gradc.trace(lambda a, b: a + b, gradc.TensorSpec((N, 3)), gradc.TensorSpec((N, 3)))
    a = np.zeros((2, 3), np.float32)
    with pytest.raises(ShapeError, match=r"N is already bound to 2"):
        interpret(g, a, np.zeros((4, 3), np.float32))
    with pytest.raises(ShapeError, match=r"has 1 dims \[3\], but the graph expects 2: \[N,3\]"):
        interpret(g, a, np.zeros(3, np.float32))
    with pytest.raises(ShapeError, match=r"expects \[N,3\]"):
        interpret(g, a, np.zeros((2, 4), np.float32))
    with pytest.raises(DTypeError, match="float64"):
        interpret(g, a, np.zeros((2, 3)))
    with pytest.raises(GradcError, match="missing graph inputs: %b"):
        interpret(g, a)
    with pytest.raises(GradcError, match="no input named 'c'"):
        interpret(g, a, c=a)


def test_named_inputs_tensors_numbers_and_dict_outputs():
    g = gradc.trace(
        lambda x, s: {"y": x * s, "z": x.sum()}, gradc.TensorSpec((2,)), gradc.TensorSpec(())
    )
    x = gradc.tensor([1.0, 2.0])
    out = interpret_dict(g, x=x, s=3.0)
    assert list(out) == ["y", "z"]
    np.testing.assert_array_equal(out["y"], [3.0, 6.0])
    assert out["y"].dtype == np.float32 and out["z"] == 3.0
    env = run(g, {"x": x, "s": 2})
    assert len(env) == len(g.inputs) + len(g.nodes)


def test_constants_and_full_with_symbolic_value():
    const = gradc.tensor([[1.0, 2.0, 3.0]], dtype=gradc.float64)

    def f(x):
        return (x - const).mean() + gradc.zeros_like(x).sum()

    g = gradc.trace(f, gradc.TensorSpec((gradc.Dim("N"), 3), gradc.float64))
    ops = [n.op.name for n in g.nodes]
    assert ops.count("full") == 2  # symbolic zeros and the count 3*N
    assert [v.name for v in g.inputs] == ["%x", "%const"]  # reached by closure: an input
    for n in (1, 5):
        x = np.arange(3.0 * n).reshape(n, 3)
        assert interpret(g, x, const.numpy())[0] == f(gradc.tensor(x)).item()
