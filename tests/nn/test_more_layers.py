"""The layers of activation_more.py, normalization.py, sparse.py, adaptive.py and the ModuleList /
ModuleDict containers: torch's printouts (text copied from torch 2.13), semantics with values
written out, gradients by gradcheck, and torch as a second oracle where installed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradc
import gradc.nn as nn
import gradc.nn.functional as F
from gradc.testing import gradcheck, gradgradcheck
from gradc.testing.strategies import tensors

f64 = gradc.float64

REPRS = [
    (lambda: nn.GELU(), "GELU(approximate='none')"),
    (lambda: nn.GELU("tanh"), "GELU(approximate='tanh')"),
    (lambda: nn.SiLU(), "SiLU()"),
    (lambda: nn.SiLU(True), "SiLU(inplace=True)"),
    (lambda: nn.LeakyReLU(), "LeakyReLU(negative_slope=0.01)"),
    (lambda: nn.LeakyReLU(0.2, True), "LeakyReLU(negative_slope=0.2, inplace=True)"),
    (lambda: nn.ELU(), "ELU(alpha=1.0)"),
    (lambda: nn.ELU(0.5, True), "ELU(alpha=0.5, inplace=True)"),
    (lambda: nn.Identity(), "Identity()"),
    (lambda: nn.Hardtanh(), "Hardtanh(min_val=-1.0, max_val=1.0)"),
    (lambda: nn.ReLU6(), "ReLU6()"),
    (lambda: nn.Softplus(2, 10), "Softplus(beta=2, threshold=10)"),
    (
        lambda: nn.BatchNorm1d(10),
        "BatchNorm1d(10, eps=1e-05, momentum=0.1, affine=True, bias=True, "
        "track_running_stats=True)",
    ),
    (
        lambda: nn.BatchNorm2d(3, affine=False, momentum=None),
        "BatchNorm2d(3, eps=1e-05, momentum=None, affine=False, bias=False, "
        "track_running_stats=True)",
    ),
    (lambda: nn.LayerNorm(10), "LayerNorm((10,), eps=1e-05, elementwise_affine=True, bias=True)"),
    (
        lambda: nn.LayerNorm((3, 4), elementwise_affine=False),
        "LayerNorm((3, 4), eps=1e-05, elementwise_affine=False, bias=False)",
    ),
    (lambda: nn.Embedding(10, 3), "Embedding(10, 3)"),
    (lambda: nn.Embedding(10, 3, padding_idx=0), "Embedding(10, 3, padding_idx=0)"),
    (lambda: nn.AdaptiveAvgPool2d((5, 7)), "AdaptiveAvgPool2d(output_size=(5, 7))"),
    (lambda: nn.AdaptiveAvgPool2d(1), "AdaptiveAvgPool2d(output_size=1)"),
    (
        lambda: nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU()]),
        "ModuleList(\n  (0-2): 3 x Linear(in_features=2, out_features=2, bias=True)\n"
        "  (3): ReLU()\n)",
    ),
    (lambda: nn.ModuleList(), "ModuleList()"),
    (
        lambda: nn.ModuleDict({"a": nn.ReLU(), "b": nn.Linear(1, 1)}),
        "ModuleDict(\n  (a): ReLU()\n  (b): Linear(in_features=1, out_features=1, bias=True)\n)",
    ),
]


@pytest.mark.parametrize("k", range(len(REPRS)), ids=[r[1].split("(")[0] for r in REPRS])
def test_repr_matches_torch_text(k):
    make, text = REPRS[k]
    assert repr(make()) == text


def test_reprs_against_torch():
    torch = pytest.importorskip("torch")  # the texts above were copied from torch; a few live
    assert repr(torch.nn.BatchNorm2d(6)) == repr(nn.BatchNorm2d(6))
    assert repr(torch.nn.LayerNorm(5, bias=False)) == repr(nn.LayerNorm(5, bias=False))
    big = [torch.nn.Linear(2, 2) for _ in range(2)] + [torch.nn.GELU()] * 2
    ours = [nn.Linear(2, 2) for _ in range(2)] + [nn.GELU()] * 2
    assert repr(torch.nn.ModuleList(big)) == repr(nn.ModuleList(ours))


# ---- BatchNorm -------------------------------------------------------------------------------
def test_batchnorm_buffers_and_state_dict():
    bn = nn.BatchNorm2d(3)
    assert list(bn.state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert bn.num_batches_tracked.dtype is gradc.int64
    assert [n for n, _ in bn.named_parameters()] == ["weight", "bias"]
    bn.double()
    assert bn.running_mean.dtype is f64 and bn.num_batches_tracked.dtype is gradc.int64


def test_batchnorm_training_normalises_and_moves_running_stats():
    x = gradc.tensor([[1.0, 10.0], [3.0, 30.0]], dtype=f64)
    bn = nn.BatchNorm1d(2).double()
    y = bn(x)
    scale = 1 / np.sqrt(1 + 1e-5)  # biased variance of [1, 3] is 1
    np.testing.assert_allclose(y.detach().numpy()[:, 0], [-scale, scale])
    np.testing.assert_allclose(bn.running_mean.numpy(), [0.2, 2.0])  # 0.9 * 0 + 0.1 * mean
    np.testing.assert_allclose(bn.running_var.numpy(), [0.9 + 0.2, 0.9 + 20.0])  # unbiased var
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    out = bn(x).detach().numpy()
    expected = (x.numpy() - bn.running_mean.numpy()) / np.sqrt(bn.running_var.numpy() + 1e-5)
    np.testing.assert_allclose(out, expected)
    assert bn.num_batches_tracked.item() == 1  # eval leaves the statistics alone


def test_batchnorm_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(1, momentum=None).double()
    for v in ([1.0, 3.0], [5.0, 7.0]):
        bn(gradc.tensor(v, dtype=f64).reshape(2, 1))
    np.testing.assert_allclose(bn.running_mean.numpy(), [4.0])  # mean of the batch means


def test_batchnorm_without_running_stats_uses_the_batch_in_eval():
    bn = nn.BatchNorm1d(2, track_running_stats=False, affine=False).eval()
    assert bn.running_mean is None and "running_mean" not in bn.state_dict()
    y = bn(gradc.tensor([[1.0, 2.0], [3.0, 6.0]]))
    np.testing.assert_allclose(y.numpy().mean(0), [0, 0], atol=1e-6)


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(gradc.randn(3, 4, 4))
    with pytest.raises(ValueError, match="2D or 3D"):
        nn.BatchNorm1d(3)(gradc.randn(1, 3, 4, 4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(gradc.randn(1, 3))


@st.composite
def _bn_case(draw):
    n, c, h = draw(st.integers(2, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 3))
    x = draw(tensors(f64, shape=(n, c, h, 2), elements=st.floats(-2, 2), requires_grad=True))
    w = draw(tensors(f64, shape=(c,), elements=st.floats(0.5, 2), requires_grad=True))
    b = draw(tensors(f64, shape=(c,), elements=st.floats(-1, 1), requires_grad=True))
    training = draw(st.booleans())
    rm, rv = gradc.zeros(c, dtype=f64), gradc.ones(c, dtype=f64)
    return (lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training, 0.1, 1e-3)), [x, w, b]


@given(_bn_case())
def test_batch_norm_matches_finite_differences(case):
    fn, inputs = case
    assert gradcheck(fn, *inputs, atol=1e-4)


def test_batchnorm_against_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).normal(size=(4, 3, 5, 5))
    ours, theirs = nn.BatchNorm2d(3).double(), torch.nn.BatchNorm2d(3).double()
    for _ in range(2):
        a = ours(gradc.tensor(x, dtype=f64))
        b = theirs(torch.tensor(x))
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-12)
    for key, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key].numpy(), v.numpy(), atol=1e-12)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(
        ours(gradc.tensor(x, dtype=f64)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy()
    )


# ---- LayerNorm -------------------------------------------------------------------------------
def test_layernorm_values_and_errors():
    ln = nn.LayerNorm(2).double()
    y = ln(gradc.tensor([[1.0, 3.0], [0.0, 0.0]], dtype=f64)).detach().numpy()
    np.testing.assert_allclose(y, [[-1 / np.sqrt(1 + 1e-5), 1 / np.sqrt(1 + 1e-5)], [0, 0]])
    with pytest.raises(gradc.ShapeError, match="normalized_shape"):
        ln(gradc.randn(2, 3))


@given(tensors(f64, shape=(2, 3, 4), elements=st.floats(-2, 2), requires_grad=True))
def test_layer_norm_matches_finite_differences(x):
    w = gradc.tensor(np.linspace(0.5, 2, 4), dtype=f64, requires_grad=True)
    b = gradc.tensor(np.linspace(-1, 1, 4), dtype=f64, requires_grad=True)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (4,), w, b, eps=1e-3), x, w, b, atol=1e-4)


# ---- Embedding -------------------------------------------------------------------------------
def test_embedding_lookup_and_padding():
    emb = nn.Embedding(5, 3, padding_idx=0)
    assert (emb.weight.detach().numpy()[0] == 0).all()
    idx = gradc.tensor([[0, 2], [2, 4]])
    out = emb(idx)
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.detach().numpy()[1, 0], emb.weight.detach().numpy()[2])
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.numpy()[:, 0], [0, 0, 2, 0, 1])  # pad: 0
    with pytest.raises(IndexError, match="out of range"):
        emb(gradc.tensor([5]))
    with pytest.raises(gradc.DTypeError, match="int64"):
        emb(gradc.tensor([1.0]))
    assert emb(gradc.tensor([2], dtype=gradc.int32)).tolist() == emb(gradc.tensor([2])).tolist()


def test_embedding_second_derivative():
    w = gradc.randn(4, 2, dtype=f64, requires_grad=True)
    idx = gradc.tensor([1, 3, 1])
    assert gradgradcheck(lambda w: F.embedding(idx, w) ** 2, w)


def test_embedding_from_pretrained():
    emb = nn.Embedding.from_pretrained(gradc.eye(3))
    assert not emb.weight.requires_grad and emb(gradc.tensor([1])).tolist() == [[0.0, 1.0, 0.0]]


# ---- AdaptiveAvgPool2d -----------------------------------------------------------------------
def test_adaptive_avg_pool_uneven_cells_match_torch_values():
    x = gradc.arange(35.0).reshape(1, 1, 5, 7)
    out = nn.AdaptiveAvgPool2d((3, 4))(x)
    expected = [  # printed by torch 2.13
        [4.0, 5.5, 7.5, 9.0],
        [14.5, 16.0, 18.0, 19.5],
        [25.0, 26.5, 28.5, 30.0],
    ]
    np.testing.assert_allclose(out.numpy()[0, 0], expected)
    assert F.adaptive_avg_pool2d(x, 1).shape == (1, 1, 1, 1)
    assert F.adaptive_avg_pool2d(x, (None, 7)).shape == (1, 1, 5, 7)
    even = F.adaptive_avg_pool2d(gradc.arange(16.0).reshape(1, 4, 4), 2)
    assert even.tolist() == [[[2.5, 4.5], [10.5, 12.5]]]


@given(st.sampled_from([(1, 1), (2, 3), (3, 2), (4, 4)]))
def test_adaptive_avg_pool_matches_finite_differences(size):
    x = gradc.randn(1, 2, 5, 4, dtype=f64, requires_grad=True)
    assert gradcheck(lambda x: F.adaptive_avg_pool2d(x, size), x)


# ---- containers ------------------------------------------------------------------------------
def test_module_list_registers_and_behaves_like_a_list():
    layers = nn.ModuleList([nn.Linear(2, 2), nn.ReLU()])
    layers.append(nn.Linear(2, 1))
    layers += [nn.Sigmoid()]
    assert len(layers) == 4 and isinstance(layers[-1], nn.Sigmoid)
    assert [n for n, _ in layers.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    layers.insert(0, nn.Identity())
    assert isinstance(layers[0], nn.Identity) and isinstance(layers[1], nn.Linear)
    assert isinstance(layers.pop(0), nn.Identity) and len(layers) == 4
    del layers[1]
    assert list(layers._modules) == ["0", "1", "2"]
    with pytest.raises(IndexError):
        layers[10]


def test_module_dict_registers_and_behaves_like_a_dict():
    heads = nn.ModuleDict({"cls": nn.Linear(8, 10)})
    heads["box"] = nn.Linear(8, 4)
    assert list(heads) == ["cls", "box"] and "box" in heads and len(heads) == 2
    assert [n for n, _ in heads.named_parameters()][:2] == ["cls.weight", "cls.bias"]
    assert heads.pop("cls").out_features == 10 and list(heads.keys()) == ["box"]


def test_identity_and_activation_modules_call_their_functions():
    x = gradc.tensor([-1.0, 2.0])
    assert nn.Identity(3, foo=1)(x) is x
    assert nn.LeakyReLU(0.5)(x).tolist() == [-0.5, 2.0]
    assert nn.ReLU6()(gradc.tensor([-1.0, 7.0])).tolist() == [0.0, 6.0]
    np.testing.assert_allclose(nn.SiLU()(x).numpy(), F.silu(x).numpy())


def test_batchnorm_momentum_none_against_torch():
    torch = pytest.importorskip("torch")
    ours = nn.BatchNorm1d(2, momentum=None).double()
    theirs = torch.nn.BatchNorm1d(2, momentum=None).double()
    rng = np.random.default_rng(3)
    for _ in range(3):
        x = rng.normal(size=(5, 2))
        ours(gradc.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-15)
    np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(), rtol=1e-15)
