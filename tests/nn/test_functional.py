"""nn.functional: losses and softmax against numpy, gradients against finite differences,
tracing with a symbolic batch, and errors that name the call."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from hypothesis import given
from hypothesis import strategies as st

import gradc
import gradc.nn as nn
import gradc.nn.functional as F
from gradc._tensor import Tensor
from gradc.ir import Graph
from gradc.shapes import TensorType
from gradc.testing import gradcheck
from gradc.testing.strategies import tensors


def _log_softmax_np(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


@st.composite
def classification(draw, max_classes=5, extra_dims=True):
    """float64 logits ``[N, C(, d)]`` that require grad, int64 targets, options."""
    n, c = draw(st.integers(1, 4)), draw(st.integers(2, max_classes))
    extra = (draw(st.integers(1, 3)),) if extra_dims and draw(st.booleans()) else ()
    logits = draw(tensors(gradc.float64, shape=(n, c, *extra), requires_grad=True))
    target = draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n))
    target = np.array(target * int(np.prod(extra, dtype=int)), dtype=np.int64)
    target = gradc.tensor(target.reshape(-1, n).T.reshape(n, *extra))
    weight = draw(st.none() | st.lists(st.floats(0.5, 2.0), min_size=c, max_size=c))
    weight = None if weight is None else gradc.tensor(weight, dtype=gradc.float64)
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    return logits, target, weight, reduction


@given(classification())
def test_cross_entropy_gradient_matches_finite_differences(case):
    logits, target, weight, reduction = case
    assert gradcheck(lambda x: F.cross_entropy(x, target, weight, reduction=reduction), logits)


@given(classification(extra_dims=False), st.integers(-1, 4))
def test_cross_entropy_matches_numpy(case, ignore):
    logits, target, weight, reduction = case
    x, t = logits.detach().numpy(), target.numpy()
    w = np.ones(x.shape[1]) if weight is None else weight.numpy()
    logp = _log_softmax_np(x, 1)
    keep = t != ignore
    per = -logp[np.arange(len(t)), t] * w[t] * keep
    with np.errstate(invalid="ignore"):
        mean = per.sum() / (w[t] * keep).sum()
    expected = {"none": per, "sum": per.sum(), "mean": mean}[reduction]
    got = F.cross_entropy(logits, target, weight, ignore_index=ignore, reduction=reduction)
    if reduction == "mean" and not keep.any():
        assert np.isnan(got.item())  # torch gives nan too: 0 / 0
    else:
        np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-12, atol=1e-12)


def test_cross_entropy_with_probability_targets():
    x = gradc.randn(3, 4, dtype=gradc.float64, requires_grad=True)
    p = F.softmax(gradc.randn(3, 4, dtype=gradc.float64), 1)
    expected = -(p.numpy() * _log_softmax_np(x.detach().numpy(), 1)).sum(1).mean()
    np.testing.assert_allclose(F.cross_entropy(x, p).item(), expected, rtol=1e-12)
    assert gradcheck(lambda x: F.cross_entropy(x, p), x)


def test_nll_loss_and_modules_agree():
    x = gradc.randn(6, 3, dtype=gradc.float64)
    t = gradc.tensor([0, 2, 1, 1, 0, 2])
    logp = F.log_softmax(x, 1)
    ce = nn.CrossEntropyLoss()(x, t).item()
    assert ce == pytest.approx(nn.NLLLoss()(logp, t).item(), rel=1e-12)
    assert ce == pytest.approx(-_log_softmax_np(x.numpy(), 1)[np.arange(6), t.numpy()].mean())
    w = gradc.tensor([1.0, 2.0, 0.5], dtype=gradc.float64)
    assert nn.CrossEntropyLoss(weight=w, reduction="sum")(x, t).item() == pytest.approx(
        F.nll_loss(logp, t, w, reduction="sum").item()
    )
    assert "weight" in nn.CrossEntropyLoss(weight=w).state_dict()  # a buffer, as in torch


def test_unbatched_cross_entropy():
    x = gradc.randn(5, dtype=gradc.float64)
    t = gradc.tensor(3)
    np.testing.assert_allclose(
        F.cross_entropy(x, t).item(), F.cross_entropy(x.unsqueeze(0), t.unsqueeze(0)).item()
    )


def test_softmax_is_stable_and_normalised():
    x = gradc.tensor([[1000.0, 1001.0, 999.0], [-1000.0, -1000.0, -1000.0]])
    ls = F.log_softmax(x, 1).numpy()
    assert np.isfinite(ls).all()
    np.testing.assert_allclose(ls[1], np.log([1 / 3] * 3), rtol=1e-6)
    s = F.softmax(x, dim=1).numpy()
    np.testing.assert_allclose(s.sum(1), [1.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(s[0], np.exp(ls[0]), rtol=1e-5)
    assert F.softmax(gradc.randn(2, 3, 4)).sum(0).numpy() == pytest.approx(1.0)  # legacy dim 0


@given(tensors(gradc.float64, shape=(3, 4), requires_grad=True), st.sampled_from([0, 1, -1]))
def test_softmax_gradients(x, dim):
    assert gradcheck(lambda x: F.log_softmax(x, dim), x)
    assert gradcheck(lambda x: F.softmax(x, dim), x)


def test_mse_loss_reductions():
    a = gradc.tensor([[1.0, 2.0], [3.0, 5.0]])
    b = gradc.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert F.mse_loss(a, b).item() == pytest.approx((0 + 4 + 9 + 16) / 4)
    assert F.mse_loss(a, b, reduction="sum").item() == 29
    np.testing.assert_array_equal(F.mse_loss(a, b, reduction="none").numpy(), [[0, 4], [9, 16]])
    with pytest.raises(gradc.GradcError, match="reduction must be one of"):
        F.mse_loss(a, b, reduction="avg")


def test_linear_matches_numpy():
    x, w, b = gradc.randn(5, 3), gradc.randn(4, 3), gradc.randn(4)
    np.testing.assert_allclose(
        F.linear(x, w, b).numpy(), x.numpy() @ w.numpy().T + b.numpy(), rtol=1e-5
    )
    assert F.linear(gradc.randn(2, 7, 3), w).shape == (2, 7, 4)


def test_dropout_masks_scale_and_follow_the_seed():
    x = gradc.ones(200, 50)
    gradc.manual_seed(3)
    y = F.dropout(x, 0.3).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((y == 0).mean() - 0.3) < 0.02
    gradc.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, 0.3).numpy(), y)
    assert F.dropout(x, 0.3, training=False) is x
    assert not F.dropout(x, 1.0).numpy().any()
    drop = nn.Dropout(0.5).eval()
    assert drop(x) is x
    with pytest.raises(gradc.GradcError, match="between 0 and 1"):
        nn.Dropout(1.5)
    w = gradc.ones(10, requires_grad=True)
    F.dropout(w, 0.5).sum().backward()
    assert set(np.unique(w.grad.numpy())) <= {0.0, 2.0}


def test_pool_and_conv_argument_forms():
    x = gradc.randn(2, 3, 8, 8)
    w = gradc.randn(4, 3, 3, 3)
    assert F.max_pool2d(x, (2, 2)).shape == F.max_pool2d(x, 2).shape == (2, 3, 4, 4)
    assert F.max_pool2d(x, 3, stride=1, padding=1).shape == (2, 3, 8, 8)
    assert F.avg_pool2d(x, 2, stride=(1, 2)).shape == (2, 3, 7, 4)
    assert F.conv2d(x, w, padding="same").shape == (2, 4, 8, 8)
    assert F.conv2d(x, w, padding="valid").shape == (2, 4, 6, 6)
    assert F.conv2d(x[0], w).shape == (4, 6, 6)  # unbatched [C, H, W], as torch
    assert F.max_pool2d(x[0], 2).shape == (3, 4, 4)
    np.testing.assert_allclose(
        F.avg_pool2d(x, 2).numpy(), x.numpy().reshape(2, 3, 4, 2, 4, 2).mean((3, 5)), rtol=1e-5
    )


def test_errors_name_the_call_and_the_line():
    x = gradc.randn(2, 3, 8, 8)
    with pytest.raises(gradc.ShapeError) as e:
        F.conv2d(x, gradc.randn(4, 2, 3, 3))
    assert "conv2d(f32[2,3,8,8], f32[4,2,3,3])" in str(e.value)
    assert "the input has 3 channels but the weight" in str(e.value)
    assert "test_functional.py" in str(e.value)
    with pytest.raises(gradc.ShapeError, match="does not fit an input of size 8"):
        F.max_pool2d(x, 9)
    with pytest.raises(gradc.ShapeError, match="at most half of the kernel"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(gradc.DTypeError, match="one dtype"):
        F.conv2d(x, gradc.randn(4, 3, 3, 3, dtype=gradc.float64))
    with pytest.raises(gradc.GradcError, match="stride must be >= 1"):
        F.conv2d(x, gradc.randn(4, 3, 3, 3), stride=0)
    with pytest.raises(gradc.GradcError, match="must be int64"):
        F.cross_entropy(gradc.randn(2, 3), gradc.tensor([True, False]))
    with pytest.raises(gradc.ShapeError, match="expects a 3-D or 4-D input"):
        F.max_pool2d(gradc.randn(8, 8), 2)
    with pytest.raises(gradc.ShapeError, match="divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)


def test_lenet_style_model_traces_with_a_symbolic_batch():
    """Shapes that involve the batch stay symbolic: conv/pool sizes, view(-1, 400), the loss."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
    from lenet import LeNet

    from gradc.trace import recording

    n = sympy.Symbol("N", integer=True, positive=True)
    g = Graph()
    x = Tensor._wrap(g.add_input("x", TensorType(gradc.float32, (n, 1, 32, 32))))
    y = Tensor._wrap(g.add_input("y", TensorType(gradc.int64, (n,))))
    net = LeNet()
    with recording(g):  # only the active trace records: a graph nobody traces is dead
        out = net(x)
        assert str(out.type) == "f32[N,10]"
        loss = F.cross_entropy(out, y)
    assert str(loss.type) == "f32[]"
    ops = [node.op.name for node in g.nodes]
    assert ops.count("conv2d") == 2 and ops.count("max_pool2d") == 2
    pool1 = next(node for node in g.nodes if node.op.name == "max_pool2d")
    assert str(pool1.out.type) == "f32[N,6,14,14]"
    assert pool1.attrs == dict(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=(1, 1))


def test_dropout_traces_to_fresh_random_masks_that_passes_keep_apart():
    from gradc.ir import interpret
    from gradc.passes import optimize

    def two_dropouts(x):
        return F.dropout(x, 0.5) + F.dropout(x, 0.5)

    g = gradc.trace(two_dropouts, gradc.TensorSpec((gradc.Dim("N"), 400)))
    opt, _ = optimize(g)
    for graph in (g, opt):  # cse must not merge the two draws, folding must not run them
        assert [n.op.name for n in graph.nodes].count("rand") == 2
    x = np.ones((3, 400), dtype=np.float32)
    gradc.manual_seed(0)
    state = gradc.creation.rng_state().numpy()
    (a, new) = interpret(opt, x, rng=state)  # the RNG state is an input, its successor an output
    (b, _) = interpret(opt, x, rng=new)
    assert set(np.unique(a)) <= {0.0, 2.0, 4.0} and {0.0, 4.0} <= set(np.unique(a))
    assert abs((a == 2.0).mean() - 0.5) < 0.1  # one mask kept the element, the other did not
    assert not np.array_equal(a, b)  # a new state, a new draw
    assert np.array_equal(interpret(opt, x, rng=state)[0], a)  # the same state, the same draw
    eager = two_dropouts(gradc.tensor(x))  # eager mode draws the same stream from the same seed
    assert np.array_equal(eager.numpy(), a)


def test_backward_graph_reads_the_forward_dropout_mask_instead_of_drawing_again():
    def f(x, w):
        return F.dropout(x @ w, 0.5).sum()

    n = gradc.Dim("N")
    g = gradc.trace(f, gradc.TensorSpec((n, 3)), gradc.TensorSpec((3, 4)))
    fwd, bwd = gradc.partition(gradc.joint_graph(g, wrt=["w"]))
    assert "rand" not in [node.op.name for node in bwd.nodes]  # the mask arrives saved
    assert [node.op.name for node in fwd.nodes].count("rand") == 1
    # recomputing redraws from the same RNG-state input: the same mask, so the same gradient
    full = gradc.grad_graph(g, wrt=["w"], recompute=True)
    assert "%rng" in [v.name for v in full.inputs]
    from gradc.ir import interpret

    x, w = np.ones((5, 3), np.float32), np.ones((3, 4), np.float32)
    state, ct = gradc.creation.rng_state().numpy(), np.float32(1.0)
    outs = interpret(fwd, x, w, rng=state)
    saved = dict(zip(fwd.output_names, outs))
    feed = {"x": x, "w": w, "tangents_1": ct, **saved}
    by_saved = interpret(bwd, {v.name[1:]: feed[v.name[1:]] for v in bwd.inputs})
    (again,) = interpret(full, x, w, state, ct)
    assert np.array_equal(by_saved[0], again)
