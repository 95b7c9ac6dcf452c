"""F.pad as torch 2.13's: each mode's values (expected numbers are torch's), negative amounts,
its errors, gradients against finite differences, and compiled against eager."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradc
import gradc.nn.functional as F
from gradc.errors import GradcError
from gradc.testing import gradcheck
from gradc.testing.strategies import tensors
from tests.compile.steps import eager_then_compiled

MODES = ["constant", "reflect", "replicate", "circular"]


@pytest.mark.parametrize(
    "pad, mode, expect",
    [
        ((2, 1), "constant", [9, 9, 0, 1, 2, 3, 9]),
        ((2, 1), "reflect", [2, 1, 0, 1, 2, 3, 2]),
        ((2, 1), "replicate", [0, 0, 0, 1, 2, 3, 3]),
        ((2, 1), "circular", [2, 3, 0, 1, 2, 3, 0]),
        ((-1, 2), "constant", [1, 2, 3, 9, 9]),
        ((1, -1), "circular", [2, 0, 1, 2]),
        ((-1, 1), "reflect", [1, 2, 3, 2]),
        ((5, 0), "replicate", [0, 0, 0, 0, 0, 0, 1, 2, 3]),
    ],
)
def test_pad_values_are_torchs(pad, mode, expect):
    x = gradc.arange(4.0).view(1, 4)
    out = F.pad(x, pad, mode=mode, value=9.0 if mode == "constant" else None)
    np.testing.assert_array_equal(out.numpy(), [expect])


def test_pad_pairs_run_from_the_last_dim_and_an_integer_value_is_cast():
    x = gradc.ones(2, 3, dtype=gradc.int64)
    out = F.pad(x, (1, 0, 0, 1), value=2.5)
    assert out.shape == (3, 4) and out.dtype is gradc.int64
    np.testing.assert_array_equal(out.numpy(), [[2, 1, 1, 1], [2, 1, 1, 1], [2, 2, 2, 2]])
    y = F.pad(x, ())
    assert y is not x and np.array_equal(y.numpy(), x.numpy())


@pytest.mark.parametrize(
    "shape, pad, mode, message",
    [
        ((2, 3), (1,), "constant", "divisible by 2"),
        ((3,), (1, 1, 1, 1), "constant", "two times the input dimension"),
        ((2, 3), (3, 0), "reflect", "less than the size"),
        ((2, 3), (4, 0), "circular", "wraps around"),
        ((3,), (1, 1), "reflect", "not supported for 1D"),
        ((1, 2, 3, 4), (1, 1), "replicate", "not supported for 4D"),
        ((2, 0, 3), (1, 1), "replicate", "non-zero dims"),
        ((2, 3), (-2, -2), "constant", "crops more"),
        ((2, 3), (1, 1), "wrap", "mode must be one of"),
    ],
)
def test_bad_pads_raise_naming_pad(shape, pad, mode, message):
    with pytest.raises(GradcError, match=message) as e:
        F.pad(gradc.zeros(*shape), pad, mode=mode)
    assert "pad(" in str(e.value)


def test_a_value_with_a_non_constant_mode_raises():
    with pytest.raises(GradcError, match="doesn't take in value"):
        F.pad(gradc.zeros(2, 3), (1, 1), mode="reflect", value=1.0)


@st.composite
def _padded(draw):
    mode = draw(st.sampled_from(MODES))
    k = draw(st.integers(1, 2))
    ndim = draw(st.sampled_from([k + 1, k + 2])) if mode != "constant" else draw(st.integers(k, 3))
    shape = tuple(draw(st.integers(2, 4)) for _ in range(ndim))
    pad = []
    for d in range(k):
        n = shape[ndim - 1 - d]
        low = -1 if mode == "constant" else 0
        high = n - 1 if mode in ("reflect", "circular") else 3
        pad += [draw(st.integers(low, high)), draw(st.integers(low, high))]
    x = draw(tensors(gradc.float64, shape=shape, requires_grad=True))
    return x, tuple(pad), mode


@given(_padded())
def test_pad_gradients_match_finite_differences(case):
    # reflected, repeated and wrapped entries add their gradients up
    x, pad, mode = case
    assert gradcheck(lambda x: F.pad(x, pad, mode=mode), x)


@pytest.mark.parametrize("mode", MODES)
def test_compiled_pad_equals_eager(mode):
    x = gradc.randn(2, 3, 4, 5, dtype=gradc.float64, requires_grad=True)
    w = gradc.randn(2, 3, 6, 9, dtype=gradc.float64)
    (v0, g0), (v1, g1) = eager_then_compiled(
        lambda x: (F.pad(x, (2, 2, 1, 1), mode=mode) * w).sum(), x
    )
    np.testing.assert_allclose(v1, v0, rtol=1e-12)
    np.testing.assert_allclose(g1, g0, rtol=1e-12, atol=1e-14)
