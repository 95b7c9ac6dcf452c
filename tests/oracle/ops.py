"""The op catalog of the fuzzer: one function per family, each appends lines to a Program.

Each function reads the torch values drawn so far (their shapes) to write a call that is
usually valid, and sometimes not (a dim out of range, a number where torch wants a tensor), so
that raising is compared too.
"""

from __future__ import annotations

import math

from hypothesis import strategies as st

from tests.oracle.programs import SCALARS, Program

OPS: dict = {}
WEIGHTS: dict = {}


def op(name: str, weight: int = 1):
    def deco(fn):
        OPS[name], WEIGHTS[name] = fn, weight
        return fn

    return deco


# torch: a view made under no_grad of a tensor that requires grad still requires grad (a
# view's autograd state is its base's). That is the views issue's (#12), so views here are
# never made under no_grad.
VIEWS = {"reshape", "view", "permute", "transpose", "t", "T", "unsqueeze", "squeeze", "flatten"}
VIEWS |= {"expand", "getitem", "contiguous", "detach", "max_dim"}


def assign(p: Program, expr: str, what: str, targets: int = 1) -> list[str]:
    """``v = expr`` (or ``a, b = expr``), sometimes inside ``no_grad()``; returns the names."""
    names = [p.fresh() for _ in range(targets)]
    lhs = ", ".join(names)
    if what not in VIEWS and p.draw(st.integers(0, 9)) == 0:
        p.run(f"with T.no_grad(): {lhs} = {expr}", what)
    else:
        p.run(f"{lhs} = {expr}", what)
    return names


def _dim(p: Program, ndim: int, bad: bool = True) -> int:
    lo, hi = -max(ndim, 1), max(ndim, 1) - 1
    if bad and p.draw(st.integers(0, 19)) == 0:
        return hi + 1
    return p.draw(st.integers(lo, hi))


def _dims(p: Program, ndim: int) -> str:
    """A reduction's dim argument as users write it: omitted, an int, a tuple, () or []."""
    kind = p.draw(st.sampled_from(["none", "int", "int", "tuple", "empty"]))
    if kind == "none":
        return ""
    if kind == "int":
        return f"dim={_dim(p, ndim)}"
    if kind == "empty":
        return "dim=" + p.draw(st.sampled_from(["()", "[]"]))
    chosen = p.draw(st.lists(st.integers(0, max(ndim - 1, 0)), min_size=1, max_size=3))
    signed = [p.draw(st.sampled_from([d, d - ndim])) for d in chosen]
    return f"dim={tuple(signed)!r}"


def _broadcastable(p: Program, shape) -> tuple:
    """A shape that broadcasts against ``shape``: trailing dims kept or set to 1."""
    keep = p.draw(st.integers(0, len(shape)))
    tail = shape[len(shape) - keep :]
    return tuple(p.draw(st.sampled_from([d, 1])) for d in tail)


# ---- pointwise -------------------------------------------------------------------------------
UNARY = ["exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "sin", "cos", "neg"]


@op("unary", 6)
def unary(p: Program):
    x, f = p.operand(), p.draw(st.sampled_from(UNARY))
    form = p.draw(st.sampled_from(["method", "function", "operator"]))
    if form == "operator" and f in ("neg", "abs"):
        expr = f"-{x}" if f == "neg" else f"abs({x})"
    elif form == "function" and f in ("relu", "sigmoid", "tanh"):
        expr = f"F.{f}({x})"
    elif form == "function":
        expr = f"T.{f}({x})"
    else:
        expr = f"{x}.{f}()"
    assign(p, expr, f)


@op("binary", 8)
def binary(p: Program):
    x = p.operand()
    sym = p.draw(st.sampled_from(["+", "-", "*", "/", "**"]))
    side = p.draw(st.sampled_from(["tensor", "tensor", "left", "right"]))
    if side == "tensor":
        other = p.pick("f")
        if other is None or p.draw(st.booleans()):
            other = p.leaf(_broadcastable(p, p.shape(x)))
        elif p.draw(st.booleans()):
            x, other = other, x
        expr = f"{x} {sym} {other}"
    else:
        c = p.draw(SCALARS)
        if sym == "**" and side == "right" and c in (0.5, -0.5, 1.5):
            # a known difference, left alone: torch computes x ** 0.5 as sqrt(x) and x ** -0.5
            # as rsqrt(x) (also in the gradient of x ** 1.5), so at x = -inf (or -0.0) torch
            # gives nan (-inf) where IEEE pow, and gradc, give inf or 0 (+inf)
            c = 2.5
        expr = f"{c!r} {sym} {x}" if side == "left" else f"{x} {sym} {c!r}"
    assign(p, expr, {"+": "add", "-": "sub", "*": "mul", "/": "div", "**": "pow"}[sym])


@op("extremum", 3)
def extremum(p: Program):
    x = p.operand()
    f = p.draw(st.sampled_from(["maximum", "minimum", "max", "min"]))
    if p.draw(st.integers(0, 9)) == 0:
        other = repr(p.draw(SCALARS))  # torch.maximum(x, 0.0) is a TypeError
    else:
        other = p.leaf(_broadcastable(p, p.shape(x)), elements=None)
        a, b = p.ns[x].detach(), p.ns[other].detach()
        if bool(((a == b) & (a == 0) & (a.signbit() != b.signbit())).any()):
            # torch's maximum(0.0, -0.0) is one zero or the other by tensor size (scalar vs
            # vectorised loop): a tie of signed zeros has no answer to match, so make it +0
            x, other = f"({x} + 0.0)", f"({other} + 0.0)"
    assign(p, f"T.{f}({x}, {other})", f)


@op("clamp", 3)
def clamp(p: Program):
    x = p.operand()
    lo = p.draw(st.sampled_from([None, -1.0, 0.0, 0.5]))
    hi = p.draw(st.sampled_from([None, 1.0, 2]))
    if lo is None and hi is None:
        lo = 0.0
    form = p.draw(st.sampled_from(["clamp", "clip", "tensor_min"]))
    if form == "tensor_min":
        bound = p.leaf(_broadcastable(p, p.shape(x)))
        assign(p, f"{x}.clamp(min={bound})", "clamp")
        return
    args = ", ".join(f"{k}={v!r}" for k, v in (("min", lo), ("max", hi)) if v is not None)
    assign(p, f"{x}.{form}({args})", "clamp")


@op("where", 2)
def where(p: Program):
    x = p.operand()
    cmp = p.draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
    c = p.draw(SCALARS)
    (cond,) = assign(p, f"{x} {cmp} {c!r}", "compare")
    if p.done:
        return
    y = p.draw(st.sampled_from([p.leaf(_broadcastable(p, p.shape(x))), repr(p.draw(SCALARS))]))
    args = (x, y) if p.draw(st.booleans()) else (y, x)
    assign(p, f"T.where({cond}, {args[0]}, {args[1]})", "where")
    if p.draw(st.booleans()):
        assign(p, f"{cond}.double()", "cast")


# ---- reductions ------------------------------------------------------------------------------
@op("reduce", 6)
def reduce(p: Program):
    x = p.operand()
    nd = len(p.shape(x))
    f = p.draw(st.sampled_from(["sum", "mean", "amax", "amin"]))
    dims = _dims(p, nd)
    keep = ", keepdim=True" if dims and p.draw(st.booleans()) else ""
    assign(p, f"{x}.{f}({dims}{keep})", f)


@op("max_dim", 3)
def max_dim(p: Program):
    x = p.operand()
    nd = len(p.shape(x))
    f = p.draw(st.sampled_from(["max", "min", "argmax", "argmin"]))
    if p.draw(st.integers(0, 3)) == 0:
        assign(p, f"{x}.{f}()", f)
        return
    d, keep = _dim(p, nd), p.draw(st.booleans())
    if f in ("max", "min"):
        assign(p, f"{x}.{f}({d}, keepdim={keep})", f"{f}_dim", targets=2)
    else:
        assign(p, f"{x}.{f}({d}, keepdim={keep})", f)


# ---- views -----------------------------------------------------------------------------------
def _factor(p: Program, n: int) -> list:
    out = []
    while n > 1 and len(out) < 3:
        d = p.draw(st.sampled_from([k for k in range(1, n + 1) if n % k == 0]))
        out.append(d)
        n //= d
    out.append(n)
    return list(p.draw(st.permutations(out)))


def _index(p: Program, shape) -> str:
    items = []
    for size in shape[: p.draw(st.integers(0, len(shape)))]:
        if size and p.draw(st.booleans()):
            items.append(str(p.draw(st.integers(-size, size - 1))))
        else:
            a, b = p.draw(st.none() | st.integers(-size - 1, size + 1)), p.draw(st.none())
            step = p.draw(st.sampled_from(["", ":2"]))
            items.append(f"{'' if a is None else a}:{'' if b is None else b}{step}")
    if p.draw(st.booleans()):
        items.insert(p.draw(st.integers(0, len(items))), "None")
    if p.draw(st.integers(0, 3)) == 0:
        items.insert(p.draw(st.integers(0, len(items))), "...")
    return ", ".join(items) if items else ":"


@op("view", 8)
def view(p: Program):
    x = p.operand()
    shape, nd = p.shape(x), len(p.shape(x))
    kind = p.draw(
        st.sampled_from(
            ["reshape", "view", "permute", "transpose", "t", "unsqueeze", "squeeze", "flatten"]
            + ["expand", "getitem", "getitem", "contiguous", "T", "detach"]
        )
    )
    if kind in ("reshape", "view"):
        new = _factor(p, math.prod(shape)) if math.prod(shape) else [0, *shape[1:]]
        if new and p.draw(st.booleans()):
            new[p.draw(st.integers(0, len(new) - 1))] = -1
        expr = f"{x}.{kind}({', '.join(map(str, new))})"
    elif kind == "permute" and nd:
        expr = f"{x}.permute({', '.join(map(str, p.draw(st.permutations(range(nd)))))})"
    elif kind == "transpose":
        expr = f"{x}.transpose({_dim(p, nd)}, {_dim(p, nd)})"
    elif kind in ("t", "T") and nd <= 2:
        expr = f"{x}.t()" if kind == "t" else f"{x}.T"
    elif kind == "unsqueeze":
        expr = f"{x}.unsqueeze({p.draw(st.integers(-nd - 1, nd))})"
    elif kind == "squeeze":
        expr = f"{x}.squeeze({'' if p.draw(st.booleans()) else _dim(p, nd)})"
    elif kind == "flatten":
        expr = f"{x}.flatten()"
    elif kind == "expand":
        new = [p.draw(st.sampled_from([d, 3])) if d == 1 else d for d in shape]
        expr = f"{x}.expand({', '.join(map(str, [2, *new]))})"
    elif kind == "getitem":
        expr = f"{x}[{_index(p, shape)}]"
    elif kind == "detach":
        expr = f"{x}.detach()"
    else:
        expr = f"{x}.contiguous()"
    assign(p, expr, kind)


@op("join", 2)
def join(p: Program):
    x = p.operand(min_ndim=1)
    shape = p.shape(x)
    others = [n for n in p.tensors("f") if p.shape(n) == shape]
    y = p.draw(st.sampled_from(others)) if others else p.leaf(shape)
    if p.draw(st.booleans()):
        assign(p, f"T.cat([{x}, {y}], {_dim(p, len(shape))})", "cat")
    else:
        d = p.draw(st.integers(-len(shape) - 1, len(shape)))
        assign(p, f"T.stack([{x}, {y}], {d})", "stack")


@op("matmul", 3)
def matmul(p: Program):
    x = p.operand(min_ndim=1, max_ndim=3)
    shape = p.shape(x)
    n = p.draw(st.integers(1, 3))
    if len(shape) == 1 or p.draw(st.booleans()):
        other = (shape[-1],) if p.draw(st.booleans()) else (shape[-1], n)
    else:
        other = (*_broadcastable(p, shape[:-2]), shape[-1], n)
    y = p.leaf(other)
    form = p.draw(st.sampled_from(["@", "matmul", "linear"]))
    # a known difference, left alone: with an inner dim of 1, torch's mm (and linear) gives
    # -0.0 for -1 * 0 where its other paths, and gradc, give +0.0; a later 1 / v then flips an
    # inf. Adding +0.0 makes every zero +0.0 on both (the values are compared without sign)
    zero = " + 0.0" if shape[-1] == 1 else ""
    if form == "linear" and len(other) == 2:
        assign(p, f"F.linear({x}, {y}.t()){zero}", "linear")
    else:
        assign(p, (f"{x} @ {y}" if form == "@" else f"T.matmul({x}, {y})") + zero, "matmul")
