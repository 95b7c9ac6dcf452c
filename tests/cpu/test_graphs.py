"""Differential test over ``gradc.testing.strategies.graphs()``: random models, forward and
joint graphs, lowered == interpreted (float64, 1e-9: fused bodies and reductions reorder sums).

Each draw packs ``MODELS`` independent models into one graph, so one program checks them all.
numba compiles each kernel in ~0.2 s even at -O0, so CI runs 25 draws (200 models, forward and
joint: a few minutes on 2 shared cores); the ``thorough`` profile runs 250 (2,000 models)."""

from __future__ import annotations

import os

import numpy as np
from hypothesis import given, settings

import gradc
from gradc.ir import interpret
from gradc.testing.strategies import graphs

MODELS = 8
EXAMPLES = 25 if os.environ.get("CI") else settings.default.max_examples // 2


def _tangents(joint) -> dict:
    return {
        v.name.lstrip("%"): np.ones(v.type.shape, v.type.dtype.np)
        for v in joint.inputs
        if v.name.startswith("%tangents")
    }


def assert_lowered_equals_interpreted(graph, *inputs, **named):
    want = interpret(graph, *inputs, **named)
    got = gradc.lower(graph)(*inputs, **named)
    assert len(got) == len(want)
    for k, (a, b) in enumerate(zip(got, want)):
        assert a.shape == b.shape and a.dtype == b.dtype, (k, a.shape, b.shape)
        msg = f"output {k} of\n{graph}"  # the failing model, to paste into a regression test
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=msg)


@settings(max_examples=EXAMPLES)
@given(graphs(models=MODELS))
def test_random_models_forward_and_joint(case):
    graph, inputs = case
    assert_lowered_equals_interpreted(graph, *inputs)
    joint = gradc.joint_graph(graph)
    assert_lowered_equals_interpreted(joint, *inputs, **_tangents(joint))


def test_found_a_transpose_written_into_the_output_of_its_loop():
    """graphs() found (thorough profile): a permute(1, 0) whose only reader is the pointwise
    loop storing the kernel's output was named as that output, then bound to a transposed view,
    so the loop wrote into the view and the output stayed uninitialised memory."""

    def f(x):
        c = gradc.cat([x, x], 0)
        p = c.reshape(1, 2).expand(2, 2).permute(1, 0)
        return (p.abs() + 0.5).log(), c

    x = np.array([-0.7])
    assert_lowered_equals_interpreted(gradc.trace(f, gradc.from_numpy(x)), x)
