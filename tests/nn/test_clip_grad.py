"""gradc.nn.utils.clip_grad: norms over all gradients together, scaled in place as torch does."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradc
import gradc.nn as nn


def _params(*grads):
    ps = []
    for g in grads:
        p = nn.Parameter(gradc.zeros(len(g), dtype=gradc.float64))
        p.grad = gradc.tensor(g, dtype=gradc.float64)
        ps.append(p)
    return ps


def test_clip_grad_norm_scales_every_gradient():
    ps = _params([3.0, 0.0], [0.0, 4.0])
    total = nn.utils.clip_grad_norm_(ps, max_norm=1.0)
    assert total.item() == pytest.approx(5.0)
    coef = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose(ps[0].grad.numpy(), [3 * coef, 0])
    np.testing.assert_allclose(ps[1].grad.numpy(), [0, 4 * coef])


def test_clip_grad_norm_leaves_small_gradients_and_other_orders():
    ps = _params([0.3, -0.4])
    assert nn.utils.clip_grad_norm_(ps, 10.0).item() == pytest.approx(0.5)
    np.testing.assert_allclose(ps[0].grad.numpy(), [0.3, -0.4])
    ps = _params([1.0, -3.0], [2.0])
    assert nn.utils.clip_grad_norm_(ps, 100.0, norm_type=math.inf).item() == 3.0
    assert nn.utils.clip_grad_norm_(ps, 100.0, norm_type=1).item() == 6.0


def test_clip_grad_norm_nonfinite():
    ps = _params([math.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)


def test_clip_grad_value():
    ps = _params([3.0, -0.5, -2.0])
    nn.utils.clip_grad_value_(ps, 1.0)
    assert ps[0].grad.tolist() == [1.0, -0.5, -1.0]


def test_against_torch():
    torch = pytest.importorskip("torch")
    grads = [[0.5, -2.0, 1.5], [3.0]]
    ours = _params(*grads)
    theirs = [torch.zeros(len(g), dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(theirs, grads):
        p.grad = torch.tensor(g, dtype=torch.float64)
    for norm_type in (2.0, 1.0, math.inf):
        a = nn.utils.clip_grad_norm_(ours, 1.5, norm_type)
        b = torch.nn.utils.clip_grad_norm_(theirs, 1.5, norm_type)
        assert a.item() == pytest.approx(b.item(), rel=1e-12)
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)
