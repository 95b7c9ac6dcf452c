"""CPU test rows of ops added to the table after the code generator (``tests/cpu/op_rows.py``
holds the rest and the ``row`` helper): max_pool2d's argmax op and routing by it, embedding."""

from __future__ import annotations

import gradc
from gradc.dispatch import apply
from gradc.ops.window import out_hw
from tests.cpu.op_rows import BOOL, F32, F64, I64, N, _op, row

I32 = gradc.int32


def _nasty(x):
    """Small ints (ties) made NaN where 3 and -inf where below 1: windows of ties, NaNs and
    -inf only (padded or not) all occur, and each must pick the impl's index."""
    inf, nan = gradc.tensor(float("inf"), dtype=F64), gradc.tensor(float("nan"), dtype=F64)
    three, one = gradc.tensor(3.0, dtype=F64), gradc.tensor(1.0, dtype=F64)
    y = apply("where", apply("lt", x, one), apply("neg", inf), x)
    return apply("where", apply("eq", x, three), nan, y)


def _index_rows(x, label, **attrs):
    attrs = {"padding": (0, 0), "dilation": (1, 1), **attrs}
    oh, ow = out_hw(
        x[1:], attrs["kernel_size"], attrs["stride"], attrs["padding"], attrs["dilation"]
    )
    xs = ((N, *x), F64, "ints")

    def idx(x):
        return apply("max_pool2d_indices", _nasty(x), **attrs)

    def scatter(ct, x):
        return apply("max_pool2d_scatter", ct, idx(x), input_size=tuple(x.shape[2:]), **attrs)

    def gather(g, x):
        return apply("max_pool2d_gather", g, idx(x), **attrs)

    row("max_pool2d_indices", _op("max_pool2d_indices", **attrs), [xs], label)
    row("max_pool2d_indices", idx, [xs], f"{label}-nan")
    row("max_pool2d_scatter", scatter, [((N, x[0], oh, ow), F64, "any"), xs], label)
    row("max_pool2d_gather", gather, [((N, *x), F64, "any"), xs], label)


_index_rows((2, 6, 6), "k2", kernel_size=(2, 2), stride=(2, 2))
_index_rows((3, 7, 6), "pad", kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), dilation=(1, 2))
_index_rows((2, 5, 7), "overlap", kernel_size=(3, 3), stride=(1, 2), padding=(1, 1))

# indices in [-3, 4): negative ones wrap, duplicates accumulate in the backward
_W = ((5, 3), F64, "any")
row("embedding", _op("embedding"), [_W, ((N, 2), I64, "ints")])
row("embedding", _op("embedding", padding_idx=0), [_W, ((N,), I32, "ints")], "i32")
_CT = ((N, 2, 3), F64, "any")
row("embedding_backward", _op("embedding_backward", num_weights=5), [_CT, ((N, 2), I64, "ints")])
row(
    "embedding_backward",
    _op("embedding_backward", num_weights=5, padding_idx=-2),
    [_CT, ((N, 2), I32, "ints")],
    "pad-i32",
)
row(
    "embedding_backward",
    _op("embedding_backward", num_weights=4, padding_idx=1),
    [((N, 1), F64, "any"), ((N,), I64, "ints")],
    "pad",
)

# the dtypes added after the code generator: int32 and uint8 lower (float16 does not: numba has
# no CPU float16, see tests/cpu/test_dtypes.py)
U8 = gradc.uint8
row("add", _op("add"), [((N, 3), I32, "ints"), ((3,), I32, "ints")], "i32")
row("mul", _op("mul"), [((N, 3), U8, "ints"), ((N, 1), U8, "ints")], "u8")
row("cast", _op("cast", dtype=I32), [((N, 3), F64, "any")], "f64-i32")
row("sum", _op("sum", dim=(1,)), [((N, 3), U8, "ints")], "u8")

# issue 11's selection ops
row("flip", _op("flip", dims=(0, 2)), [((N, 3, 4), F64, "any")])
row("flip", _op("flip", dims=(1,)), [((N, 3), I64, "ints")], "i64")


def _in_range(idx, n):
    return apply("remainder", idx, n)  # ints in [-3, 4) to [0, n)


row(
    "gather",
    lambda x, i: apply("gather", x, _in_range(i, 5), dim=1),
    [((N, 5), F64, "any"), ((N, 4), I64, "ints")],
)
row(
    "gather",
    lambda x, i: apply("gather", x, _in_range(i, 5), dim=0),
    [((5, N), F64, "any"), ((3, 1), I32, "ints")],
    "dim0-i32",
)
row(
    "gather",
    lambda x, i: apply("gather", x, _in_range(i, 4), dim=0),
    [((4,), I64, "ints"), ((), I64, "ints")],
    "0d-index",
)
row(
    "scatter_add",
    lambda b, i, s: apply("scatter_add", b, _in_range(i, 3), s, dim=1),
    [((N, 3), F64, "any"), ((N, 5), I64, "ints"), ((N, 5), F64, "any")],
)
row(
    "scatter_add",
    lambda b, i, s: apply("scatter_add", b, _in_range(i, 4), s, dim=0),
    [((4, 2), I64, "ints"), ((N, 1), I64, "ints"), ((N, 1), I64, "ints")],
    "dim0-i64",
)
row("argsort", _op("argsort", dim=1, descending=False), [((N, 6), F64, "special")])
row("argsort", _op("argsort", dim=0, descending=True), [((N, 3), F64, "special")], "desc")
row("argsort", _op("argsort", dim=1, descending=True), [((N, 7), I64, "ints")], "desc-ties")
row("argsort", _op("argsort", dim=0, descending=False), [((N,), BOOL, "bool")], "bool")

# & | ^ ~ of integers (uint8 wraps: ~5 is 250)
for _name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    row(_name, _op(_name), [((N, 3), I32, "ints"), ((3,), I32, "ints")], "i32")
    row(_name, _op(_name), [((N, 3), U8, "ints"), ((N, 1), U8, "ints")], "u8")
row("invert", _op("invert"), [((N, 3), I32, "ints")], "i32")
row("invert", _op("invert"), [((N, 3), U8, "ints")], "u8")
row("invert", _op("invert"), [((N, 3), I64, "ints")], "i64")

# var: over the batch (a symbolic count), inner dims, keepdim, a correction above the count
row("var", _op("var", dim=(1,), correction=1), [((N, 3, 4), F64, "any")], "d1")
row("var", _op("var", dim=(0, 2), correction=0, keepdim=True), [((N, 3, 4), F64, "any")], "d02k")
row("var", _op("var", dim=(0, 1), correction=1), [((N, 3), F64, "any")], "all")
row("var", _op("var", dim=(1,), correction=2), [((N, 2), F64, "any")], "c2-of-2")
row("var", _op("var", dim=(), correction=0), [((), F64, "any")], "0d")
row("var", _op("var", dim=(1,), correction=1), [((N, 5), F32, "any")], "f32", rtol=2e-6)
row("cumsum", _op("cumsum", dim=1, reverse=True), [((N, 4, 3), F64, "any")], "reverse")
row("cumsum", _op("cumsum", dim=0, reverse=True), [((N, 3), I64, "ints")], "reverse-i64-d0")
row("var", _op("var", dim=None, correction=1), [((N, 3), F64, "any")], "dim-none")

# softmax, log_softmax: over the batch (a symbolic length), inner and last dims, 0-d, an empty
# dim, float32, and rows of ties with NaN and -inf in them (a NaN row stays NaN, a row of -inf
# is NaN)
for _name in ("softmax", "log_softmax"):
    row(_name, _op(_name, dim=1), [((N, 4, 3), F64, "any")], "d1")
    row(_name, _op(_name, dim=0), [((N, 3), F64, "any")], "d0-batch")
    row(_name, _op(_name, dim=2), [((N, 2, 5), F64, "any")], "last")
    row(_name, _op(_name, dim=0), [((), F64, "any")], "0d")
    row(_name, _op(_name, dim=1), [((N, 0), F64, "any")], "empty-dim")
    row(_name, _op(_name, dim=1), [((N, 5), F32, "any")], "f32", rtol=2e-6)
    row(_name, lambda x, _n=_name: apply(_n, _nasty(x), dim=1), [((N, 4), F64, "ints")], "nan")
