"""Every differentiable primitive's vjp against float64 central differences, drawn by hypothesis.

One parameterised test walks ``op_cases.CASES``; a coverage test makes a new op add its row.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import gradc
from gradc.ops import OPS
from gradc.testing import gradcheck, gradgradcheck
from tests.core import op_cases_more  # noqa: F401  (its rows join CASES)
from tests.core.op_cases import CASES


def _library_ops() -> dict:
    """Differentiable primitives as the library defines them, in a fresh process.

    A fresh process leaves out ops that tests register (softplus_test...) and the derivative ops
    (``*_vjp*``) generated on first use.
    """
    code = (
        "import importlib, json, pkgutil, gradc.ops as o\n"
        "for m in pkgutil.iter_modules(o.__path__):\n"
        "    importlib.import_module('gradc.ops.' + m.name)\n"
        "print(json.dumps({n: op.kind for n, op in o.OPS.items()"
        " if op.differentiable and '_vjp' not in n}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


LIBRARY_OPS = _library_ops()
# var: its vjp drops a term that is zero only at first order; prod: its vjp picks branches by
# the zeros: both are checked to second order
GRADGRAD = sorted(
    n for n, kind in LIBRARY_OPS.items() if kind == "pointwise" or n in ("matmul", "var", "prod")
)


def _check_case(name, fn, inputs):
    out = fn(*inputs)
    assert out.grad_fn is not None and out.grad_fn.op.name == name, (
        f"the {name} row must end in the {name} primitive, got {out.grad_fn}"
    )
    assert gradcheck(fn, *inputs)


def test_every_differentiable_op_has_a_row():
    missing = sorted(set(LIBRARY_OPS) - set(CASES))
    assert not missing, (
        f"no row in tests/core/op_cases.py for {missing}: add one with @case(name) "
        "(see that file's docstring)"
    )


def test_rows_name_existing_ops():
    assert set(CASES) <= set(OPS), sorted(set(CASES) - set(OPS))


@pytest.mark.parametrize("name", sorted(CASES))
def test_vjp_matches_finite_differences(name):
    @given(CASES[name]())
    def check(case):
        _check_case(name, *case)

    check()


@pytest.mark.parametrize("name", [n for n in GRADGRAD if n in CASES])
def test_second_derivative_matches_finite_differences(name):
    @given(CASES[name](small=True))
    def check(case):
        fn, inputs = case
        assert gradgradcheck(fn, *inputs)

    check()


def test_gradgrad_set_is_pointwise_ops_and_matmul():
    assert {"add", "mul", "tanh", "sigmoid", "where", "matmul"} <= set(GRADGRAD)
    assert not {"sum", "reshape", "getitem"} & set(GRADGRAD)


# ---- semantics finite differences cannot see -------------------------------------------------
def test_amax_ties_share_the_gradient_equally():
    x = gradc.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    x.amax(1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


@pytest.mark.parametrize(
    "fn, x, expected",
    [
        (gradc.relu, [-1.0, 0.0, 2.0], [0.0, 0.0, 1.0]),  # torch: relu'(0) = 0
        (gradc.abs, [-1.0, 0.0, 2.0], [-1.0, 0.0, 1.0]),  # torch: abs'(0) = 0
        (lambda x: gradc.maximum(x, gradc.zeros(3, dtype=gradc.float64)), [-1.0, 0.0, 2.0], None),
        (lambda x: x.clamp(0.0, 1.0), [-1.0, 0.0, 1.0], [0.0, 1.0, 1.0]),  # torch: 1 at bounds
    ],
)
def test_kink_conventions(fn, x, expected):
    t = gradc.tensor(x, dtype=gradc.float64, requires_grad=True)
    fn(t).sum().backward()
    if expected is None:  # maximum at a tie: torch splits the gradient (0.5); gradc's is in [0, 1]
        assert 0.0 <= t.grad[1].item() <= 1.0 and t.grad[0].item() == 0 and t.grad[2].item() == 1
    else:
        np.testing.assert_array_equal(t.grad.numpy(), expected)


# ---- composites of the public API (not primitives, but users call them) ----------------------
def _leaf(draw, shape, lo=-3.0, hi=3.0):
    from gradc.testing.strategies import tensors

    return draw(tensors(gradc.float64, shape=shape, elements=st.floats(lo, hi), requires_grad=True))


@st.composite
def _composites(draw):
    from gradc.testing.strategies import shapes

    shape = draw(shapes(min_dims=1, max_dims=3, max_side=3))
    x = _leaf(draw, shape)
    nd = len(shape)
    dim = draw(st.integers(-nd, nd - 1))
    kind = draw(
        st.sampled_from(
            [
                "mean",
                "stack",
                "flatten",
                "squeeze",
                "unsqueeze",
                "transpose",
                "mv",
                "vm",
                "dot",
                "softmax",
                "clamp",
                "max_dim",
                "t",
            ]
        )
    )
    if kind == "mean":
        return (lambda x: x.mean(dim, keepdim=True)), [x]
    if kind == "stack":
        y = _leaf(draw, shape)
        return (lambda x, y: gradc.stack([x, y], dim)), [x, y]
    if kind == "flatten":
        return (lambda x: x.flatten(dim)), [x]
    if kind == "squeeze":
        return (lambda x: x.unsqueeze(0).squeeze()), [x]
    if kind == "unsqueeze":
        return (lambda x: x.unsqueeze(dim)), [x]
    if kind == "transpose":
        return (lambda x: x.transpose(0, dim) * 2), [x]
    if kind == "t":
        m = _leaf(draw, shape[-2:] if nd >= 2 else shape)
        return (lambda m: m.t() * 2), [m]
    if kind in ("mv", "vm", "dot"):
        n = shape[-1]
        v = _leaf(draw, (n,))
        m = _leaf(draw, (n, 2) if kind == "vm" else (2, n))
        if kind == "mv":
            return (lambda m, v: m @ v), [m, v]
        if kind == "vm":
            return (lambda v, m: v @ m), [v, m]
        return (lambda v, w: v @ w), [v, _leaf(draw, (n,))]
    if kind == "softmax":

        def softmax(x):
            e = (x - x.amax(dim, keepdim=True).detach()).exp()
            return e / e.sum(dim, keepdim=True)

        return softmax, [x]
    if kind == "clamp":
        grid = draw(st.lists(st.integers(1, 9), min_size=x.numel(), max_size=x.numel()))
        x = gradc.tensor(np.reshape(grid, shape) / 10, dtype=gradc.float64, requires_grad=True)
        return (lambda x: x.clamp(0.25, 0.75) * x.clamp(min=0.45) + x.clamp(max=0.35)), [x]
    vals = np.arange(x.numel(), dtype=np.float64)
    np.random.default_rng(draw(st.integers(0, 100))).shuffle(vals)
    x = gradc.tensor(vals.reshape(shape), dtype=gradc.float64, requires_grad=True)
    return (lambda x: x.max(dim).values * 1.5 + x.min(dim).values), [x]


@given(_composites())
def test_public_composites_match_finite_differences(case):
    fn, inputs = case
    assert gradcheck(fn, *inputs)
