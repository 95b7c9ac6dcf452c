"""``gradc.compile(..., backend="numba")`` trains LeNet as eager does: module form (one program
forward, one backward, eager optimizer) and whole-step form (one program for forward, loss,
backward and update), SGD with momentum and Adam, 20 steps with changing batch sizes, float64 to
1e-9 and float32 to 1e-4, each relative to the largest element of the eager array."""

import copy
import sys
from pathlib import Path

import numpy as np
import pytest

import gradc

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from lenet import LeNet  # noqa: E402

from tests.compile.steps import train_step  # noqa: E402

BATCHES = [4, 4, 2, 4, 5, 5, 1, 4, 4, 3] * 2
OPTIMIZERS = {
    "sgd_momentum": lambda ps: gradc.optim.SGD(ps, lr=0.05, momentum=0.9),
    "adam": lambda ps: gradc.optim.Adam(ps, lr=2e-3),
}
# Adam's step m / (sqrt(v) + eps) is scale-free per element: where a gradient is as small as
# float32's summation noise (1e-7 of the largest), any two float32 implementations (numpy's and
# torch's too) take steps of opposite sign there. float32 Adam runs with an eps above that noise.
F32_ADAM = {"adam": lambda ps: gradc.optim.Adam(ps, lr=2e-3, eps=1e-6)}
TOL = {"float64": 1e-9, "float32": 1e-4}


def _close(a, b, tol, what):
    a, b = a.detach().numpy(), b.detach().numpy()
    scale = max(float(np.max(np.abs(b))), 1e-30)
    assert float(np.max(np.abs(a - b))) <= tol * scale, what


@pytest.mark.parametrize("dtype", list(TOL))
@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize("form", ["module", "step"])
def test_compiled_lenet_tracks_eager_training_for_20_steps(form, opt, dtype):
    dt, tol = getattr(gradc, dtype), TOL[dtype]
    gradc.manual_seed(0)
    net = LeNet().to(dt)
    ref = copy.deepcopy(net)
    make = (F32_ADAM if dtype == "float32" else {}).get(opt, OPTIMIZERS[opt])
    o, ro = make(net.parameters()), make(ref.parameters())
    if form == "module":
        compiled = gradc.compile(net, backend="numba")
        step = train_step(compiled, o)  # the module compiled, loss and update eager
    else:
        compiled = step = gradc.compile(train_step(net, o), backend="numba")
    eager = train_step(ref, ro)
    for i, b in enumerate(BATCHES):
        x, y = gradc.randn(b, 1, 32, 32, dtype=dt), gradc.randint(0, 10, (b,))
        loss, ref_loss = step(x, y), eager(x, y)
        _close(loss, ref_loss, tol, f"loss, step {i}")
        for (name, p), q in zip(net.named_parameters(), ref.parameters()):
            _close(p, q, tol, f"{name}, step {i}")
            _close(p.grad, q.grad, tol, f"{name}.grad, step {i}")
            for k, s in o.state[p].items():
                if isinstance(s, gradc.Tensor):
                    _close(s, ro.state[q][k], tol, f"{name} {k}, step {i}")
    # the whole step compiles twice: the first call creates .grad and the optimizer state
    assert compiled.compiles == (1 if form == "module" else 2)
