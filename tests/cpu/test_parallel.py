"""Kernels split over the batch: ``runtime.parallel.split`` runs one function on slices of the
batch in threads (partial sums added after the join), and a lowered LeNet step splits its
convolution, pooling and weight-gradient kernels and still equals the interpreter."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

import gradc
from bench.lenet_joint import build, inputs
from gradc.ir import interpret
from runtime import parallel


@njit(nogil=True)
def _rows_and_sum(x, w, rows, total, n):
    """rows[i] = x[i] * w; total = the column sums of rows over the batch."""
    total[:] = 0
    for i in range(n):
        for j in range(x.shape[1]):
            rows[i, j] = x[i, j] * w[j]
            total[j] += rows[i, j]


@pytest.mark.parametrize("n", [1, 7, 8, 33, 64])
@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_split_equals_one_call(n, threads, monkeypatch):
    monkeypatch.setenv("GRADC_THREADS", threads)
    rng = np.random.default_rng(n)
    x, w = rng.standard_normal((n, 5)), rng.standard_normal(5)
    rows, total = np.full((n, 5), np.nan), np.full(5, np.nan)
    parts: dict = {}
    for _ in range(2):  # the second call reuses the partial buffers kept in ``parts``
        parallel.split(_rows_and_sum, n, (x, w, rows, total), (1, 0, 1, 2), parts, 0)
        np.testing.assert_allclose(rows, x * w, rtol=1e-15)
        np.testing.assert_allclose(total, (x * w).sum(0), rtol=1e-12)
    used = min(int(threads), n // (parallel.MIN_BATCH // 2))
    assert len(parts) == (used - 1 if n >= parallel.MIN_BATCH and used > 1 else 0)


def test_an_error_in_any_slice_reaches_the_caller(monkeypatch):
    monkeypatch.setenv("GRADC_THREADS", "2")

    def fn(x, n):
        if x[0] > 0:  # only the second half holds positives
            raise ValueError("slice failed")

    x = np.r_[-np.ones(8), np.ones(8)]
    with pytest.raises(ValueError, match="slice failed"):
        parallel.split(fn, 16, (x,), (1,), {}, 0)
    parallel.split(fn, 16, (-np.ones(16),), (1,), {}, 0)  # the workers still run


def test_lenet_step_splits_its_heavy_kernels_and_equals_the_interpreter(monkeypatch):
    monkeypatch.setenv("GRADC_THREADS", "2")
    net, joint = build("cross_entropy", dtype=gradc.float64)
    prog = gradc.lower(joint)
    split = [k.name for k in prog.plan.kernels if k.split is not None]
    for kind in ("conv2d", "max_pool2d_indices", "conv2d_input_grad", "conv2d_weight_grad"):
        assert any(kind in name for name in split), (kind, split)
    assert not any("matmul" in name for name in split)  # fc rows are too small to pay
    for n in (7, 64):  # below and above runtime.parallel.MIN_BATCH
        args, named = inputs(net, "cross_entropy", n, seed=n, dtype=np.float64)
        got, want = prog(*args, **named), interpret(joint, *args, **named)
        for name, a, b in zip(joint.output_names, got, want):
            scale = max(float(np.max(np.abs(b))), 1e-30)
            assert float(np.max(np.abs(a - b))) <= 1e-9 * scale, (name, n)
