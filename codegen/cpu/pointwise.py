"""A run of pointwise nodes over one shape: one loop nest, each node's sympy expression printed
with ``sympy.cse``, values kept in registers and stored only where something outside reads them.

Each node's value is converted to its dtype as the interpreter's ``astype`` does, and bool
operands are widened to int64 first, as the op's numpy ``impl`` does.
"""

from __future__ import annotations

from codegen.exprs import CodegenError, cse_lines, floor_divide

# ops whose numpy impl is not their sympy expression (gradc/ops/math.py overrides it): what the
# generated code evaluates instead, with the impl's semantics
IMPL_EXPRS = {"floor_divide": floor_divide}


def emit_loop(w, step, stored: set) -> None:
    """Emit ``step`` (a plan ``Step`` of kind ``loop``); ``stored``: values read after it."""
    allocate(w, step, stored)
    loads = hoist_scalars(w, step) if step.shape else {}
    with w.loops([w.dim(d) for d in step.shape]) as idx:
        emit_body(w, step, stored, idx, loads)


def hoist_scalars(w, step) -> dict:
    """Load 0-d inputs once, before the loops: read inside, LLVM must reload them after every
    store (an output might alias them), and the loop does not vectorize."""
    made = {id(n.out) for n in step.nodes}
    loads: dict = {}
    for n in step.nodes:
        for v in n.inputs:
            if v.type.shape == () and id(v) not in made and id(v) not in loads:
                loads[id(v)] = w.fresh("x")
                w.line(f"{loads[id(v)]} = {w.name(v)}[()]")
    return loads


def allocate(w, step, stored: set) -> None:
    for n in step.nodes:
        if n.out in stored:
            w.empty(w.name(n.out), n.out)


def emit_body(w, step, stored: set, idx: list[str], loads: dict | None = None) -> dict:
    """The statements of one element at index ``idx`` of ``step``'s loop: every node's value in
    a register, stored where ``stored`` says (``loads``: inputs already in registers). Returns
    ``id(value) -> register``."""
    shape = step.shape
    loads = dict(loads or {})
    regs: dict = {}
    for n in step.nodes:
        lam = n.op.expr
        if lam is None:
            raise CodegenError(f"pointwise op {n.op.name!r} has no sympy expression")
        names, ints = {}, set()
        for sym, v in zip(lam.variables, n.inputs):
            if id(v) in regs:
                code = regs[id(v)]
            elif id(v) in loads:
                code = loads[id(v)]
            else:
                src = w.name(v) + w.index(w.broadcast_index(v.type.shape, shape, idx))
                code = w.fresh("x")
                w.line(f"{code} = {src}")
                loads[id(v)] = code
            if v.type.dtype.name == "bool":
                wide = w.fresh("b")
                w.line(f"{wide} = np.int64({code})")
                code = wide
            if v.type.dtype.name in ("int64", "bool"):
                ints.add(code)
            names[sym] = code
        reg = "r_" + w.name(n.out)
        expr = lam.expr
        if n.op.name in IMPL_EXPRS:
            expr = IMPL_EXPRS[n.op.name](*lam.variables)
        lines, value = cse_lines(expr, names, reg + "_t", ints)
        for line in lines:
            w.line(line)
        w.line(f"{reg} = {w.convert(value, n.out.type.dtype.name)}")
        regs[id(n.out)] = reg
        if n.out in stored:
            w.line(f"{w.name(n.out)}{w.index(idx)} = {reg}")
    return regs
