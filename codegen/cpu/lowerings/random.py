"""rand and rng_skip on an explicit RNG state ``(seed, offset)``: the Philox4x32-10 of
``gradc.ops.random`` in numba's uint64 arithmetic, so a program draws bit for bit the numbers
eager mode and the interpreter draw from the same state. Element ``k`` (C order) of a draw uses
counter ``offset + k``; every constant is a ``np.uint64`` so no operation widens to float."""

from __future__ import annotations

from codegen.cpu.lowerings import lowering
from codegen.exprs import int_code
from gradc.ops.random import _M0, _M1, _W0, _W1


def _u(v) -> str:
    return f"np.uint64({int(v)})"


@lowering("rand")
def _rand(w, node, ins, out):
    (state,) = ins
    dt = node.out.type.dtype.name
    seed, ctr, key0, key1 = w.fresh("seed"), w.fresh("ctr"), w.fresh("key0_"), w.fresh("key1_")
    lo, s32 = _u(0xFFFFFFFF), _u(32)
    w.empty(out, node.out)
    w.line(f"{seed} = np.uint64({state}[0])")
    w.line(f"{ctr} = np.uint64({state}[1])")
    w.line(f"{key0} = {seed} & {lo}")
    w.line(f"{key1} = ({seed} >> {s32}) & {lo}")
    with w.loops([w.dim(d) for d in node.out.type.shape]) as idx:
        c0, c1, c2, c3, k0, k1 = (w.fresh(s) for s in ("c0_", "c1_", "c2_", "c3_", "k0_", "k1_"))
        p0, p1, r = w.fresh("p0_"), w.fresh("p1_"), w.fresh("r")
        w.line(f"{c0} = {ctr} & {lo}")
        w.line(f"{c1} = {ctr} >> {s32}")
        w.line(f"{c2} = {_u(0)}")
        w.line(f"{c3} = {_u(0)}")
        w.line(f"{k0} = {key0}")
        w.line(f"{k1} = {key1}")
        with w.block(f"for {r} in range(10):"):
            w.line(f"{p0} = {_u(_M0)} * {c0}")
            w.line(f"{p1} = {_u(_M1)} * {c2}")
            w.line(
                f"{c0}, {c1}, {c2}, {c3} = (({p1} >> {s32}) ^ {c1} ^ {k0}), ({p1} & {lo}), "
                f"(({p0} >> {s32}) ^ {c3} ^ {k1}), ({p0} & {lo})"
            )
            w.line(f"{k0} = ({k0} + {_u(_W0)}) & {lo}")
            w.line(f"{k1} = ({k1} + {_u(_W1)}) & {lo}")
        if dt == "float32":  # 24 random bits
            value = f"np.float32({c0} >> {_u(8)}) * np.float32({2.0**-24!r})"
        else:  # 53 random bits
            bits = f"((({c0} >> {_u(5)}) << {_u(26)}) | ({c1} >> {_u(6)}))"
            value = f"{w.convert(f'np.float64({bits}) * {2.0**-53!r}', dt)}"
        w.line(f"{out}{w.index(idx)} = {value}")
        w.line(f"{ctr} = {ctr} + {_u(1)}")


@lowering("rng_skip")
def _rng_skip(w, node, ins, out):
    w.copy(out, node.out, ins[0])
    w.line(f"{out}[1] = {out}[1] + np.int64({int_code(node.attrs['count'])})")
