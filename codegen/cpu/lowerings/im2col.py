"""conv2d and its gradients as im2col + BLAS, one image at a time.

Chosen by ``window.py`` for float convolutions without groups. For image ``n`` the taps are
gathered into ``cols [C*kh*kw, OH*OW]`` (a row per tap, a column per output pixel: each row is
filled from contiguous input rows), so
- the convolution is ``out[n] = W [O, C*kh*kw] @ cols``, written by BLAS straight into the
  NCHW output;
- the weight gradient sums ``ct[n] [O, OH*OW] @ cols.T`` over images;
- the input gradient is ``W.T @ ct[n]`` scattered back through the same taps (col2im).
One image's ``cols`` stays in cache (78 KB for LeNet's first layer); measured on LeNet's shapes
this beat direct loops 3-4x and a whole-batch im2col (megabytes, out of cache).
"""

from __future__ import annotations

import contextlib


def _geometry(attrs):
    sh, sw = attrs["stride"]
    ph, pw = attrs.get("padding", (0, 0))
    dh, dw = attrs.get("dilation", (1, 1))
    return sh, sw, ph, pw, dh, dw


def _offset(k: str, dil: int, pad: int) -> str:
    text = k if dil == 1 else f"{k} * {dil}"
    return f"{text} - {pad}" if pad else text


def _scaled(o: str, stride: int) -> str:
    return o if stride == 1 else f"{o} * {stride}"


@contextlib.contextmanager
def _taps(w, attrs, kh, kw):
    """Loops over channels, taps and output rows; yields ``(row, h, d0, lo, hi, xo)``: the
    tap's row in ``cols``, input row ``h`` (maybe outside), the first column of this output row,
    the output columns ``[lo, hi)`` whose input column ``ow * sw + xo`` is inside."""
    sh, sw, ph, pw, dh, dw = _geometry(attrs)
    c, i, j, oh = w.fresh("c"), w.fresh("ki"), w.fresh("kj"), w.fresh("oh")
    row, h, xo, lo, hi, d0 = (w.fresh(s) for s in ("row", "h", "xo", "lo", "hi", "d"))
    depth = w.depth
    w.line(f"for {c} in range(_C):")
    w.depth += 1
    w.line(f"for {i} in range({kh}):")
    w.depth += 1
    w.line(f"for {j} in range({kw}):")
    w.depth += 1
    w.line(f"{row} = ({c} * {kh} + {i}) * {kw} + {j}")
    w.line(f"{xo} = {_offset(j, dw, pw)}")
    if pw == 0 and sw == 1:
        w.line(f"{lo} = 0")
    else:
        w.line(f"{lo} = max(0, -({xo} // {sw}))")
    w.line(f"{hi} = min(_OW, (_W - 1 - {xo}) // {sw} + 1)")
    w.line(f"for {oh} in range(_OH):")
    w.depth += 1
    w.line(f"{h} = {_scaled(oh, sh)} + {_offset(i, dh, ph)}")
    w.line(f"{d0} = {oh} * _OW")
    try:
        yield c, row, h, d0, lo, hi, xo, sw
    finally:
        w.depth = depth


def _im2col(w, x, n, cols, attrs, kh, kw):
    """``cols[row, oh*OW + ow] = x[n, c, h, ow*sw + xo]`` (0 in the padding)."""
    with _taps(w, attrs, kh, kw) as (c, row, h, d0, lo, hi, xo, sw):
        ow, xr = w.fresh("ow"), w.fresh("xr")
        with w.block(f"if {h} < 0 or {h} >= _H:"):
            w.line(f"{cols}[{row}, {d0}:{d0} + _OW] = 0")
            w.line("continue")
        w.line(f"{xr} = {x}[{n}, {c}, {h}]")
        with w.block(f"for {ow} in range({lo}):"):
            w.line(f"{cols}[{row}, {d0} + {ow}] = 0")
        with w.block(f"for {ow} in range({lo}, {hi}):"):
            w.line(f"{cols}[{row}, {d0} + {ow}] = {xr}[{_scaled(ow, sw)} + {xo}]")
        with w.block(f"for {ow} in range(max({lo}, {hi}), _OW):"):
            w.line(f"{cols}[{row}, {d0} + {ow}] = 0")


def _col2im(w, dx, n, dcols, attrs, kh, kw):
    """``dx[n, c, h, ow*sw + xo] += dcols[row, oh*OW + ow]`` over taps inside the input."""
    with _taps(w, attrs, kh, kw) as (c, row, h, d0, lo, hi, xo, sw):
        ow, xr = w.fresh("ow"), w.fresh("xr")
        with w.block(f"if {h} < 0 or {h} >= _H:"):
            w.line("continue")
        w.line(f"{xr} = {dx}[{n}, {c}, {h}]")
        with w.block(f"for {ow} in range({lo}, {hi}):"):
            w.line(f"{xr}[{_scaled(ow, sw)} + {xo}] += {dcols}[{row}, {d0} + {ow}]")


def _dims(w, image, out_or_ct, kh, kw):
    """Bind ``_N, _C, _H, _W`` (the image side), ``_O, _OH, _OW`` and ``_P, _K`` as literals
    where the types know them (loop bounds LLVM can unroll), else from the symbols."""
    n, c, h, wd = (w.dim(d) for d in image.type.shape)
    o, oh, ow = (w.dim(d) for d in out_or_ct.type.shape[1:])
    w.line(f"_N, _C, _H, _W = {n}, {c}, {h}, {wd}")
    w.line(f"_O, _OH, _OW = {o}, {oh}, {ow}")
    w.line("_P = _OH * _OW")
    w.line(f"_K = _C * {kh * kw}")
    oshape = out_or_ct.type.shape
    return oshape[1], image.type.shape[1] * kh * kw, oshape[2] * oshape[3]  # _O, _K, _P


def conv2d(w, node, ins, out, epilogue=None):
    x, wt = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    kh, kw = node.inputs[1].type.shape[2:]
    cols, wm, o2, n = w.fresh("cols"), w.fresh("wm"), w.fresh("o2_"), w.fresh("n")
    w.empty(out, node.out)
    _, k, p = _dims(w, node.inputs[0], node.out, kh, kw)
    w.buffer(cols, (k, p), node.out.type.dtype.name)
    w.line(f"{wm} = {wt}.reshape(_O, _K)")
    with w.block(f"for {n} in range(_N):"):
        w.line(f"{o2} = {out}[{n}].reshape(_O, _P)")
        with w.block("if _K == 0 or _O == 0 or _P == 0:"):
            w.line(f"{o2}[...] = 0")
        with w.block("else:"):
            _im2col(w, x, n, cols, node.attrs, kh, kw)
            w.line(f"np.dot({wm}, {cols}, {o2})")
        if b is not None:
            o, p, bo = w.fresh("o"), w.fresh("p"), w.fresh("bo")
            with w.block(f"for {o} in range(_O):"):
                w.line(f"{bo} = {b}[{o}]")
                with w.block(f"for {p} in range(_P):"):
                    w.line(f"{o2}[{o}, {p}] += {bo}")
        if epilogue is not None:
            epilogue(n)


def conv2d_weight_grad(w, node, ins, out):
    x, ct = ins
    kh, kw = node.attrs["kernel_size"]
    cols, tmp, acc, n = w.fresh("cols"), w.fresh("tmp"), w.fresh("acc"), w.fresh("n")
    w.empty(out, node.out)
    o, k, p = _dims(w, node.inputs[0], node.inputs[1], kh, kw)
    w.buffer(cols, (k, p), node.out.type.dtype.name)
    w.buffer(tmp, (o, k), node.out.type.dtype.name)
    w.line(f"{acc} = {out}.reshape(_O, _K)")
    w.line(f"{acc}[...] = 0")
    with w.block(f"for {n} in range(_N if _P > 0 and _O > 0 and _K > 0 else 0):"):
        _im2col(w, x, n, cols, node.attrs, kh, kw)
        w.line(f"np.dot({ct}[{n}].reshape(_O, _P), {cols}.T, {tmp})")
        w.line(f"{acc} += {tmp}")


def conv2d_input_grad(w, node, ins, out):
    ct, wt = ins
    kh, kw = node.inputs[1].type.shape[2:]
    dcols, wtt, n = w.fresh("dcols"), w.fresh("wt"), w.fresh("n")
    w.empty(out, node.out)
    _, k, p = _dims(w, node.out, node.inputs[0], kh, kw)
    w.buffer(dcols, (k, p), node.out.type.dtype.name)
    w.line(f"{wtt} = {wt}.reshape(_O, _K).T")
    with w.block(f"for {n} in range(_N):"):
        w.line(f"{out}[{n}] = 0")
        with w.block("if _K > 0 and _P > 0 and _O > 0:"):
            w.line(f"np.dot({wtt}, {ct}[{n}].reshape(_O, _P), {dcols})")
            _col2im(w, out, n, dcols, node.attrs, kh, kw)
