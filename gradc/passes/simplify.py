"""Algebraic simplification: pointwise chains become one sympy expression, then one op.

A chain is a pointwise node plus the pointwise producers that only it reads (same float dtype).
Their ``sympy.Lambda``s are composed over the chain's leaf inputs, scalar constants are
substituted (``x * 1``, ``x + 0``, ``where(True, a, b)`` and ``-(-x)`` vanish as sympy builds the
expression), a few cheap exact rewrites are tried (conditions, piecewise folding, factoring), and
the chain is re-emitted as an existing op if it now is one (``relu(x * 1 + 0)`` is ``relu``), or
as one pointwise op registered on the fly from the composed Lambda (reused by expression hash),
or as a leaf, or as a ``full``. A new op gets impl, vjp and lowering from its expression like any
other.

Semantics are kept up to floating-point rounding for finite values: like fast-math compilers,
sympy's identities (``x - x = 0``, ``x * 0 = 0``, ``log(exp(x)) = x``) assume no inf/nan.
No-op views and casts are removed, and nested reshapes, expands and permutes are merged.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math

import sympy as sp
from sympy.core.relational import Relational
from sympy.logic.boolalg import BooleanFunction, simplify_logic

from gradc import dtypes
from gradc.errors import GradcError
from gradc.ir.graph import Graph
from gradc.ops.pointwise import pointwise
from gradc.ops.table import OPS, get_op
from gradc.passes.dce import dce
from gradc.passes.fold import scalar_of
from gradc.passes.rewrite import Rewriter, users
from gradc.shapes import TensorType

MAX_OPS = 200  # a composed expression larger than this is left as separate nodes
SIMPLIFY_MAX_OPS = 60  # rewrites are tried only on expressions up to this size


def composable(node) -> bool:
    """A pointwise op given by a Lambda, without attrs (not cast), with a float result."""
    return (
        node is not None
        and node.op.kind == "pointwise"
        and isinstance(node.op.expr, sp.Lambda)
        and not node.attrs
        and node.out.type.dtype.is_floating_point
    )


def _sym_const(c):
    """A scalar constant as sympy sees it; None for inf/nan (kept as a runtime input)."""
    if isinstance(c, bool):
        return sp.Integer(int(c))
    if isinstance(c, int):
        return sp.Integer(c)
    if not math.isfinite(c):
        return None
    if c == int(c) and abs(c) < 2**53:
        return sp.Integer(int(c))
    return sp.Float(c, precision=53)


def _classes(e) -> set:
    return {type(n) for n in sp.preorder_traversal(e) if not n.is_Atom}


def _logic(e):
    """Boolean conditions over at most 3 relations simplified (``ITE(c, c, False)`` is ``c``);
    exact, and cheap at that size."""
    return e.replace(
        lambda t: isinstance(t, BooleanFunction) and len(t.atoms(Relational)) <= 3,
        simplify_logic,
    )


# Cheap rewrites tried on every composed chain. ``sympy.simplify`` is not among them: it took
# 1-3 s per chain of max/min/sigmoid here and rarely found anything cheaper.
REWRITES = (_logic, lambda e: sp.piecewise_fold(_logic(e)), lambda e: sp.factor_terms(_logic(e)))


@functools.lru_cache(maxsize=4096)
def simplest(expr: sp.Expr) -> sp.Expr:
    """``expr`` or the cheapest (by ``count_ops``) of a few exact rewrites of it, if strictly
    cheaper and built from the same kinds of node (nothing new for a lowering to know)."""
    if sp.count_ops(expr) > SIMPLIFY_MAX_OPS:
        return expr
    allowed = _classes(expr) | {sp.Add, sp.Mul, sp.Pow}
    best, cost = expr, sp.count_ops(expr)
    for rewrite in REWRITES:
        try:
            cand = rewrite(expr)
        except Exception:  # sympy may fail on exotic user expressions: skip that rewrite
            continue
        c = sp.count_ops(cand)
        if c < cost and _classes(cand) <= allowed and cand.free_symbols <= expr.free_symbols:
            best, cost = cand, c
    return best


def fused_op(lam: sp.Lambda, rule: str, parts: tuple):
    """The pointwise op for ``lam``, registered once per distinct expression and dtype rule."""
    digest = hashlib.sha1(f"{sp.srepr(lam)}|{rule}".encode()).hexdigest()
    stem = "fused_" + "_".join(list(dict.fromkeys(parts))[:3])
    for n in (6, 10, 40):
        name = f"{stem}_{digest[:n]}"
        op = OPS.get(name)
        if op is None:
            op = pointwise(name, lam, rule, doc=f"{', '.join(parts)} composed: {lam.expr}")
            op.meta["parts"] = parts
            return op
        if op.expr == lam and op.meta.get("parts") is not None:
            return op
    raise RuntimeError(f"hash collision registering {stem}")  # pragma: no cover


_P = tuple(sp.Symbol(f"_p{k}", real=True) for k in range(3))
_known_index: dict = {"size": -1, "keys": {}}


def _key(expr, syms) -> str:
    return sp.srepr(expr.xreplace(dict(zip(syms, _P))))


def _known(expr, syms, ins, t: TensorType):
    """A registered (not fused) pointwise op that ``expr`` is, applied to some order of its
    leaves, with the right result dtype: ``(op, inputs, type)``, else None."""
    if len(syms) > len(_P):
        return None
    if _known_index["size"] != len(OPS):  # ops register lazily (vjps): re-index when new
        keys = {}
        for op in list(OPS.values()):
            lam = op.expr
            if op.kind != "pointwise" or not isinstance(lam, sp.Lambda) or "parts" in op.meta:
                continue
            if len(lam.variables) <= len(_P) and lam.expr not in lam.variables:  # not cast
                keys.setdefault((len(lam.variables), _key(lam.expr, lam.variables)), op)
        _known_index.update(size=len(OPS), keys=keys)
    for perm in itertools.permutations(range(len(syms))):
        op = _known_index["keys"].get((len(syms), _key(expr, [syms[i] for i in perm])))
        if op is None:
            continue
        order = [ins[i] for i in perm]
        try:
            out_t = op.infer(*(v.type for v in order))
        except GradcError:
            continue
        if out_t.dtype is t.dtype:
            return op, order, out_t
    return None


def _parts(node, inline) -> list:
    out = list(node.op.meta.get("parts", (node.op.name,)))
    for v in node.inputs:
        if v.node is not None and id(v.node) in inline:
            out += _parts(v.node, inline)
    return out


class _Chain:
    """Compose one chain over its leaves (new-graph values), substituting scalar constants."""

    def __init__(self, rw: Rewriter, inline: set):
        self.rw, self.inline = rw, inline
        self.leaves: dict[int, tuple] = {}
        self.nodes = 0

    def leaf(self, v):
        nv = self.rw[v]
        c = scalar_of(nv.node)
        s = _sym_const(c) if c is not None else None
        if s is not None:
            return s
        if id(nv) not in self.leaves:
            self.leaves[id(nv)] = (sp.Symbol(f"a{len(self.leaves)}", real=True), nv)
        return self.leaves[id(nv)][0]

    def compose(self, node):
        self.nodes += 1
        args = [
            self.compose(v.node)
            if v.node is not None and id(v.node) in self.inline
            else self.leaf(v)
            for v in node.inputs
        ]
        e = sp.sympify(node.op.expr(*args))
        if e.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
            # checked per node: a later x * 0 would erase the inf (exp(x / 0) * 0 -> 0, not nan)
            raise ArithmeticError("a non-finite intermediate")
        return e


def _fit(rw: Rewriter, v, t: TensorType, node):
    """``v`` cast and broadcast to the type ``t`` of the value it replaces."""
    loc, rule = node.loc, node.rule
    if v.type.dtype is not t.dtype:
        cast_t = TensorType(t.dtype, v.type.shape)
        v = rw.emit(get_op("cast"), [v], {"dtype": t.dtype}, cast_t, loc, rule)
    if v.type != t:
        v = rw.emit(get_op("expand"), [v], {"shape": t.shape}, t, loc, rule)
    return v


def _emit_chain(rw: Rewriter, node, inline: set) -> bool:
    """Re-emit the chain rooted at ``node`` if that pays; False leaves the node as it is."""
    chain = _Chain(rw, inline)
    try:
        raw = sp.sympify(chain.compose(node))
    except (TypeError, ValueError, ArithmeticError):  # e.g. relu(x / 0): "zoo > 0" is undecidable
        return False
    if raw.has(sp.zoo, sp.oo, -sp.oo, sp.nan) or sp.count_ops(raw) > MAX_OPS:
        return False  # x / 0 and friends: leave IEEE semantics to the ops themselves
    best = simplest(raw)
    t = node.out.type
    syms = [s for s, _ in chain.leaves.values() if s in best.free_symbols]
    values = {s: nv for s, nv in chain.leaves.values()}
    if chain.nodes == 1:  # a lone node is rewritten only if that makes it cheaper
        own = node.op.expr(*(sp.Dummy() for _ in node.inputs))
        n_own = len({id(v) for v in node.inputs})
        if (sp.count_ops(best), len(syms)) >= (sp.count_ops(own), n_own):
            return False
    if not best.free_symbols:
        if not (best.is_number and best.is_real and best.is_finite):
            return False
        value = float(best) if t.dtype.is_floating_point else int(best)
        attrs = {"shape": t.shape, "value": value, "dtype": t.dtype}
        rw.alias(node.out, rw.emit(get_op("full"), [], attrs, t, node.loc, node.rule))
        return True
    if best.free_symbols - set(syms):
        return False
    if len(syms) == 1 and best == syms[0]:
        rw.alias(node.out, _fit(rw, values[syms[0]], t, node))
        return True
    known = _known(best, syms, [values[s] for s in syms], t)
    if known is not None:
        op, ins, out_t = known
        rw.alias(node.out, _fit(rw, rw.emit(op, ins, {}, out_t, node.loc, node.rule), t, node))
        return True
    ins = [values[s] for s in syms]
    promoted = dtypes.promote(*(v.type.dtype for v in ins))
    if promoted is t.dtype:
        rule = "promote"
    elif dtypes.float_of(promoted) is t.dtype:
        rule = "float"
    else:
        return False
    op = fused_op(sp.Lambda(tuple(syms), best), rule, tuple(_parts(node, inline)))
    out_t = op.infer(*(v.type for v in ins))
    v = rw.emit(op, ins, {}, out_t, node.loc, node.rule)
    rw.alias(node.out, _fit(rw, v, t, node))
    return True


def _view_rule(rw: Rewriter, node, uses) -> bool:
    """Drop no-op views and casts, merge nested ones; True if handled."""
    name, t = node.op.name, node.out.type
    src = rw[node.inputs[0]] if node.inputs else None
    if src is None:
        return False
    red = src.node
    if (  # reshape(sum(x, keepdim=True)) dropping exactly those dims is sum(x)
        name == "reshape"
        and red is not None
        and red.op.kind == "reduce"
        and red.attrs.get("keepdim")
        and len(uses.get(id(node.inputs[0]), ())) == 1
        and node.inputs[0] not in rw.old.outputs
    ):
        attrs = {**red.attrs, "keepdim": False}
        try:
            flat = red.op.infer(*(v.type for v in red.inputs), **attrs)
        except GradcError:
            flat = None
        if flat is not None and flat == t:
            rw.alias(node.out, rw.emit(red.op, red.inputs, attrs, t, node.loc, node.rule))
            return True
    if name in ("reshape", "expand", "cast") and src.type == t:
        rw.alias(node.out, src)
        return True
    if name == "permute" and _transposed_matmul(rw, node, src, uses):
        return True
    if name == "permute":
        dims = tuple(node.attrs["dims"])
        if src.node is not None and src.node.op.name == "permute":
            inner = tuple(src.node.attrs["dims"])
            dims, src = tuple(inner[d] for d in dims), src.node.inputs[0]
        if dims == tuple(range(len(dims))):
            rw.alias(node.out, src)
        else:
            rw.alias(node.out, rw.emit(node.op, [src], {"dims": dims}, t, node.loc, node.rule))
        return True
    if name == "getitem" and src.type == t:
        index = node.attrs["index"]
        if len(index) == len(t.shape) and all(
            isinstance(i, slice) and i.start == 0 and i.step == 1 for i in index
        ):
            rw.alias(node.out, src)
            return True
    if name in ("reshape", "expand") and src.node is not None and src.node.op.name == name:
        inner = src.node.inputs[0]
        if inner.type == t:
            rw.alias(node.out, inner)
        else:
            rw.alias(
                node.out, rw.emit(node.op, [inner], {"shape": t.shape}, t, node.loc, node.rule)
            )
        return True
    return False


def _transposed_matmul(rw: Rewriter, node, src, uses) -> bool:
    """``(a @ b).T`` read only here is ``b.T @ a.T``: the transposes fold into the operands
    (a weight gradient ``(h.T @ g).T`` becomes ``g.T @ h``) and BLAS reads transposed operands
    in place, where a transposed result is a copy."""
    mm = src.node
    if (
        tuple(node.attrs["dims"]) != (1, 0)
        or mm is None
        or mm.op.name != "matmul"
        or any(v.type.ndim != 2 for v in mm.inputs)
        or len(uses.get(id(node.inputs[0]), ())) != 1
        or node.inputs[0] in rw.old.outputs
    ):
        return False

    def t(v):
        if v.node is not None and v.node.op.name == "permute":
            return v.node.inputs[0]  # (x.T).T
        ty = TensorType(v.type.dtype, tuple(reversed(v.type.shape)))
        return rw.emit(node.op, [v], {"dims": (1, 0)}, ty, node.loc, node.rule)

    a, b = mm.inputs
    rw.alias(node.out, rw.emit(mm.op, [t(b), t(a)], mm.attrs, node.out.type, node.loc, node.rule))
    return True


def simplify(graph: Graph) -> Graph:
    """A new graph with pointwise chains composed and simplified and no-op views removed."""
    uses = users(graph)
    outs = {id(v) for v in graph.outputs}
    inline = set()
    for node in graph.nodes:
        readers = uses.get(id(node.out), [])
        if (
            composable(node)
            and id(node.out) not in outs
            and len(readers) == 1
            and composable(readers[0])
            and readers[0].out.type.dtype is node.out.type.dtype
        ):
            inline.add(id(node))
    rw = Rewriter(graph)
    for node in rw.walk():
        if _view_rule(rw, node, uses):
            continue
        if composable(node) and id(node) not in inline and _emit_chain(rw, node, inline):
            continue
        rw.copy(node)
    return dce(rw.finish())
