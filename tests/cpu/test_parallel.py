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
from gradc.passes.parallel import run_ends
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
        parallel.split(((_rows_and_sum, (x, w, rows, total), (1, 0, 1, 2)),), n, parts, 0)
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
        parallel.split(((fn, (x,), (1,)),), 16, {}, 0)
    parallel.split(((fn, (-np.ones(16),), (1,)),), 16, {}, 0)  # the workers still run


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


def test_a_run_of_kernels_shares_one_join_and_a_sum_over_the_batch_ends_it(monkeypatch):
    """Kernels split over the batch run in the same threads until one reads a sum over the
    images (``s``): its halves are added only at the join, so it starts a new run."""
    monkeypatch.setenv("GRADC_THREADS", "2")
    N = gradc.Dim("N")

    def f(x, w):
        h = gradc.relu(x * w)
        s = h.sum(0)
        return (h * s).sum(0), gradc.exp(h) * 2

    g = gradc.trace(f, gradc.TensorSpec((N, 2048)), gradc.TensorSpec((2048,)))
    prog = gradc.lower(g)
    runs = [line for line in prog.source.split("\n") if "_split((" in line]
    assert [line.count("(k") for line in runs] == [1, 2], runs
    rng = np.random.default_rng(0)
    for n in (7, 64):
        x = rng.standard_normal((n, 2048)).astype(np.float32)
        w = rng.standard_normal(2048).astype(np.float32)
        for a, b in zip(prog(x, w), interpret(g, x, w)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)


def test_lenet_step_runs_forward_and_backward_convolutions_as_two_runs(monkeypatch):
    """One handoff to the threads for the convolution and pooling kernels of each direction,
    not one per kernel."""
    monkeypatch.setenv("GRADC_THREADS", "2")
    net, joint = build("cross_entropy", dtype=gradc.float64)
    prog = gradc.lower(joint)
    runs = [line for line in prog.source.split("\n") if "_split((" in line]
    assert len(runs) == 2 and all(line.count("conv2d") >= 1 for line in runs), runs
    assert runs[0].count("(k") >= 5 and runs[1].count("(k") >= 5


def test_no_workspace_slot_is_reused_inside_a_run(monkeypatch):
    """Four pools in one run: the third's output would take the first's slot once the second
    has read it, but the other thread may still be reading rows of the first there."""
    monkeypatch.setenv("GRADC_THREADS", "2")
    N = gradc.Dim("N")
    pool = lambda t: gradc.nn.functional.max_pool2d(t, 2)
    g = gradc.trace(lambda x: pool(pool(pool(pool(x)))), gradc.TensorSpec((N, 4, 128, 128)))
    prog = gradc.lower(g)
    plan, values = prog.plan, {}
    for k, end in enumerate(run_ends(plan.kernels)):
        for v in (*plan.kernels[k].inputs, *plan.kernels[k].outputs):
            b = plan.memory.of(v)
            if b.kind == "temp":
                values.setdefault((end, b.index), set()).add(id(v))
    assert len(values) >= 2 and all(len(ids) == 1 for ids in values.values()), values
    x = np.random.default_rng(0).standard_normal((64, 4, 128, 128)).astype(np.float32)
    np.testing.assert_array_equal(prog(x)[0], interpret(g, x)[0])
