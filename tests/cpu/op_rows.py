"""The CPU test table: one or more rows per op of ``gradc.ops.OPS``, each a small graph traced
with a symbolic batch ``N`` that applies the op, plus how to draw its inputs for a given ``N``.

A row is lowered once and run at several batch sizes (numba compiles are slow; a new batch size
must not recompile anyway). ``tests/cpu/test_ops.py`` walks the table; its coverage test fails
when an op of the table has no row (generated derivative and fused pointwise ops excepted: they
lower through the same expression printer as the ops they come from).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field

import numpy as np

import gradc
from gradc.dispatch import apply
from gradc.indexing import normalize_index
from gradc.ops import OPS
from gradc.ops.window import out_hw


def library_ops() -> dict:
    """``{name: kind}`` of every op the library itself defines, from a fresh process: ops that
    tests register and derivative ops generated on first use are left out."""
    code = (
        "import json, gradc\n"
        "from gradc.ops import OPS\n"
        "print(json.dumps({n: op.kind for n, op in OPS.items() if '_vjp' not in n}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


LIBRARY_OPS = library_ops()
N = gradc.Dim("N")
F64, F32, I64, BOOL = gradc.float64, gradc.float32, gradc.int64, gradc.bool


@dataclass
class Row:
    op: str
    fn: object  # fn(*tensors) -> Tensor or list of Tensors
    specs: list  # [(shape with N, dtype, values)], values: any | pos | ints | bool
    label: str = ""
    rtol: float = 1e-12
    seeded: bool = False  # reseed gradc's generator before each run (rand)
    attrs: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.op}-{self.label}" if self.label else self.op

    def graph(self):
        specs = [gradc.TensorSpec(s, d) for s, d, _ in self.specs]
        return gradc.trace(self.fn, *specs, name=self.op)

    def inputs(self, rng, n: int) -> list:
        out = []
        for shape, dtype, values in self.specs:
            shape = tuple(int(d.subs(N, n)) if not isinstance(d, int) else d for d in shape)
            out.append(draw(rng, shape, dtype, values))
        return out


# nan, infinities, signed zeros, halves (ties of round), integers, a float32 overflow
_SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.0, -3.7, 1e300]


def draw(rng, shape, dtype, values="any"):
    if values == "state":  # an RNG state (seed, offset): any 64 bits, offsets near the wrap
        return np.array([rng.integers(-(2**63), 2**63), rng.integers(-(2**63), 2**63)])
    if values == "special":
        return rng.choice(np.array(_SPECIAL), shape).astype(dtype.np)
    if dtype is BOOL or values == "bool":
        return rng.random(shape) < 0.5
    if values == "ints" or dtype is I64:
        return rng.integers(-3, 4, shape).astype(dtype.np)
    if values == "pos":
        return rng.uniform(0.2, 3.0, shape).astype(dtype.np)
    return rng.uniform(-3.0, 3.0, shape).astype(dtype.np)


ROWS: list[Row] = []


def row(op, fn, specs, label="", **kw):
    ROWS.append(Row(op, fn, specs, label, **kw))


def _op(name, **attrs):
    return lambda *xs: apply(name, *xs, **attrs)


# ---- pointwise: every base pointwise op, broadcasting [N,1,3] against [4,1] ------------------
_POSITIVE = {"log", "sqrt", "pow"}
_INTS = {"eq", "ne", "lt", "le", "gt", "ge", "maximum", "minimum"}  # ties matter here
_F32 = {"div", "exp", "log", "tanh", "sigmoid", "relu", "pow", "lt"}
_BASE_POINTWISE = [
    name
    for name, kind in LIBRARY_OPS.items()
    if kind == "pointwise" and name not in ("where", "cast")
]
for _name in _BASE_POINTWISE:
    _n = len(OPS[_name].expr.variables)
    _vals = "pos" if _name in _POSITIVE else "ints" if _name in _INTS else "any"
    _shapes = [(N, 1, 3), (4, 1)][:_n] if _n > 1 else [(N, 3)]
    if _name == "invert":  # ~ of integers: its rows are in op_rows_more.py
        continue
    if _name.startswith("bitwise_"):  # integer rows in op_rows_more.py
        row(_name, _op(_name), [(s, BOOL, "bool") for s in _shapes], "bool")
        continue
    row(_name, _op(_name), [(s, F64, _vals) for s in _shapes])
    if _name in _F32:
        row(_name, _op(_name), [(s, F32, _vals) for s in _shapes], "f32", rtol=2e-6)
for _name in ("add", "mul", "maximum", "lt", "eq", "abs", "neg"):
    _n = len(OPS[_name].expr.variables)
    row(_name, _op(_name), [(s, I64, "ints") for s in [(N, 3), (3,)][:_n]], "i64")
row("add", _op("add"), [((N, 3), BOOL, "bool"), ((3,), BOOL, "bool")], "bool")
# rounding, remainders and float tests: nan, inf, ties and zero divisors, and integer operands
# (exact integer arithmetic, 0 for a zero divisor, as numpy)
_SPECIAL_OPS = ["floor", "ceil", "round", "trunc", "sign", "exp2", "isnan", "isinf", "isfinite"]
_SPECIAL_OPS += ["floor_divide", "trunc_divide", "remainder", "fmod"]
_SPECIAL_OPS += ["relu", "maximum", "minimum", "clamp_min", "clamp_max", "sigmoid", "abs"]
for _name in _SPECIAL_OPS:
    _n = len(OPS[_name].expr.variables)
    _shapes = [(N, 1, 3), (4, 1)][:_n] if _n > 1 else [(N, 3)]
    row(_name, _op(_name), [(s, F64, "special") for s in _shapes], "special")
    if _name not in ("relu", "sigmoid", "clamp_min", "clamp_max", "maximum", "minimum", "abs"):
        row(_name, _op(_name), [(s, I64, "ints") for s in _shapes], "i64")
for _name in ("round", "trunc", "trunc_divide", "fmod"):
    _n = len(OPS[_name].expr.variables)
    _shapes = [(N, 1, 3), (4, 1)][:_n] if _n > 1 else [(N, 3)]
    row(_name, _op(_name), [(s, F32, "special") for s in _shapes], "f32-special", rtol=2e-6)
row("exp", _op("exp"), [((N, 3), I64, "ints")], "i64")
row("where", _op("where"), [((N, 1), BOOL, "bool"), ((N, 3), F64, "any"), ((3,), F64, "any")])
row(
    "where",
    _op("where"),
    [((N, 3), BOOL, "bool"), ((N, 3), I64, "ints"), ((), F64, "any")],
    "mixed",
)
for _src, _dst in [(F64, F32), (F64, I64), (F32, BOOL), (BOOL, F64), (I64, F64)]:
    row("cast", _op("cast", dtype=_dst), [((N, 3), _src, "any")], f"{_src.short}-{_dst.short}")
# a user's sympy op: lowered from its expression alone
import sympy  # noqa: E402

_softsign = gradc.elementwise(
    "cpu_test_softsign",
    lambda x: sympy.Piecewise((x / (1 + sympy.Abs(x)), x > -1), (sympy.cosh(x), True)),
)
row("cpu_test_softsign", _softsign, [((N, 3), F64, "any")])

# ---- reductions ------------------------------------------------------------------------------
for _name in ("sum", "amax", "amin"):
    row(_name, _op(_name, dim=(1,)), [((N, 3, 4), F64, "any")], "d1")
    row(_name, _op(_name, dim=(0, 2), keepdim=True), [((N, 3, 4), F64, "ints")], "d02k")
    row(_name, _op(_name, dim=(0, 1)), [((N, 3), I64, "ints")], "i64-all")
for _name in ("sum", "prod"):
    row(_name, _op(_name, dim=(0,)), [((N, 3), BOOL, "bool")], "bool")
row("prod", _op("prod", dim=(1,)), [((N, 3, 4), F64, "any")], "d1")
row("prod", _op("prod", dim=(0, 2), keepdim=True), [((N, 3, 4), F64, "ints")], "d02k")
row("prod", _op("prod", dim=(0, 1)), [((N, 3), I64, "ints")], "i64-all")
row("prod", _op("prod", dim=(1,)), [((N, 5), F32, "any")], "f32", rtol=2e-6)
row("cumsum", _op("cumsum", dim=1), [((N, 4, 3), F64, "any")], "d1")
row("cumsum", _op("cumsum", dim=0), [((N, 3), I64, "ints")], "i64-d0")
row("cumsum", _op("cumsum", dim=1), [((N, 5), BOOL, "bool")], "bool")
row("cumsum", _op("cumsum", dim=1), [((N, 5), F32, "any")], "f32", rtol=2e-6)
row(
    "cumsum",
    lambda s, x: [x, apply("cumsum", s, dim=0)],
    [((), F64, "any"), ((N,), F64, "any")],
    "0d",
)
row("sum", _op("sum", dim=(1,), keepdim=True), [((N, 5), F32, "any")], "f32", rtol=2e-6)
# a bias gradient's shape: lanes along the last dim (reduce.py's _lanes)
row("sum", _op("sum", dim=(0, 2, 3)), [((N, 3, 2, 7), F32, "any")], "f32-lanes", rtol=2e-6)
for _name in ("argmax", "argmin"):
    row(_name, _op(_name, dim=1), [((N, 4, 3), F64, "ints")], "d1")
    row(_name, _op(_name, dim=0, keepdim=True), [((N, 3), I64, "ints")], "d0k")
    row(_name, _op(_name), [((N, 3), F64, "ints")], "all")
    row(_name, _op(_name, keepdim=True), [((N, 2), F64, "ints")], "allk")

# ---- matmul ----------------------------------------------------------------------------------
row("matmul", _op("matmul"), [((N, 4), F64, "any"), ((4, 5), F64, "any")])
row("matmul", _op("matmul"), [((N, 1, 3, 4), F64, "any"), ((2, 4, 5), F64, "any")], "batch")
row("matmul", _op("matmul"), [((N, 3), F32, "any"), ((3, 2), F32, "any")], "f32", rtol=2e-6)
row("matmul", _op("matmul"), [((N, 3), I64, "ints"), ((3, 2), I64, "ints")], "i64")


# ---- convolution -----------------------------------------------------------------------------
def _conv_rows(x, w, bias, label, **attrs):
    attrs = {"stride": (1, 1), "padding": (0, 0), "dilation": (1, 1), "groups": 1, **attrs}
    specs = [((N, *x), F64, "any"), (w, F64, "any")] + ([((w[0],), F64, "any")] if bias else [])
    row("conv2d", _op("conv2d", **attrs), specs, label)
    oh, ow = out_hw(x[1:], w[2:], attrs["stride"], attrs["padding"], attrs["dilation"])
    ct = ((N, w[0], oh, ow), F64, "any")
    row(
        "conv2d_input_grad",
        _op("conv2d_input_grad", input_size=tuple(x[1:]), **attrs),
        [ct, (w, F64, "any")],
        label,
    )
    row(
        "conv2d_weight_grad",
        _op("conv2d_weight_grad", kernel_size=tuple(w[2:]), **attrs),
        [((N, *x), F64, "any"), ct],
        label,
    )


_conv_rows((3, 7, 6), (4, 3, 3, 2), True, "strided", stride=(2, 1), padding=(1, 0), dilation=(1, 2))
_conv_rows((4, 5, 5), (6, 2, 3, 3), False, "groups", padding=(1, 1), groups=2)
# few taps (conv_small's wide loops); many taps in chunks of 4 images (im2col, 2 chunks at n2)
_conv_rows((2, 6, 7), (3, 2, 2, 3), True, "small taps", dilation=(2, 1))
_conv_rows((3, 24, 22), (2, 3, 5, 5), True, "chunked")


# ---- pooling ---------------------------------------------------------------------------------
def _max_rows(x, label, **attrs):
    attrs = {"padding": (0, 0), "dilation": (1, 1), **attrs}
    oh, ow = out_hw(
        x[1:], attrs["kernel_size"], attrs["stride"], attrs["padding"], attrs["dilation"]
    )
    xs = ((N, *x), F64, "ints")  # small ints: ties pick the first max
    row("max_pool2d", _op("max_pool2d", **attrs), [xs], label)
    row(
        "max_pool2d_backward",
        _op("max_pool2d_backward", **attrs),
        [((N, x[0], oh, ow), F64, "any"), xs],
        label,
    )
    row("max_pool2d_select", _op("max_pool2d_select", **attrs), [((N, *x), F64, "any"), xs], label)


_max_rows((2, 6, 6), "k2", kernel_size=(2, 2), stride=(2, 2))
_max_rows((3, 7, 6), "pad", kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), dilation=(1, 2))


def _avg_rows(x, label, **attrs):
    attrs = {"padding": (0, 0), "count_include_pad": True, "divisor_override": None, **attrs}
    oh, ow = out_hw(x[1:], attrs["kernel_size"], attrs["stride"], attrs["padding"], (1, 1))
    row("avg_pool2d", _op("avg_pool2d", **attrs), [((N, *x), F64, "any")], label)
    row(
        "avg_pool2d_backward",
        _op("avg_pool2d_backward", input_size=tuple(x[1:]), **attrs),
        [((N, x[0], oh, ow), F64, "any")],
        label,
    )


_avg_rows((2, 6, 6), "k2", kernel_size=(2, 2), stride=(2, 2))
_avg_rows(
    (3, 7, 6), "nopad", kernel_size=(3, 3), stride=(2, 1), padding=(1, 1), count_include_pad=False
)
_avg_rows(
    (2, 5, 5), "override", kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), divisor_override=5
)

# ---- shapes, indexing, constants -------------------------------------------------------------
row("reshape", lambda x: x.reshape(-1, 4), [((N, 3, 4), F64, "any")], "merge")
row("reshape", lambda x: x.reshape(x.shape[0], 2, 6), [((N, 12), F64, "any")], "split")
row("reshape", _op("reshape", shape=()), [((1, 1), I64, "ints")], "scalar")
row("expand", _op("expand", shape=(N, 4, 3)), [((N, 1, 3), F64, "any")])
row("expand", _op("expand", shape=(2, N, 3)), [((N, 3), I64, "ints")], "lead")
row("permute", _op("permute", dims=(2, 0, 1)), [((N, 3, 4), F64, "any")])


def _getitem(key):
    return lambda x: apply("getitem", x, index=normalize_index(tuple(x.shape), key))


def _getitem_backward(shape, key):
    index = normalize_index(shape, key)

    def fn(g):
        return apply("getitem_backward", g, shape=shape, index=index)

    return fn


row("getitem", _getitem((slice(None), slice(1, 3), None, 0)), [((N, 4, 3), F64, "any")], "mixed")
row("getitem", _getitem((-1, slice(None, None, 2))), [((N, 5), I64, "ints")], "last")
row(
    "getitem_backward",
    _getitem_backward((N, 4, 3), (slice(None), slice(1, 3), None, 0)),
    [((N, 2, 1), F64, "any")],
    "mixed",
)
_last = (-1, slice(None, None, 2))


def _scatter_last(g, x):  # x binds N, which only the scatter's shape attr mentions
    shape = tuple(x.shape)
    return [apply("getitem_backward", g, shape=shape, index=normalize_index(shape, _last)), x]


row("getitem_backward", _scatter_last, [((3,), F64, "any"), ((N, 5), F64, "any")], "last")
row(
    "cat",
    lambda a, b, c: apply("cat", a, b, c, dim=1),
    [((N, 2, 3), F64, "any"), ((N, 1, 3), F32, "any"), ((N, 4, 3), F64, "any")],
    "d1",
)
row(
    "cat",
    lambda a, b: apply("cat", a, b, dim=0),
    [((N, 3), I64, "ints"), ((2, 3), I64, "ints")],
    "d0",
)
for _v, _d in [(2.5, F64), (float("inf"), F32), (float("nan"), F64), (True, BOOL), (7, I64)]:
    row(
        "full",
        lambda x, _v=_v, _d=_d: [x, apply("full", shape=(x.shape[0], 3), value=_v, dtype=_d)],
        [((N,), F64, "any")],
        f"{_d.short}",
    )
_CONST = np.arange(6.0).reshape(2, 3) / 7
row("constant", lambda x: x * gradc.tensor(_CONST, dtype=F64), [((N, 2, 3), F64, "any")])
# found by test_graphs: a 0-d constant reached the kernel as shape (1,) (np.ascontiguousarray)
row("constant", lambda x: x > gradc.tensor(0.25, dtype=F64), [((N, 2), F64, "any")], "0d")


def _rand(s, x):
    a = apply("rand", s, shape=(x.shape[0], 3), dtype=F64)
    return [x + a, apply("rand", s, shape=(2,), dtype=F32), apply("rand", s, shape=(), dtype=F64)]


# bit for bit: the program's Philox draws the interpreter's numbers from the same state
row("rand", _rand, [((2,), I64, "state"), ((N, 3), F64, "any")], rtol=0.0)
row(
    "rng_skip",
    lambda s, x: [x, apply("rng_skip", s, count=3 * x.shape[0] + 1)],
    [((2,), I64, "state"), ((N,), F64, "any")],
)


def _copy_slices(path):
    path = tuple((name, tuple(attrs.items())) for name, attrs in path)
    return lambda base, src: apply("copy_slices", base, src, path=path)


_sl = normalize_index((N, 4, 3), (slice(None), slice(1, 3)))
row(
    "copy_slices",
    _copy_slices([("getitem", {"index": _sl}), ("permute", {"dims": (2, 0, 1)})]),
    [((N, 4, 3), F64, "any"), ((3, N, 2), F64, "any")],
    "getitem-permute",
)
row(
    "copy_slices",
    _copy_slices(
        [
            ("reshape", {"shape": (N, 2, 3)}),
            ("getitem", {"index": normalize_index((N, 2, 3), (slice(None), 1))}),
            ("stop_gradient", {}),
        ]
    ),
    [((N, 6), I64, "ints"), ((N, 3), F64, "any")],
    "reshape-cast",
)
row(
    "copy_slices",
    _copy_slices([("getitem", {"index": normalize_index((N, 3), (-1, 2))})]),
    [((N, 3), F32, "any"), ((), F32, "any")],
    "element",
)
row("stop_gradient", lambda x: apply("stop_gradient", x) * 2.0, [((N, 3), F64, "any")])
row("no_grad_write", lambda x, y: apply("no_grad_write", x, y) * 2.0, [((N, 3), F64, "any")] * 2)

# ---- generated derivative ops: their conventions (Piecewise, nan, ties) at special values ----
from gradc.ops.pointwise import derivative_op  # noqa: E402

_DERIVED = ["abs", "maximum", "minimum", "clamp_min", "clamp_max", "relu", "sigmoid", "tanh"]
_DERIVED += ["erf", "sqrt", "exp", "remainder", "fmod", "atan2", "pow", "div", "acosh"]
for _name in _DERIVED:
    for _i, _rule in enumerate(OPS[_name].vjp):
        _d = derivative_op(_name, _i) if _rule is not None else "none"
        if not isinstance(_d, str):  # "identity", "zero": no op
            _k = len(_d.expr.variables)
            row(_d.name, _op(_d.name), [((N, 3), F64, "special")] * _k, "special")
