"""nn.functional as PyTorch 2.x: losses, softmax, pooling and conv options (issue 13's items).

Expected numbers are torch 2.13's.
"""

import math

import numpy as np
import pytest

import gradc
import gradc.nn as nn
import gradc.nn.functional as F


def leaf(v):
    return gradc.tensor(v, dtype=gradc.float64, requires_grad=True)


@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
def test_unbatched_loss_with_reduction_none_is_0d(loss):
    out = loss(gradc.tensor([0.1, 0.7, -0.3]), gradc.tensor(1), reduction="none")
    assert out.shape == ()
    assert loss(gradc.tensor([0.1, 0.7, -0.3]), gradc.tensor(1)).shape == ()


def test_cross_entropy_mean_with_every_target_ignored_is_nan_with_zero_gradient():
    x = leaf([[0.1, 0.7, -0.3], [0.2, 0.3, 0.4]])
    out = F.cross_entropy(x, gradc.tensor([-100, -100]))
    out.backward()
    assert math.isnan(out.item())
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))


def test_cross_entropy_is_finite_with_a_minus_inf_logit_off_target():
    x = leaf([[0.0, -math.inf, 1.0]])
    out = F.cross_entropy(x, gradc.tensor([2]))
    out.backward()
    assert math.isfinite(out.item()) and np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("target", [[3, 0], [-1, 0]])
def test_cross_entropy_target_out_of_range_is_an_index_error(target):
    x = gradc.zeros(2, 3)
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, gradc.tensor(target))
    F.cross_entropy(x, gradc.tensor(target), ignore_index=target[0])  # ignored: fine


def test_probability_targets_take_no_ignore_index_and_must_match_the_input_shape():
    x = gradc.zeros(2, 3)
    p = F.softmax(gradc.ones(2, 3), 1)
    with pytest.raises(gradc.GradcError, match="ignore_index"):
        F.cross_entropy(x, p, ignore_index=1)
    F.cross_entropy(x, p, ignore_index=-1)
    with pytest.raises(gradc.ShapeError):
        F.cross_entropy(x, gradc.ones(3) / 3)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_over_an_empty_dim_is_empty(fn):
    assert fn(gradc.zeros(2, 0), 1).shape == (2, 0)
    assert fn(gradc.zeros(0, 2), 1).shape == (0, 2)


def test_max_pool2d_refuses_padding_over_half_the_kernel_whatever_the_dilation():
    x = gradc.zeros(1, 1, 5, 5)
    with pytest.raises(gradc.ShapeError, match="half of the kernel"):
        F.max_pool2d(x, 3, padding=2, dilation=2)
    assert F.max_pool2d(x, 3, padding=1, dilation=2).shape == (1, 1, 1, 1)


def test_conv2d_same_padding_with_an_even_kernel_pads_one_more_at_the_end():
    x = leaf(np.ones((1, 1, 5, 5)))
    out = F.conv2d(x, gradc.ones(1, 1, 2, 2, dtype=gradc.float64), padding="same")
    expect = np.full((5, 5), 4.0)
    expect[-1, :] = expect[:, -1] = 2.0
    expect[-1, -1] = 1.0
    np.testing.assert_array_equal(out.detach().numpy()[0, 0], expect)
    out.sum().backward()
    assert x.grad.shape == x.shape
    layer = nn.Conv2d(1, 2, (2, 3), padding="same", dilation=(1, 2))
    assert layer(gradc.zeros(1, 1, 6, 7)).shape == (1, 2, 6, 7)


GRID = np.arange(25.0).reshape(1, 1, 5, 5)


def test_max_pool2d_ceil_mode():
    x = leaf(GRID)
    out = F.max_pool2d(x, 2, ceil_mode=True)
    expect = [[6, 8, 9], [16, 18, 19], [21, 23, 24]]
    np.testing.assert_array_equal(out.detach().numpy()[0, 0], expect)
    out.sum().backward()
    assert x.grad.numpy().sum() == 9
    assert nn.MaxPool2d(2, ceil_mode=True)(gradc.tensor(GRID)).shape == (1, 1, 3, 3)


@pytest.mark.parametrize(
    "args, expect",
    [
        (dict(kernel_size=2), [[3, 5, 6.5], [13, 15, 16.5], [20.5, 22.5, 24]]),
        (
            dict(kernel_size=2, padding=1, stride=2),
            [[0, 0.75, 1.75], [3.75, 9, 11], [8.75, 19, 21]],
        ),
        (
            dict(kernel_size=3, padding=1, stride=2, count_include_pad=False),
            [[3, 4.5, 6], [10.5, 12, 13.5], [18, 19.5, 21]],
        ),
    ],
)
def test_avg_pool2d_ceil_mode_divides_by_what_each_window_covers(args, expect):
    x = leaf(GRID)
    out = F.avg_pool2d(x, ceil_mode=True, **args)
    np.testing.assert_allclose(out.detach().numpy()[0, 0], expect)
    out.sum().backward()
    layer = nn.AvgPool2d(ceil_mode=True, **args)
    np.testing.assert_allclose(layer(gradc.tensor(GRID)).numpy()[0, 0], expect)


def test_view_of_a_transposed_tensor_raises_as_torch_does():
    x = gradc.ones(2, 3)
    with pytest.raises(gradc.ShapeError, match="reshape"):
        x.t().view(6)
    with pytest.raises(gradc.ShapeError):
        x[:, 1:].view(4)
    assert x.t().reshape(6).shape == (6,)
    assert x.t().contiguous().view(6).shape == (6,)
    assert x.t().view(3, 1, 2).shape == (3, 1, 2)
    y = leaf(np.arange(6.0).reshape(2, 3))
    (y.t().contiguous().view(6) * gradc.arange(6)).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[0, 2, 4], [1, 3, 5]])


def test_max_pool2d_sends_a_window_gradient_to_its_last_nan():
    nan = math.nan
    x = leaf([[[[0.0, 0.0], [nan, nan]]]])
    out = F.max_pool2d(x, 2)
    out.backward(gradc.ones(1, 1, 1, 1, dtype=gradc.float64))
    assert math.isnan(out.item())
    np.testing.assert_array_equal(x.grad.numpy(), [[[[0, 0], [0, 1]]]])


def test_conv2d_same_pads_the_odd_zero_at_the_end_so_no_extra_output_reads_the_weight():
    """Found by the oracle: cropping an extra output row sent 0 * nan into the input's grad."""
    x = leaf(np.zeros((2, 1, 1, 2)))
    w = gradc.tensor([[[[0.0, 0.0]]], [[[0.0, math.nan]]]], dtype=gradc.float64)
    F.conv2d(x, w, padding="same").sum().backward()
    assert np.isnan(x.grad.numpy()).tolist() == [[[[False, True]]]] * 2


def test_max_pool2d_sends_a_window_of_minus_infs_to_its_first_tap_inside_the_input():
    """Found by the oracle: the gradient went to the padding (lost), torch's scan starts inside."""
    x = leaf([[[[-math.inf, -math.inf], [-math.inf, 1.0]]]])
    F.max_pool2d(x, 2, stride=1, padding=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[[[3, 1], [1, 4]]]])  # torch 2.13


@pytest.mark.parametrize(
    "fn, expect",
    [
        (F.log_softmax, [-0.9003906250001681] + [0.3003403587928543] * 3),
        (F.softmax, [-2.9999999999988782] + [0.9999999999996257] * 3),
    ],
)
def test_softmax_gradients_are_torchs_formulas_from_the_output(fn, expect):
    # fuzzer finding (thorough profile): log() of a log_softmax entry of -2.8e-13 sends a
    # cotangent of -3.6e12; through the composition's pieces the gradient cancelled to 1.4e-4
    # relative off. torch computes ct - exp(out) * sum(ct) (softmax: out * (ct - sum(ct * out)))
    x = gradc.tensor([30.0, 0.0, 0.0, 0.0], dtype=gradc.float64, requires_grad=True)
    out = fn(x, 0)
    out.log().sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), expect, rtol=1e-12)
    assert out.grad_fn.name() == (
        "LogSoftmaxBackward0" if fn is F.log_softmax else "SoftmaxBackward0"
    )


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_probability_target_loss_of_zero_is_minus_zero_as_torchs(reduction):
    # thorough-fuzzer finding: torch negates after the sum, so 0.5 / loss is -inf, not inf
    x, p = gradc.tensor([0.0], dtype=gradc.float64), gradc.tensor([1.0], dtype=gradc.float64)
    loss = F.cross_entropy(x, p, reduction=reduction)
    assert loss.item() == 0.0 and math.copysign(1.0, loss.item()) == -1.0
