"""The Tensor front end: creation, dtypes, conversions, torch's repr, indexing, devices, max/min."""

from __future__ import annotations

import numpy as np
import pytest

import gradc


# ---- creation --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, shape, dtype, values",
    [
        (lambda: gradc.tensor([[1.0, 2.0], [3.0, 4.0]]), (2, 2), gradc.float32, [[1, 2], [3, 4]]),
        (lambda: gradc.tensor([1, 2]), (2,), gradc.int64, [1, 2]),
        (lambda: gradc.tensor([True, False]), (2,), gradc.bool, [True, False]),
        (lambda: gradc.tensor(2.5), (), gradc.float32, 2.5),
        (lambda: gradc.tensor([1, 2.5]), (2,), gradc.float32, [1, 2.5]),
        (lambda: gradc.tensor([1, 2], dtype=gradc.float64), (2,), gradc.float64, [1, 2]),
        (lambda: gradc.zeros(2, 3), (2, 3), gradc.float32, np.zeros((2, 3))),
        (lambda: gradc.zeros((2, 3)), (2, 3), gradc.float32, np.zeros((2, 3))),
        (lambda: gradc.ones(3, dtype=gradc.int64), (3,), gradc.int64, [1, 1, 1]),
        (lambda: gradc.full((2,), 1.5), (2,), gradc.float32, [1.5, 1.5]),
        (lambda: gradc.full((2,), 7), (2,), gradc.int64, [7, 7]),
        (lambda: gradc.arange(4), (4,), gradc.int64, [0, 1, 2, 3]),
        (lambda: gradc.arange(1, 2, 0.5), (2,), gradc.float32, [1, 1.5]),
        (lambda: gradc.linspace(0, 1, 3), (3,), gradc.float32, [0, 0.5, 1]),
        (lambda: gradc.eye(2), (2, 2), gradc.float32, np.eye(2)),
        (lambda: gradc.zeros_like(gradc.tensor([1, 2])), (2,), gradc.int64, [0, 0]),
        (lambda: gradc.ones_like(gradc.zeros(2), dtype=gradc.float64), (2,), gradc.float64, [1, 1]),
        (lambda: gradc.from_numpy(np.arange(3.0)), (3,), gradc.float64, [0, 1, 2]),
        (lambda: gradc.tensor(np.ones(2, np.float32)), (2,), gradc.float32, [1, 1]),
    ],
)
def test_creation(make, shape, dtype, values):
    t = make()
    assert tuple(t.shape) == shape and t.dtype is dtype
    np.testing.assert_array_equal(t.numpy(), values)
    assert t.numpy().dtype == dtype.np


def test_random_creation_shapes_dtypes_and_ranges():
    gradc.manual_seed(1)
    assert tuple(gradc.rand(2, 3).shape) == (2, 3)
    r = gradc.rand(1000)
    assert r.dtype is gradc.float32 and 0 <= r.amin().item() and r.amax().item() < 1
    assert gradc.randn(4, dtype=gradc.float64).dtype is gradc.float64
    i = gradc.randint(0, 5, (100,))
    assert i.dtype is gradc.int64 and set(i.tolist()) <= set(range(5))
    assert sorted(gradc.randperm(6).tolist()) == list(range(6))
    assert gradc.randn(3, requires_grad=True).requires_grad


def test_manual_seed_reproduces():
    gradc.manual_seed(123)
    a, b = gradc.randn(5), gradc.rand(3)
    gradc.manual_seed(123)
    np.testing.assert_array_equal(gradc.randn(5).numpy(), a.numpy())
    np.testing.assert_array_equal(gradc.rand(3).numpy(), b.numpy())
    gradc.manual_seed(124)
    assert not np.array_equal(gradc.randn(5).numpy(), a.numpy())


def test_tensor_copies_and_from_numpy_shares():
    a = np.zeros(2)
    t, s = gradc.tensor(a), gradc.from_numpy(a)
    a[0] = 5
    assert t[0].item() == 0 and s[0].item() == 5


# ---- properties and conversions -----------------------------------------------------------------
def test_shape_size_dim_numel():
    t = gradc.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, gradc.Size)
    assert repr(t.shape) == "gradc.Size([2, 3, 4])"
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.dim() == 3 and t.ndim == 3 and t.numel() == 24
    assert gradc.tensor(1.0).dim() == 0 and gradc.tensor(1.0).numel() == 1
    assert len(t) == 2


def test_item_numpy_asarray_tolist():
    t = gradc.tensor([[1.5, 2.0]])
    assert gradc.tensor([[4.5]]).item() == 4.5 and isinstance(gradc.tensor(3).item(), int)
    assert isinstance(t.numpy(), np.ndarray) and t.numpy().dtype == np.float32
    np.testing.assert_array_equal(np.asarray(t), [[1.5, 2.0]])
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert t.tolist() == [[1.5, 2.0]] and gradc.tensor(2).tolist() == 2
    assert float(gradc.tensor(2.5)) == 2.5 and int(gradc.tensor(3)) == 3
    assert bool(gradc.tensor([1.0])) is True
    with pytest.raises(gradc.AutogradError, match="detach"):
        gradc.tensor([1.0], requires_grad=True).numpy()


def test_dtype_conversions():
    t = gradc.tensor([1.7, -2.2])
    assert t.double().dtype is gradc.float64
    assert t.long().tolist() == [1, -2]  # truncation, as torch
    assert t.bool().tolist() == [True, True]
    assert t.to(gradc.float64).dtype is gradc.float64
    assert t.to(dtype=gradc.float64).dtype is gradc.float64
    assert t.to(gradc.tensor([1])).dtype is gradc.int64
    assert t.float() is t and t.is_floating_point() and not t.long().is_floating_point()
    assert gradc.float is gradc.float32 and gradc.double is gradc.float64
    assert gradc.long is gradc.int64


# ---- repr, as torch prints ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, text",
    [
        (lambda: gradc.tensor([1.0, 2.0]), "tensor([1., 2.])"),
        (lambda: gradc.tensor([1.5, 2.25]), "tensor([1.5000, 2.2500])"),
        (lambda: gradc.tensor([-1.0, 2.0]), "tensor([-1.,  2.])"),
        (
            lambda: gradc.tensor([[1.5, 2.25], [10.0, 3.0]]),
            "tensor([[ 1.5000,  2.2500],\n        [10.0000,  3.0000]])",
        ),
        (
            lambda: gradc.tensor([1.0, 2.0], requires_grad=True),
            "tensor([1., 2.], requires_grad=True)",
        ),
        (
            lambda: gradc.tensor([1.0, 2.0], requires_grad=True) * 2,
            "tensor([2., 4.], grad_fn=<MulBackward0>)",
        ),
        (
            lambda: gradc.tensor([1.0, 2.0], dtype=gradc.float64),
            "tensor([1., 2.], dtype=gradc.float64)",
        ),
        (lambda: gradc.tensor([1, 2]), "tensor([1, 2])"),
        (lambda: gradc.tensor([1, -20]), "tensor([  1, -20])"),
        (lambda: gradc.tensor([True, False]), "tensor([ True, False])"),
        (lambda: gradc.tensor(3.5), "tensor(3.5000)"),
        (lambda: gradc.tensor(3.0), "tensor(3.)"),
        (lambda: gradc.tensor(0.0), "tensor(0.)"),
        (lambda: gradc.tensor(3), "tensor(3)"),
        (lambda: gradc.tensor(True), "tensor(True)"),
        (lambda: gradc.tensor(2.0, dtype=gradc.float64), "tensor(2., dtype=gradc.float64)"),
        (lambda: gradc.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
        (lambda: gradc.tensor([1.0, 1000.0]), "tensor([   1., 1000.])"),
        (lambda: gradc.tensor([1.0, 10000.0]), "tensor([1.0000e+00, 1.0000e+04])"),
        (lambda: gradc.tensor([float("nan"), 1.0, float("inf")]), "tensor([nan, 1., inf])"),
        (lambda: gradc.tensor([]), "tensor([])"),
        (lambda: gradc.zeros(2, 0), "tensor([], size=(2, 0))"),
        (lambda: gradc.zeros(0, dtype=gradc.int64), "tensor([], dtype=gradc.int64)"),
        (
            lambda: gradc.arange(8.0).reshape(2, 2, 2),
            "tensor([[[0., 1.],\n         [2., 3.]],\n\n        [[4., 5.],\n         [6., 7.]]])",
        ),
        (
            lambda: gradc.arange(16.0),
            "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n"
            "        14., 15.])",
        ),
        (
            lambda: gradc.full((9,), 0.125, requires_grad=True),
            "tensor([0.1250, 0.1250, 0.1250, 0.1250, 0.1250, 0.1250, 0.1250, 0.1250, 0.1250],\n"
            "       requires_grad=True)",
        ),
        (
            lambda: gradc.arange(2000.0),
            "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
            "        1.9990e+03])",
        ),
    ],
)
def test_repr_like_torch(make, text):
    assert repr(make()) == text
    assert str(make()) == text


def test_repr_of_large_2d_tensor_summarizes_rows_and_columns():
    lines = repr(gradc.arange(2000).reshape(40, 50)).split("\n")
    assert lines[0] == "tensor([[   0,    1,    2,  ...,   47,   48,   49],"
    assert lines[3] == "        ...,"
    assert lines[-1] == "        [1950, 1951, 1952,  ..., 1997, 1998, 1999]])"


# ---- indexing ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "index",
    [
        0,
        -1,
        (1, 2),
        slice(1, 3),
        (slice(None), slice(1, 3)),
        (Ellipsis, None),
        (None, Ellipsis, 1),
        (slice(None, None, 2), 0),
        (0, Ellipsis),
        (slice(5, 1),),
        (Ellipsis,),
        (None, None),
    ],
)
def test_basic_indexing_matches_numpy(index):
    a = np.arange(24.0).reshape(2, 3, 4)
    t = gradc.tensor(a)
    np.testing.assert_array_equal(t[index].numpy(), a[index])
    assert tuple(t[index].shape) == a[index].shape


def test_indexing_gradient_scatters_into_zeros():
    x = gradc.zeros(2, 3, requires_grad=True)
    (x[:, 1:] * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 2, 2], [0, 2, 2]])
    y = gradc.zeros(3, requires_grad=True)
    (y[..., None] * gradc.tensor([[1.0, 2.0]])).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [3, 3, 3])


def test_iteration_yields_rows():
    rows = list(gradc.tensor([[1, 2], [3, 4]]))
    assert [r.tolist() for r in rows] == [[1, 2], [3, 4]]


# ---- devices -----------------------------------------------------------------------------------
def test_device_is_cpu():
    t = gradc.zeros(2)
    assert t.device == "cpu" and t.device == gradc.device("cpu") and str(t.device) == "cpu"
    assert repr(t.device) == "device(type='cpu')" and not t.is_cuda
    assert t.to("cpu") is t and t.cpu() is t
    assert gradc.zeros(2, device="cpu").device == "cpu"
    assert not gradc.cuda.is_available()


@pytest.mark.parametrize(
    "call",
    [
        lambda: gradc.zeros(2).cuda(),
        lambda: gradc.zeros(2).to("cuda"),
        lambda: gradc.zeros(2, device="cuda"),
        lambda: gradc.tensor([1.0], device="cuda:0"),
    ],
)
def test_cuda_raises_a_clear_device_error(call):
    with pytest.raises(gradc.DeviceError, match="CUDA support arrives with the GPU backend"):
        call()


# ---- max / min, the three forms ----------------------------------------------------------------
def test_max_min_three_forms():
    x = gradc.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    assert x.max().item() == 7.0 and gradc.min(x).item() == 0.0
    values, indices = x.max(1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    r = gradc.max(x, dim=0, keepdim=True)
    assert r.values.tolist() == [[7.0, 5.0, 3.0]] and r.indices.tolist() == [[1, 0, 1]]
    assert x.min(dim=-1).indices.tolist() == [0, 1]
    y = gradc.tensor([[2.0, 2.0, 2.0]])
    assert gradc.max(x, y).tolist() == [[2.0, 5.0, 2.0], [7.0, 2.0, 3.0]]
    assert x.min(y).tolist() == [[1.0, 2.0, 2.0], [2.0, 0.0, 2.0]]
    assert x.argmax().item() == 3 and x.argmin(1).tolist() == [0, 1]


def test_max_dim_values_carry_gradient():
    x = gradc.tensor([[1.0, 5.0], [7.0, 0.0]], requires_grad=True)
    values, indices = x.max(1)
    assert not indices.requires_grad and indices.dtype is gradc.int64
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1], [1, 0]])


def test_numpy_array_operands_become_tensors_on_either_side():
    a = gradc.tensor([1.0, 2.0], requires_grad=True)
    right = a * np.array([3.0, 4.0], dtype=np.float32)
    left = np.array([3.0, 4.0], dtype=np.float32) * a
    assert isinstance(left, gradc.Tensor) and left.dtype is gradc.float32
    assert right.tolist() == left.tolist() == [3.0, 8.0]
    (right.sum() + left.sum()).backward()
    assert a.grad.tolist() == [6.0, 8.0]
