"""conv2d and its two gradients, max/avg pooling and their backward ops: direct loops.

Every window op walks output pixels and kernel taps in row-major order and skips taps that fall
in the padding (which counts as 0, or -inf for max). Faster algorithms by shape (im2col + BLAS,
sparse pool backward, ``prange``) slot in here per op.
"""

from __future__ import annotations

import contextlib

from codegen.cpu.lowerings import conv_small, im2col, lowering


def _pos(o: str, stride: int, pad: int, k: str, dilation: int) -> str:
    """``o * stride - pad + k * dilation``, without the terms that are no-ops."""
    text = o if stride == 1 else f"{o} * {stride}"
    text += f" - {pad}" if pad else ""
    return text + (f" + {k}" if dilation == 1 else f" + {k} * {dilation}")


@contextlib.contextmanager
def _taps(w, attrs, oh, ow, H, W, bounds=True):
    """Loops over kernel taps ``(i, j)`` of output pixel ``(oh, ow)``; yields the input pixel
    ``(h, x)`` (inside the input when ``bounds``)."""
    kh, kw = attrs.get("kernel_size") or attrs["_kernel"]
    sh, sw = attrs["stride"]
    ph, pw = attrs.get("padding", (0, 0))
    dh, dw = attrs.get("dilation", (1, 1))
    i, j, h, x = w.fresh("ki"), w.fresh("kj"), w.fresh("h"), w.fresh("x")
    depth = w.depth
    w.line(f"for {i} in range({kh}):")
    w.depth += 1
    w.line(f"{h} = {_pos(oh, sh, ph, i, dh)}")
    if bounds:
        w.line(f"if {h} < 0 or {h} >= {H}:")
        w.line("    continue")
    w.line(f"for {j} in range({kw}):")
    w.depth += 1
    w.line(f"{x} = {_pos(ow, sw, pw, j, dw)}")
    if bounds:
        w.line(f"if {x} < 0 or {x} >= {W}:")
        w.line("    continue")
    try:
        yield h, x, i, j
    finally:
        w.depth = depth


# ---- convolution --------------------------------------------------------------------------
def _conv_attrs(node, kernel):
    return dict(node.attrs, _kernel=kernel)


def _gemm(node) -> bool:
    """im2col + BLAS for float convolutions without groups; direct loops otherwise."""
    return node.attrs.get("groups", 1) == 1 and node.out.type.dtype.is_floating_point


@lowering("conv2d")
def _conv2d(w, node, ins, out, epilogue=None):
    """``epilogue(n)``, if given, emits the pointwise chain after the convolution for image
    ``n`` (bias + relu while the image is in cache)."""
    if _gemm(node):
        small = conv_small.applies(node, *node.inputs[1].type.shape[2:])
        return (conv_small if small else im2col).conv2d(w, node, ins, out, epilogue)
    _direct_conv2d(w, node, ins, out)
    if epilogue is not None:
        n = w.fresh("n")
        with w.block(f"for {n} in range({w.dim(node.out.type.shape[0])}):"):
            epilogue(n)


_conv2d.takes_epilogue = True


def _direct_conv2d(w, node, ins, out):
    x, wt = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    g = node.attrs.get("groups", 1)
    kh, kw = node.inputs[1].type.shape[2:]
    dt = w.dtype(node.out)
    w.empty(out, node.out)
    w.line(f"_N, _C, _H, _W = {x}.shape")
    w.line(f"_O, _CG = {wt}.shape[0], {wt}.shape[1]")
    w.line(f"_OG = _O // {g}")
    with w.loops(["_N", "_O", f"{out}.shape[2]", f"{out}.shape[3]"]) as (n, o, oh, ow):
        acc = w.fresh("acc")
        w.line(f"{acc} = {dt}(0)")
        cb = w.fresh("cb")
        w.line(f"{cb} = ({o} // _OG) * _CG")
        with w.loops(["_CG"], "c") as (c,):
            with _taps(w, _conv_attrs(node, (kh, kw)), oh, ow, "_H", "_W") as (h, xx, i, j):
                w.line(f"{acc} += {x}[{n}, {cb} + {c}, {h}, {xx}] * {wt}[{o}, {c}, {i}, {j}]")
        bias = f" + {b}[{o}]" if b is not None else ""
        w.line(f"{out}[{n}, {o}, {oh}, {ow}] = {acc}{bias}")


@lowering("conv2d_input_grad")
def _conv2d_input_grad(w, node, ins, out):
    if _gemm(node):
        return im2col.conv2d_input_grad(w, node, ins, out)
    ct, wt = ins
    g = node.attrs.get("groups", 1)
    kh, kw = node.inputs[1].type.shape[2:]
    w.zeros(out, node.out)
    w.line(f"_H, _W = {out}.shape[2], {out}.shape[3]")
    w.line(f"_O, _CG = {wt}.shape[0], {wt}.shape[1]")
    w.line(f"_OG = _O // {g}")
    dims = [f"{ct}.shape[0]", "_O", f"{ct}.shape[2]", f"{ct}.shape[3]"]
    with w.loops(dims) as (n, o, oh, ow):
        v, cb = w.fresh("v"), w.fresh("cb")
        w.line(f"{v} = {ct}[{n}, {o}, {oh}, {ow}]")
        w.line(f"{cb} = ({o} // _OG) * _CG")
        with w.loops(["_CG"], "c") as (c,):
            with _taps(w, _conv_attrs(node, (kh, kw)), oh, ow, "_H", "_W") as (h, xx, i, j):
                w.line(f"{out}[{n}, {cb} + {c}, {h}, {xx}] += {v} * {wt}[{o}, {c}, {i}, {j}]")


@lowering("conv2d_weight_grad")
def _conv2d_weight_grad(w, node, ins, out):
    if _gemm(node):
        small = conv_small.applies(node, *node.attrs["kernel_size"])
        return (conv_small if small else im2col).conv2d_weight_grad(w, node, ins, out)
    x, ct = ins
    g = node.attrs.get("groups", 1)
    w.zeros(out, node.out)
    w.line(f"_H, _W = {x}.shape[2], {x}.shape[3]")
    w.line(f"_O, _CG = {out}.shape[0], {out}.shape[1]")
    w.line(f"_OG = _O // {g}")
    dims = [f"{ct}.shape[0]", "_O", f"{ct}.shape[2]", f"{ct}.shape[3]"]
    attrs = _conv_attrs(node, node.attrs["kernel_size"])
    with w.loops(dims) as (n, o, oh, ow):
        v, cb = w.fresh("v"), w.fresh("cb")
        w.line(f"{v} = {ct}[{n}, {o}, {oh}, {ow}]")
        w.line(f"{cb} = ({o} // _OG) * _CG")
        with w.loops(["_CG"], "c") as (c,):
            with _taps(w, attrs, oh, ow, "_H", "_W") as (h, xx, i, j):
                w.line(f"{out}[{o}, {c}, {i}, {j}] += {v} * {x}[{n}, {cb} + {c}, {h}, {xx}]")


# ---- max pooling --------------------------------------------------------------------------
def _pixels(w, src, out_shape_of):
    return [f"{src}.shape[0]", f"{src}.shape[1]", f"{out_shape_of}[2]", f"{out_shape_of}[3]"]


@lowering("max_pool2d")
def _max_pool2d(w, node, ins, out):
    (x,) = ins
    w.empty(out, node.out)
    w.line(f"_H, _W = {x}.shape[2], {x}.shape[3]")
    with w.loops(_pixels(w, x, f"{out}.shape")) as (n, c, oh, ow):
        m = w.fresh("m")
        w.line(f"{m} = -np.inf")
        with _taps(w, node.attrs, oh, ow, "_H", "_W") as (h, xx, i, j):
            v = w.fresh("v")
            w.line(f"{v} = {x}[{n}, {c}, {h}, {xx}]")
            with w.block(f"if {v} > {m} or {v} != {v}:"):
                w.line(f"{m} = {v}")
        w.line(f"{out}[{n}, {c}, {oh}, {ow}] = {m}")


def _argmax(w, x, attrs, n, c, oh, ow):
    """Emit the scan for the window's first maximum (row-major, padding -inf, first NaN wins,
    as numpy's argmax over the window); returns ``(inside, h, x)`` variable names."""
    best, bh, bx, first = w.fresh("best"), w.fresh("bh"), w.fresh("bx"), w.fresh("first")
    w.line(f"{best} = -np.inf")
    w.line(f"{bh} = -1")
    w.line(f"{bx} = -1")
    w.line(f"{first} = True")
    with _taps(w, attrs, oh, ow, "_H", "_W", bounds=False) as (h, xx, i, j):
        v = w.fresh("v")
        w.line(f"{v} = -np.inf")
        with w.block(f"if {h} >= 0 and {h} < _H and {xx} >= 0 and {xx} < _W:"):
            w.line(f"{v} = {x}[{n}, {c}, {h}, {xx}]")
        with w.block(f"if {first} or ({best} == {best} and ({v} > {best} or {v} != {v})):"):
            w.line(f"{best} = {v}")
            w.line(f"{bh} = {h}")
            w.line(f"{bx} = {xx}")
            w.line(f"{first} = False")
    inside = w.fresh("inside")
    w.line(f"{inside} = {bh} >= 0 and {bh} < _H and {bx} >= 0 and {bx} < _W")
    return inside, bh, bx


@lowering("max_pool2d_backward")
def _max_pool2d_backward(w, node, ins, out):
    ct, x = ins
    w.zeros(out, node.out)
    w.line(f"_H, _W = {x}.shape[2], {x}.shape[3]")
    with w.loops(_pixels(w, x, f"{ct}.shape")) as (n, c, oh, ow):
        inside, bh, bx = _argmax(w, x, node.attrs, n, c, oh, ow)
        with w.block(f"if {inside}:"):
            w.line(f"{out}[{n}, {c}, {bh}, {bx}] += {ct}[{n}, {c}, {oh}, {ow}]")


@lowering("max_pool2d_select")
def _max_pool2d_select(w, node, ins, out):
    g, x = ins
    w.zeros(out, node.out)
    w.line(f"_H, _W = {x}.shape[2], {x}.shape[3]")
    with w.loops(_pixels(w, x, f"{out}.shape")) as (n, c, oh, ow):
        inside, bh, bx = _argmax(w, x, node.attrs, n, c, oh, ow)
        with w.block(f"if {inside}:"):
            w.line(f"{out}[{n}, {c}, {oh}, {ow}] = {g}[{n}, {c}, {bh}, {bx}]")


# ---- average pooling ----------------------------------------------------------------------
def _divisor(w, attrs, oh, ow, H, W):
    """Emit the divisor of window ``(oh, ow)``; returns its code (torch's rules)."""
    kh, kw = attrs["kernel_size"]
    if attrs.get("divisor_override"):
        return str(attrs["divisor_override"])
    if attrs.get("count_include_pad", True) or tuple(attrs.get("padding", (0, 0))) == (0, 0):
        return str(kh * kw)
    cnt = w.fresh("cnt")
    w.line(f"{cnt} = 0")
    with _taps(w, attrs, oh, ow, H, W):
        w.line(f"{cnt} += 1")
    return cnt


@lowering("avg_pool2d")
def _avg_pool2d(w, node, ins, out):
    (x,) = ins
    dt = w.dtype(node.out)
    w.empty(out, node.out)
    w.line(f"_H, _W = {x}.shape[2], {x}.shape[3]")
    with w.loops(_pixels(w, x, f"{out}.shape")) as (n, c, oh, ow):
        acc = w.fresh("acc")
        w.line(f"{acc} = {dt}(0)")
        with _taps(w, node.attrs, oh, ow, "_H", "_W") as (h, xx, i, j):
            w.line(f"{acc} += {x}[{n}, {c}, {h}, {xx}]")
        div = _divisor(w, node.attrs, oh, ow, "_H", "_W")
        w.line(f"{out}[{n}, {c}, {oh}, {ow}] = {acc} / {dt}({div})")


@lowering("avg_pool2d_backward")
def _avg_pool2d_backward(w, node, ins, out):
    (ct,) = ins
    dt = w.dtype(node.out)
    w.zeros(out, node.out)
    w.line(f"_H, _W = {out}.shape[2], {out}.shape[3]")
    with w.loops(_pixels(w, ct, f"{ct}.shape")) as (n, c, oh, ow):
        div = _divisor(w, node.attrs, oh, ow, "_H", "_W")
        share = w.fresh("share")
        w.line(f"{share} = {ct}[{n}, {c}, {oh}, {ow}] / {dt}({div})")
        with _taps(w, node.attrs, oh, ow, "_H", "_W") as (h, xx, i, j):
            w.line(f"{out}[{n}, {c}, {h}, {xx}] += {share}")
