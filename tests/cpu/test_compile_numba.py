"""``gradc.compile(..., backend="numba")`` end to end: LeNet's forward and backward lowered to
one numba program each, at two batch sizes without a recompile, equal to eager."""

import copy
import sys
from pathlib import Path

import numpy as np
import pytest

import gradc
import gradc.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from lenet import LeNet  # noqa: E402

from tests.compile.steps import train_step  # noqa: E402

f64 = gradc.float64


def _grads(net):
    return [(name, p.grad.numpy().copy()) for name, p in net.named_parameters()]


def test_compiled_lenet_module_equals_eager():
    gradc.manual_seed(0)
    net = LeNet().double()
    ref = copy.deepcopy(net)
    c = gradc.compile(net, backend="numba")
    for b in (8, 3):
        x, y = gradc.randn(b, 1, 32, 32, dtype=f64), gradc.randint(0, 10, (b,))
        for model in (c, ref):
            for p in model.parameters():
                p.grad = None
        out, ref_out = c(x), ref(x)
        loss, ref_loss = F.cross_entropy(out, y), F.cross_entropy(ref_out, y)
        loss.backward()
        ref_loss.backward()
        np.testing.assert_allclose(out.detach().numpy(), ref_out.detach().numpy(), atol=1e-9)
        assert abs(loss.item() - ref_loss.item()) <= 1e-9
        for (name, g), (_, h) in zip(_grads(net), _grads(ref)):
            np.testing.assert_allclose(g, h, rtol=0, atol=1e-9, err_msg=f"batch {b}: {name}")
    assert c.compiles == 1


@pytest.mark.slow
def test_compiled_lenet_training_step_equals_eager():
    gradc.manual_seed(0)
    net = LeNet().double()
    ref = copy.deepcopy(net)
    opt = gradc.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    ropt = gradc.optim.SGD(ref.parameters(), lr=0.05, momentum=0.9)

    step, eager = gradc.compile(train_step(net, opt), backend="numba"), train_step(ref, ropt)
    for b in (8, 3, 8):
        x, y = gradc.randn(b, 1, 32, 32, dtype=f64), gradc.randint(0, 10, (b,))
        assert abs(step(x, y).item() - eager(x, y).item()) <= 1e-9
        for (name, p), q in zip(net.named_parameters(), ref.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-9, err_msg=name)
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), atol=1e-9)
    assert step.compiles == 2  # the first step creates the momentum buffers and .grad
