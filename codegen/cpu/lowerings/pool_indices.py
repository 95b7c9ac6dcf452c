"""max_pool2d's argmax as its own op, and routing by it: ``max_pool2d_indices`` (the window's
row-major tap index of its first max), ``max_pool2d_scatter`` (ct added at those taps) and
``max_pool2d_gather`` (g read at those taps).

The scan matches the op's impl: numpy's ``argmax`` over the -inf padded window (the first tap
starts the scan, a later tap wins only if strictly greater or the first NaN), then a window with
NaNs takes its last NaN and a window of -infs its first tap inside the input. An index names a
padded tap only for a window with no tap inside; scatter drops it and gather reads 0 there.
"""

from __future__ import annotations

from codegen.cpu.lowerings import lowering
from codegen.cpu.lowerings.window import _taps


def _inside(h, x):
    return f"{h} >= 0 and {h} < _H and {x} >= 0 and {x} < _W"


def _unpadded(attrs) -> bool:
    """No padding: every tap of every window lies inside the input (no bounds checks)."""
    return not any(attrs.get("padding", (0, 0)))


def _dims(w, v):
    return [w.dim(d) for d in v.type.shape]


_NESTED = 16  # windows up to this many taps find their last NaN in one nested expression


def _indices_unpadded(w, node, x, out):
    """The same rules with every tap inside: the taps unrolled, the first one starting the
    scan; a later one wins if strictly greater; the last NaN, if any, overrides. Selects, not
    branches (relu outputs tie at 0 all the time: 1.4x faster measured)."""
    (kh, kw), (sh, sw) = node.attrs["kernel_size"], node.attrs["stride"]
    dh, dw = node.attrs.get("dilation", (1, 1))
    n_, c_, oh_, ow_ = _dims(w, node.out)
    with w.loops([n_, c_, oh_]) as (n, c, oh):
        rows = [w.fresh("r") for _ in range(kh)]
        for i, r in enumerate(rows):
            w.line(f"{r} = {x}[{n}, {c}, {oh} * {sh} + {i * dh}]")
        o = w.fresh("o")
        w.line(f"{o} = {out}[{n}, {c}, {oh}]")
        with w.loops([ow_]) as (ow,):
            x0, best, bt, gt = (w.fresh(s) for s in ("x", "best", "bt", "g"))
            w.line(f"{x0} = {ow} * {sw}")
            taps = [w.fresh("v") for _ in range(kh * kw)]
            for t, v in enumerate(taps):  # plain loads first: LLVM keeps them in registers
                i, j = divmod(t, kw)
                w.line(f"{v} = {rows[i]}[{x0} + {j * dw}]")
            w.line(f"{best} = {taps[0]}")
            w.line(f"{bt} = 0")
            for t, v in enumerate(taps[1:], 1):
                w.line(f"{gt} = {v} > {best}")
                w.line(f"{best} = {v} if {gt} else {best}")
                w.line(f"{bt} = {t} if {gt} else {bt}")
            if len(taps) <= _NESTED:  # the last NaN, as one expression (3x faster, 2x2 windows)
                last = str(bt)
                for t, v in enumerate(taps):
                    last = f"({t} if {v} != {v} else {last})"
                w.line(f"{o}[{ow}] = {last}")
            else:
                nan = w.fresh("nan")
                w.line(f"{nan} = -1")
                for t, v in enumerate(taps):
                    w.line(f"{nan} = {t} if {v} != {v} else {nan}")
                w.line(f"{o}[{ow}] = {nan} if {nan} >= 0 else {bt}")


@lowering("max_pool2d_indices")
def _indices(w, node, ins, out):
    (x,) = ins
    kw = node.attrs["kernel_size"][1]
    w.empty(out, node.out)
    if _unpadded(node.attrs):
        return _indices_unpadded(w, node, x, out)
    w.line(f"_H, _W = {x}.shape[2], {x}.shape[3]")
    dims = [f"{out}.shape[{k}]" for k in range(4)]
    with w.loops(dims) as (n, c, oh, ow):
        best, bt, first = w.fresh("best"), w.fresh("bt"), w.fresh("first")
        inside, lastnan = w.fresh("inside"), w.fresh("lastnan")
        w.line(f"{best} = -np.inf")
        w.line(f"{bt} = 0")
        w.line(f"{first} = True")
        w.line(f"{inside} = -1")
        w.line(f"{lastnan} = -1")
        with _taps(w, node.attrs, oh, ow, "_H", "_W", bounds=False) as (h, xx, i, j):
            v, tap = w.fresh("v"), w.fresh("tap")
            w.line(f"{v} = -np.inf")
            w.line(f"{tap} = {i} * {kw} + {j}")
            with w.block(f"if {_inside(h, xx)}:"):
                w.line(f"{v} = {x}[{n}, {c}, {h}, {xx}]")
                with w.block(f"if {inside} < 0:"):
                    w.line(f"{inside} = {tap}")
            with w.block(f"if {v} != {v}:"):
                w.line(f"{lastnan} = {tap}")
            with w.block(f"if {first} or ({best} == {best} and ({v} > {best} or {v} != {v})):"):
                w.line(f"{best} = {v}")
                w.line(f"{bt} = {tap}")
                w.line(f"{first} = False")
        # the impl's rules after numpy's argmax: a window with nans takes its last nan (torch's
        # scan); a window of -infs its first tap inside the input (0 if it has none)
        with w.block(f"if {lastnan} >= 0:"):
            w.line(f"{bt} = {lastnan}")
        with w.block(f"elif {best} == -np.inf:"):
            w.line(f"{bt} = max({inside}, 0)")
        w.line(f"{out}[{n}, {c}, {oh}, {ow}] = {bt}")


def _tap_of(w, attrs, t, oh, ow):
    """Emit the input pixel ``(h, x)`` of tap index ``t`` of output pixel ``(oh, ow)``."""
    kw = attrs["kernel_size"][1]
    sh, sw = attrs["stride"]
    ph, pw = attrs.get("padding", (0, 0))
    dh, dw = attrs.get("dilation", (1, 1))
    h, x = w.fresh("h"), w.fresh("x")
    w.line(f"{h} = {oh} * {sh} - {ph} + ({t} // {kw}) * {dh}")
    w.line(f"{x} = {ow} * {sw} - {pw} + ({t} % {kw}) * {dw}")
    return h, x


@lowering("max_pool2d_scatter")
def _scatter(w, node, ins, out):
    ct, idx = ins
    w.zeros(out, node.out)
    w.line(f"_H, _W = {out}.shape[2], {out}.shape[3]")
    inside = not _unpadded(node.attrs)
    with w.loops(_dims(w, node.inputs[0])) as (n, c, oh, ow):
        h, x = _tap_of(w, node.attrs, f"{idx}[{n}, {c}, {oh}, {ow}]", oh, ow)
        add = f"{out}[{n}, {c}, {h}, {x}] += {ct}[{n}, {c}, {oh}, {ow}]"
        if inside:
            with w.block(f"if {_inside(h, x)}:"):
                w.line(add)
        else:
            w.line(add)


@lowering("max_pool2d_gather")
def _gather(w, node, ins, out):
    g, idx = ins
    dt = w.dtype(node.out)
    w.empty(out, node.out)
    w.line(f"_H, _W = {g}.shape[2], {g}.shape[3]")
    if _unpadded(node.attrs):
        with w.loops(_dims(w, node.out)) as (n, c, oh, ow):
            h, x = _tap_of(w, node.attrs, f"{idx}[{n}, {c}, {oh}, {ow}]", oh, ow)
            w.line(f"{out}[{n}, {c}, {oh}, {ow}] = {g}[{n}, {c}, {h}, {x}]")
        return
    with w.loops([f"{out}.shape[{k}]" for k in range(4)]) as (n, c, oh, ow):
        h, x = _tap_of(w, node.attrs, f"{idx}[{n}, {c}, {oh}, {ow}]", oh, ow)
        v = w.fresh("v")
        w.line(f"{v} = {dt}(0)")
        with w.block(f"if {_inside(h, x)}:"):
            w.line(f"{v} = {g}[{n}, {c}, {h}, {x}]")
        w.line(f"{out}[{n}, {c}, {oh}, {ow}] = {v}")
