"""Reductions read ``dim`` and route gradients as PyTorch 2.x does (issue 13's items)."""

import math

import numpy as np
import pytest

import gradc

nan, inf = math.nan, math.inf


def leaf(v):
    return gradc.tensor(v, dtype=gradc.float64, requires_grad=True)


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin"])
@pytest.mark.parametrize("dim", [(), []])
def test_an_empty_dim_list_reduces_every_dim(name, dim):
    x = gradc.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    expect = {"sum": 21.0, "mean": 3.5, "amax": 6.0, "amin": 1.0}[name]
    out = getattr(x, name)(dim=dim)
    assert out.shape == () and out.item() == expect
    assert getattr(x, name)(dim=dim, keepdim=True).shape == (1, 1)


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "argmax", "argmin"])
@pytest.mark.parametrize("dim", [0, -1])
def test_a_0d_tensor_takes_dim_0_and_minus_1(name, dim):
    x = gradc.tensor(2.0)
    out = getattr(x, name)(dim)
    assert out.shape == () and out.item() == (0 if name.startswith("arg") else 2.0)
    values, indices = x.max(dim)
    assert values.item() == 2.0 and indices.item() == 0
    with pytest.raises(gradc.ShapeError):
        x.sum(1)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_a_0d_tensor(name):
    out = getattr(gradc.nn.functional, name)(gradc.tensor(2.0), 0)
    assert out.shape == () and out.item() == (1.0 if name == "softmax" else 0.0)


def test_max_dim_gives_a_tie_whole_gradient_to_the_returned_index():
    x = leaf([[1.0, 3.0, 3.0], [5.0, 5.0, 0.0]])
    values, indices = x.max(1)
    values.sum().backward()
    assert indices.tolist() == [1, 0]
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])
    y = leaf([3.0, 1.0, 1.0])
    y.min(0).values.backward()
    np.testing.assert_array_equal(y.grad.numpy(), [0, 1, 0])


@pytest.mark.parametrize(
    "fn, values, expect",
    [
        (lambda x: x.max(), [1.0, 3.0, 3.0], [0, 0.5, 0.5]),
        (lambda x: x.amax(), [1.0, 3.0, 3.0], [0, 0.5, 0.5]),
        (lambda x: x.min(), [5.0, 1.0, 1.0], [0, 0.5, 0.5]),
    ],
)
def test_max_without_dim_and_amax_share_a_tie(fn, values, expect):
    x = leaf(values)
    fn(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), expect)


def test_max_with_nan_routes_the_gradient_to_the_nans():
    x = leaf([1.0, nan, 3.0, nan])
    out = x.max()
    out.backward()
    assert math.isnan(out.item())
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0.5, 0, 0.5])
    y = leaf([1.0, nan, 3.0, nan])
    values, indices = y.max(0)
    values.backward()
    assert math.isnan(values.item()) and indices.item() == 1
    np.testing.assert_array_equal(y.grad.numpy(), [0, 1, 0, 0])


def test_amax_with_nan_gives_nan_gradients_as_torch_does():
    x = leaf([1.0, nan, 3.0])
    x.amax().backward()
    assert np.isnan(x.grad.numpy()).all()


@pytest.mark.parametrize("fn", [lambda x: x.max(), lambda x: x.max(0).values])
def test_an_inf_cotangent_stays_at_the_max(fn):
    x = leaf([1.0, 2.0, 3.0])
    (fn(x) * inf).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, inf])


def test_max_dim_keepdim_and_negative_dims():
    x = leaf(np.arange(24.0).reshape(2, 3, 4) % 5)
    values, indices = x.max(-2, keepdim=True)
    assert values.shape == (2, 1, 4) and indices.shape == (2, 1, 4)
    values.sum().backward()
    assert x.grad.numpy().sum(1).tolist() == np.ones((2, 4)).tolist()


def test_min_dim_returns_the_value_at_its_index_signed_zero_included():
    """Found by the oracle: amin's -0.0 where torch returns the first minimum, +0.0."""
    values, indices = gradc.tensor([0.0, -0.0], dtype=gradc.float64).min(0)
    assert indices.item() == 0 and math.copysign(1.0, values.item()) == 1.0


def test_max_of_a_0d_nan_passes_its_gradient():
    """Found by the oracle: a 0-d input took amax's rule (nan gradient at nan)."""
    x = leaf(nan)
    x.max().backward()
    assert x.grad.item() == 1.0


_AXIS_CALLS = [
    ("sum", dict(axis=0, keepdims=True)),
    ("mean", dict(axis=1)),
    ("amax", dict(axis=0)),
    ("amin", dict(axis=(0, 1), keepdims=True)),
    ("argmax", dict(axis=1)),
    ("argmin", dict(axis=0, keepdims=True)),
    ("prod", dict(axis=0)),
    ("cumsum", dict(axis=1)),
    ("std", dict(axis=0)),
    ("logsumexp", dict(axis=0)),
    ("softmax", dict(axis=0)),
    ("unsqueeze", dict(axis=0)),
    ("squeeze", dict(axis=0)),
]


@pytest.mark.parametrize("name, kwargs", _AXIS_CALLS, ids=[c[0] for c in _AXIS_CALLS])
def test_numpy_axis_and_keepdims_name_dim_and_keepdim_as_in_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    a = np.arange(6.0).reshape(2, 3)
    ours, theirs = (
        getattr(gradc.tensor(a), name)(**kwargs),
        getattr(torch.tensor(a), name)(**kwargs),
    )
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_take_axis(name):
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    ours = getattr(gradc.tensor(a), name)(axis=1, keepdims=True)
    theirs = getattr(torch.tensor(a), name)(axis=1, keepdims=True)
    assert ours.values.tolist() == theirs.values.tolist()
    assert ours.indices.tolist() == theirs.indices.tolist()
    assert gradc.cat([gradc.tensor(a)] * 2, axis=1).shape == (2, 6)
    with pytest.raises(TypeError, match="both"):
        gradc.sum(gradc.tensor(a), dim=0, axis=0)


@pytest.mark.parametrize("name, expect", [("var", [-inf, nan, -inf]), ("std", [nan, nan, nan])])
def test_var_gradient_at_an_inf_is_torchs(name, expect):
    # torch's rule, 2 (x - mean) / (N - 1): -inf at the finite entries, nan at the inf (the
    # mean's term, zero in exact arithmetic, would make every entry nan); std's is over var = nan
    x = leaf([1.0, inf, 3.0])
    getattr(x, name)().backward()
    np.testing.assert_array_equal(x.grad.numpy(), expect)


@pytest.mark.parametrize("dim", [(), []])
def test_var_over_an_empty_dim_list_reduces_every_dim(dim):
    # torch 2.13 agrees on the value; its backward counts N = 1 for dim=() (so the gradient is
    # +-inf, or negated with correction=2), which the fuzzer leaves out as a torch bug
    x = leaf([[1.0, 2.0], [3.0, 5.0]])
    out = x.var(dim=dim, correction=2)
    assert out.shape == () and out.item() == 4.375
    out.backward()
    np.testing.assert_allclose(x.grad.numpy(), [[-1.75, -0.75], [0.25, 2.25]])
    assert x.std(dim=dim, keepdim=True).shape == (1, 1)


@pytest.mark.parametrize("p", [inf, -inf])
def test_an_inf_norm_slice_with_a_nan_sends_no_gradient(p):
    # torch: such a slice is nan with gradient 0 (amax's tie rule would make it nan); the
    # other slices route as amax does (fuzzer finding)
    x = leaf([[1.0, nan, -3.0], [2.0, -2.0, 0.0]])
    out = x.norm(p=p, dim=1)
    np.testing.assert_array_equal(out.detach().numpy(), [nan, 2.0 if p > 0 else 0.0])
    out.sum().backward()
    expect = [[0, 0, 0], [0.5, -0.5, 0]] if p > 0 else [[0, 0, 0], [0, 0, 0]]
    np.testing.assert_array_equal(x.grad.numpy(), expect)


@pytest.mark.parametrize("ct", [nan, inf])
def test_an_inf_norm_slice_with_a_nan_passes_a_nan_or_inf_cotangent_on_as_nan(ct):
    # thorough-fuzzer finding: torch multiplies ct by its mask, so a nan (or inf) ct reaches
    # every entry of a nan slice as nan; a finite ct gives 0 (the test above)
    x = leaf([[1.0, nan, -3.0], [2.0, -2.0, 0.0]])
    x.norm(p=inf).backward(gradc.tensor(ct, dtype=gradc.float64))
    assert np.isnan(x.grad.numpy()).all()
    y = leaf([[1.0, nan, -3.0], [2.0, -2.0, 0.0]])
    y.norm(p=inf, dim=1).backward(gradc.tensor([ct, 1.0], dtype=gradc.float64))
    assert np.isnan(y.grad.numpy()[0]).all()
    np.testing.assert_array_equal(y.grad.numpy()[1], [0.5, -0.5, 0.0])


def test_logsumexp_over_an_empty_dim_is_minus_inf():
    x = gradc.zeros(0, 2, dtype=gradc.float64, requires_grad=True)
    out = gradc.logsumexp(x, 0)
    np.testing.assert_array_equal(out.detach().numpy(), [-inf, -inf])
    out.sum().backward()
    assert x.grad.shape == (0, 2)


@pytest.mark.parametrize(
    "values, dim, expect",
    [
        # no zero anywhere: torch's out / x, nan at the inf
        ([[inf, 2.0], [1.0, 3.0]], 1, [[nan, inf], [3.0, 1.0]]),
        # a zero elsewhere in the tensor: the product of the others, in every slice
        ([[inf, 2.0], [0.0, 3.0]], 1, [[2.0, inf], [3.0, 0.0]]),
        ([[nan, 2.0], [0.0, 3.0]], 1, [[2.0, nan], [3.0, 0.0]]),
        ([[-inf, 0.0], [0.0, 3.0]], 0, [[0.0, 3.0], [-inf, 0.0]]),
        ([[-inf, -inf, 0.0, 2.0]], 1, [[nan, nan, inf, nan]]),
        # a whole-tensor product with two zeros: 0, whatever the rest
        ([[inf, 0.0], [0.0, 3.0]], None, [[0.0, 0.0], [0.0, 0.0]]),
    ],
)
def test_prod_gradient_with_infs_and_nans_is_torchs(values, dim, expect):
    # fuzzer finding: torch picks out / x or the product of the others by whether the tensor
    # holds a zero anywhere, and the two differ at inf and nan entries
    x = leaf(values)
    (x.prod() if dim is None else x.prod(dim)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), expect)


def test_prod_second_derivative_at_a_zero():
    x = leaf([0.0, 2.0, 3.0])
    (g,) = gradc.autograd.grad(x.prod(), x, create_graph=True)
    (h,) = gradc.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(h.numpy(), [5.0, 3.0, 2.0])  # torch's


def test_var_with_more_correction_than_elements_has_torchs_gradient():
    # fuzzer finding: torch's backward divides by N - correction as is (here -1: a finite
    # gradient under a nan value), and with no dim gives inf (nan where x == mean)
    x = leaf([[3.0], [-1.0]])
    out = x.var(dim=1, correction=2, keepdim=True)
    assert np.isnan(out.detach().numpy()).all()
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0], [0.0]])
    y = leaf([1.0, 2.0, 2.0])
    y.var(correction=3).backward()
    np.testing.assert_array_equal(y.grad.numpy(), [inf, inf, inf])
    z = leaf([2.0, 2.0])
    z.var(correction=2).backward()
    np.testing.assert_array_equal(z.grad.numpy(), [nan, nan])


def test_logsumexp_of_a_row_with_inf_gives_finite_entries_0():
    # fuzzer finding: exp(x - inf) = 0, as torch; shifting by 0 made exp(800) / inf = nan
    x = leaf([[800.0, 1.0, inf], [800.0, 1.0, 2.0]])
    out = gradc.logsumexp(x, 1)
    np.testing.assert_array_equal(out.detach().numpy(), [inf, 800.0])
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0, nan], [1, 0, 0]], atol=1e-300)


def test_var_of_a_0d_tensor_checks_its_dim():
    x = leaf(2.0)
    with pytest.raises(gradc.ShapeError):
        x.var(dim=1)
    with pytest.raises(gradc.ShapeError):
        x.std(dim=(0, 0))
    assert x.var(dim=0, correction=0).item() == 0.0


def test_cumsum_gradient_with_an_inf_cotangent():
    # fuzzer finding: the reversed cumsum was sum - cumsum + ct, so an inf cotangent gave
    # inf - inf = nan everywhere; torch sums from the end: [inf, 3, 2]
    x = leaf([0.0, 30.0, 0.1])
    (x.cumsum(0) * gradc.tensor([inf, 1.0, 2.0], dtype=gradc.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [inf, 3.0, 2.0])


def test_prod_of_a_tensor_with_two_zeros_sends_0_even_for_a_nan_cotangent():
    # fuzzer finding: torch returns zeros there without reading the cotangent
    x = leaf([[0.0, inf], [0.0, 2.0]])
    x.prod().backward(gradc.tensor(nan, dtype=gradc.float64))
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 0.0], [0.0, 0.0]])


def test_fro_norm_over_three_dims_is_refused_as_torch_does():
    """Fuzzer finding: torch takes p='fro' (the default) over a dim tuple as a matrix norm."""
    x = gradc.ones(2, 2, 2)
    with pytest.raises(RuntimeError, match="dim must be a 2-tuple"):
        x.norm(dim=(0, 1, 2))
    assert x.norm(p=2, dim=(0, 1, 2)).item() == pytest.approx(8**0.5)
    assert x.norm(dim=(0, 1)).tolist() == [2.0, 2.0]
