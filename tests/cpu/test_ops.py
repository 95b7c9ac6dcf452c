"""Every op of the table, lowered to numba, equals the interpreter: one row per op and variant
(``tests/cpu/op_rows.py``), each lowered once with a symbolic batch and run at two batch sizes
without a recompile. float64 and integer results match to 1e-12 relative or exactly; float32
rows state their tolerance (2e-6: numba evaluates a fused body in float64 before rounding)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradc
from gradc.dispatch import apply
from gradc.ir import interpret
from tests.cpu import op_rows_more  # noqa: F401  (adds its rows to ROWS)
from tests.cpu.op_rows import LIBRARY_OPS, ROWS

_PROGRAMS: dict = {}


def lowered(r):
    if r.id not in _PROGRAMS:
        g = r.graph()
        _PROGRAMS[r.id] = (g, gradc.lower(g, optimize=False))
    return _PROGRAMS[r.id]


def check_equal(got, want, rtol):
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


def run_both(r, g, prog, inputs):
    if r.seeded:
        gradc.manual_seed(5)
    want = interpret(g, *inputs)
    if r.seeded:
        gradc.manual_seed(5)
    got = prog(*inputs)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        check_equal(np.asarray(a), b, r.rtol)


@pytest.mark.parametrize("r", ROWS, ids=[r.id for r in ROWS])
@settings(max_examples=3)
@given(n1=st.integers(1, 4), n2=st.integers(5, 9), seed=st.integers(0, 2**16))
def test_lowered_equals_interpreter(r, n1, n2, seed):
    g, prog = lowered(r)
    assert any(n.op.name == r.op for n in prog.graph.nodes), f"{r.op} is not in the program"
    rng = np.random.default_rng(seed)
    for n in (n1, n2):
        run_both(r, g, prog, r.inputs(rng, n))
    assert all(len(s) == 1 for s in prog.signatures), "a new batch size recompiled a kernel"


def test_every_op_has_a_row():
    missing = sorted(set(LIBRARY_OPS) - {r.op for r in ROWS})
    assert not missing, f"ops without a CPU test row in tests/cpu/op_rows.py: {missing}"


def test_an_op_without_lowering_names_the_op():
    from gradc.ops.table import OPS as table
    from gradc.ops.table import Op, register
    from gradc.shapes import TensorType

    if "cpu_test_opaque" not in table:
        register(
            Op(
                "cpu_test_opaque",
                lambda t: TensorType(t.dtype, t.shape),
                lambda a: a,
                kind="opaque",
            )
        )
    g = gradc.trace(lambda x: gradc.dispatch.apply("cpu_test_opaque", x), gradc.TensorSpec((3,)))
    with pytest.raises(gradc.GradcError, match="cpu_test_opaque"):
        gradc.lower(g, optimize=False)


def test_bad_inputs_name_the_input_and_shapes():
    r = next(r for r in ROWS if r.id == "matmul")
    g, prog = lowered(r)
    x, w = np.ones((3, 4)), np.ones((4, 5))
    with pytest.raises(gradc.ShapeError, match=r"%xs1 dim 0 must be 4.*\[5, 5\]"):
        prog(x, np.ones((5, 5)))
    with pytest.raises(gradc.ShapeError, match="has 1 dims"):
        prog(np.ones(4), w)
    with pytest.raises(gradc.DTypeError, match="float32"):
        prog(x.astype(np.float32), w)
    np.testing.assert_allclose(prog(np.asfortranarray(x), w[:, ::1])[0], x @ w)  # any layout
    assert all(len(s) == 1 for s in prog.signatures)
    with pytest.raises(gradc.DeviceError, match="cpu"):
        gradc.lower(g, device="cuda")


def test_a_symbol_no_input_binds_is_a_lowering_error():
    n = gradc.Dim("N")
    spec = gradc.TensorSpec((2,), gradc.float64)
    g = gradc.trace(lambda x: apply("full", shape=(2,), value=1 / n, dtype=gradc.float64) * x, spec)
    with pytest.raises(gradc.GradcError, match="symbols N are not the size of any input dim"):
        gradc.lower(g, optimize=False)


@pytest.mark.parametrize("weight", [(3, 1, 3, 3), (4, 3, 5, 5)], ids=["direct", "im2col"])
@pytest.mark.parametrize("keep", [False, True], ids=["fused", "raw-returned"])
def test_a_pointwise_epilogue_fused_into_a_convolution_equals_the_interpreter(weight, keep):
    """The chain after a convolution runs on each element as the convolution stores it; the
    convolution's own value is stored too only when something reads it (here: returned)."""
    N = gradc.Dim("N")
    c = weight[1]

    def f(x, w, b):
        y = gradc.nn.functional.conv2d(x, w, b)
        z = gradc.tanh(y) * 2.0 + x.mean()
        return (z, y) if keep else z

    shapes = ((N, c, 9, 8), weight, (weight[0],))
    specs = [gradc.TensorSpec(s, dtype=gradc.float64) for s in shapes]
    g = gradc.trace(f, *specs)
    prog = gradc.lower(g)
    assert any("conv2d" in k.name and "tanh" in k.name for k in prog.plan.kernels)
    rng = np.random.default_rng(1)
    for n in (1, 5):
        args = [rng.standard_normal((n, c, 9, 8)), rng.standard_normal(weight)]
        args.append(rng.standard_normal(weight[0]))
        for a, b in zip(prog(*args), interpret(g, *args)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
