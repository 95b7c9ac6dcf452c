"""A compiled training step in steady state allocates no arrays: the program's buffers, its
kernels' scratch (im2col columns, float64 accumulators) and its outputs are made by the first
calls of a shape and reused; parameters, ``.grad`` and optimizer state are updated in place."""

import gc
import sys
import tracemalloc
from pathlib import Path

import pytest

import gradc

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from lenet import LeNet  # noqa: E402

from tests.compile.steps import train_step  # noqa: E402

# A step's Python objects (Tensors, guard lists) come to ~10 KB; one conv1 activation at B=64 is
# 1.2 MB, and the kernels' im2col scratch, when each call made its own, showed up as 86 KB.
LIMIT = 64 * 1024


def _addresses(net, opt):
    out = []
    for p in net.parameters():
        out += [p.detach().numpy().ctypes.data, p.grad.numpy().ctypes.data]
        out += [s.numpy().ctypes.data for s in opt.state[p].values() if hasattr(s, "numpy")]
    return out


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda ps: gradc.optim.SGD(ps, lr=0.01, momentum=0.9),
        lambda ps: gradc.optim.Adam(ps, lr=1e-3),
    ],
    ids=["sgd_momentum", "adam"],
)
def test_steps_3_to_10_allocate_nothing(make_opt):
    gradc.manual_seed(0)
    net = LeNet()
    opt = make_opt(net.parameters())
    step = gradc.compile(train_step(net, opt), backend="numba")
    x, y = gradc.randn(64, 1, 32, 32), gradc.randint(0, 10, (64,))  # split over the threads
    for _ in range(2):
        step(x, y).item()
    before = _addresses(net, opt)
    tracemalloc.start()  # numba's allocations (NRT) are traced too
    try:
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        for k in range(3, 11):
            gc.collect()  # garbage of the last step (reference cycles) is not this step's
            start = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            step(x, y).item()
            peak = tracemalloc.get_traced_memory()[1]
            assert peak - start < LIMIT, f"step {k} allocated {peak - start} bytes at its peak"
        gc.collect()
        now = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert now - base < LIMIT, f"{now - base} bytes still held after 8 steps"
    assert _addresses(net, opt) == before  # the same arrays, written in place
    assert step.compiles == 2
