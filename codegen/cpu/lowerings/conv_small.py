"""conv2d and its weight gradient for filters of few taps (LeNet's first layer): direct loops
over the "wide" image, no im2col and no BLAS.

With stride 1 and no padding, output pixel ``(oh, ow)`` and tap ``(c, i, j)`` read input
``x[c].flat[q + i*dh*W + j*dw]`` at ``q = oh*W + ow``: along ``q`` every tap is one contiguous
run of the flattened image. So over the ``Q = (OH-1)*W + OW`` "wide" positions (an image row
wide; the ``W - OW`` extra columns per row are computed and dropped)
- the convolution is one loop over ``q`` summing a few shifted runs (the taps unrolled, their
  weights in registers), stored into NCHW with the bias and the fused epilogue;
- the weight gradient is, per tap, a dot product of the cotangent spread out to wide rows (zero
  in the extra columns) with one shifted run; the taps of a kernel row are summed in one pass
  (each load of the cotangent serves them all: 1.3x faster on LeNet's first layer).
With 6 output channels and 25 taps BLAS's blocks are mostly padding: measured on LeNet's first
layer these loops took 0.55 and 0.63 ms per 32 images against 0.86 and 1.0 ms for im2col + BLAS.
Sums may be reordered (``Writer.reassociate``): the dot products then vectorise.
"""

from __future__ import annotations

import sympy

TAPS = 32  # at most this many taps (C*kh*kw) per output channel: unrolled, weights in registers
_ROW = 8  # weight-gradient taps summed in one pass (accumulators in registers, AVX2's 16 too)


def applies(node, kh, kw) -> bool:
    """Stride 1, no padding, no groups, static channels and few taps."""
    a = node.attrs
    c = sympy.sympify(node.inputs[0].type.shape[1])
    return (
        tuple(a["stride"]) == (1, 1)
        and tuple(a.get("padding", (0, 0))) == (0, 0)
        and a.get("groups", 1) == 1
        and c.is_Integer
        and int(c) * int(kh) * int(kw) <= TAPS
    )


def _dims(w, image, out_or_ct, attrs, kh, kw, dtype: str):
    """Bind the image and output dims and ``_Q``, make the ``[O, Q]`` wide buffer and let the
    kernel's sums be reordered; returns the taps ``[(c, i, j)]``, the dilation and the buffer."""
    n, c, h, wd = (w.dim(d) for d in image.type.shape)
    o, oh, ow = (w.dim(d) for d in out_or_ct.type.shape[1:])
    dh, dw = attrs.get("dilation", (1, 1))
    w.line(f"_N, _C, _H, _W = {n}, {c}, {h}, {wd}")
    w.line(f"_O, _OH, _OW = {o}, {oh}, {ow}")
    w.line("_Q = (_OH - 1) * _W + _OW")
    w.reassociate = True
    wide = w.fresh("wide")
    _, o_, oh_, ow_ = out_or_ct.type.shape
    w.buffer(wide, (o_, (oh_ - 1) * image.type.shape[3] + ow_), dtype)
    channels = int(sympy.sympify(image.type.shape[1]))
    taps = [(ci, i, j) for ci in range(channels) for i in range(kh) for j in range(kw)]
    return taps, dh, dw, wide


def _offset(c, i, j, dh: int, dw: int) -> str:
    """Tap ``(c, i, j)``'s offset into the flat image (ints, or the names of loop indices)."""
    i = i * dh if isinstance(i, int) else (i if dh == 1 else f"{i} * {dh}")
    j = j * dw if isinstance(j, int) else (j if dw == 1 else f"{j} * {dw}")
    return f"{c} * _H * _W + {i} * _W + {j}"


def conv2d(w, node, ins, out, epilogue=None):
    x, wt = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    kh, kw = (int(k) for k in node.inputs[1].type.shape[2:])
    keep = epilogue is None or epilogue.keeps_input  # else only the epilogue's value is stored
    if keep:
        w.empty(out, node.out)
    dt = node.out.type.dtype.name
    taps, dh, dw, wide = _dims(w, node.inputs[0], node.out, node.attrs, kh, kw, dt)
    n, o, q, xf = w.fresh("n"), w.fresh("o"), w.fresh("q"), w.fresh("xf")
    weights = [w.fresh("w") for _ in taps]
    with w.block(f"for {n} in range(_N):"):
        w.line(f"{xf} = {x}[{n}].reshape(_C * _H * _W)")
        with w.block(f"for {o} in range(_O):"):
            for name, (c, i, j) in zip(weights, taps):
                w.line(f"{name} = {wt}[{o}, {c}, {i}, {j}]")
            bias = w.fresh("bo")  # a scalar: LLVM cannot hoist a load the stores may alias
            w.line(f"{bias} = {b}[{o}]" if b is not None else f"{bias} = 0")
            terms = [
                f"{name} * {xf}[{q} + {_offset(c, i, j, dh, dw)}]"
                for name, (c, i, j) in zip(weights, taps)
            ]
            with w.block(f"for {q} in range(_Q):"):
                w.line(f"{wide}[{o}, {q}] = {' + '.join([bias, *terms])}")
            oh, ow, r = w.fresh("oh"), w.fresh("ow"), w.fresh("r")
            with w.block(f"for {oh} in range(_OH):"):  # the epilogue on each element as it
                with w.block(f"for {ow} in range(_OW):"):  # is copied (not a second pass)
                    w.line(f"{r} = {wide}[{o}, {oh} * _W + {ow}]")
                    if keep:
                        w.line(f"{out}[{n}, {o}, {oh}, {ow}] = {r}")
                    if epilogue is not None:
                        epilogue.at([n, o, oh, ow], r)


def conv2d_weight_grad(w, node, ins, out):
    x, ct = ins
    kh, kw = (int(k) for k in node.attrs["kernel_size"])
    w.empty(out, node.out)
    name = node.out.type.dtype.name
    _, dh, dw, wide = _dims(w, node.inputs[0], node.inputs[1], node.attrs, kh, kw, name)
    w.line(f"{out}[...] = 0")
    w.line(f"{wide}[...] = 0  # the extra columns stay 0")
    n, o, q, xf, oh, ow, s = (w.fresh(t) for t in ("n", "o", "q", "xf", "oh", "ow", "s"))
    c, i, off, g = w.fresh("c"), w.fresh("ki"), w.fresh("off"), w.fresh("g")
    dt = w.dtype(node.out)
    with w.block(f"for {n} in range(_N):"):
        w.line(f"{xf} = {x}[{n}].reshape(_C * _H * _W)")
        with w.block(f"for {o} in range(_O):"):
            with w.block(f"for {oh} in range(_OH):"):
                with w.block(f"for {ow} in range(_OW):"):
                    w.line(f"{wide}[{o}, {oh} * _W + {ow}] = {ct}[{n}, {o}, {oh}, {ow}]")
            with w.block(f"for {c} in range(_C):"):
                with w.block(f"for {i} in range({kh}):"):
                    w.line(f"{off} = {_offset(c, i, 0, dh, dw)}")
                    for j0 in range(0, kw, _ROW):  # a row's taps share each load of the cotangent
                        taps = range(j0, min(kw, j0 + _ROW))
                        sums = [f"{s}_{j}" for j in taps]
                        for acc in sums:
                            w.line(f"{acc} = {dt}(0)")
                        with w.block(f"for {q} in range(_Q):"):
                            w.line(f"{g} = {wide}[{o}, {q}]")
                            for acc, j in zip(sums, taps):
                                w.line(f"{acc} += {g} * {xf}[{q} + {off} + {j * dw}]")
                        for acc, j in zip(sums, taps):
                            w.line(f"{out}[{o}, {c}, {i}, {j}] += {acc}")
