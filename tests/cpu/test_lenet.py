"""LeNet's optimized joint graph (forward + loss + backward), lowered once with a symbolic batch,
equals the interpreter at batch 1, 7 and 64 without recompiling (float64: 1e-9 relative to the
largest element of each output; float32 sums reorder, see test_ops for per-op bounds)."""

from __future__ import annotations

import numpy as np
import pytest

import gradc
from bench.lenet_joint import build, inputs
from gradc.ir import interpret


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_lenet_joint_graph_at_three_batch_sizes(loss):
    net, joint = build(loss, dtype=gradc.float64)
    prog = gradc.lower(joint)
    assert len(prog.plan.kernels) < len(prog.graph.nodes)  # fused, not one kernel per node
    for n in (1, 7, 64):
        args, named = inputs(net, loss, n, seed=n, dtype=np.float64)
        got, want = prog(*args, **named), interpret(joint, *args, **named)
        assert [a.shape for a in got] == [b.shape for b in want]
        for name, a, b in zip(joint.output_names, got, want):
            scale = max(float(np.max(np.abs(b))), 1e-30)
            assert float(np.max(np.abs(a - b))) <= 1e-9 * scale, (name, n)
    assert all(len(s) == 1 for s in prog.signatures)
