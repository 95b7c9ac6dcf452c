"""conv2d and its gradients as im2col + one BLAS GEMM (``np.dot``), as the numpy impls do.

Chosen by ``window.py`` for float, ``groups == 1`` convolutions: the taps of every output pixel
are gathered into a row of ``cols [N*OH*OW, C*kh*kw]``, so the convolution is
``cols @ w.reshape(O, -1).T``, the weight gradient ``ct_rows.T @ cols`` and the input gradient
``ct_rows @ w.reshape(O, -1)`` scattered back through the same taps.
"""

from __future__ import annotations


def _pixels(w, n_code, oh_code, ow_code):
    """Loops over output pixels; yields ``(n, oh, ow, r)`` with ``r`` the pixel's row."""
    return w.loops([n_code, oh_code, ow_code], "p")


def _gather(w, x, attrs, kh, kw, cols, n, oh, ow, r, scatter=False):
    """``cols[r, (c*kh + i)*kw + j] = x[n, c, h, w]`` over in-bounds taps (or ``+=`` back)."""
    from codegen.cpu.lowerings.window import _taps

    with w.loops(["_C"], "c") as (c,):
        attrs = dict(attrs, _kernel=(kh, kw))
        with _taps(w, attrs, oh, ow, "_H", "_W") as (h, xx, i, j):
            col = f"{cols}[{r}, ({c} * {kh} + {i}) * {kw} + {j}]"
            if scatter:
                w.line(f"{x}[{n}, {c}, {h}, {xx}] += {col}")
            else:
                w.line(f"{col} = {x}[{n}, {c}, {h}, {xx}]")


def _setup(w, x_shape_src, ct_or_out, kh, kw, dt, cols):
    w.line(f"_N, _C, _H, _W = {x_shape_src}.shape")
    w.line(f"_OH, _OW = {ct_or_out}.shape[2], {ct_or_out}.shape[3]")
    w.line(f"{cols} = np.zeros((_N * _OH * _OW, _C * {kh * kw}), {dt})")


def _rows(w, ct, dt, rows):
    """``rows[r, o] = ct[n, o, oh, ow]``: the cotangent as a ``[N*OH*OW, O]`` matrix."""
    w.line(f"_O = {ct}.shape[1]")
    w.line(f"{rows} = np.empty((_N * _OH * _OW, _O), {dt})")
    with _pixels(w, "_N", "_OH", "_OW") as (n, oh, ow):
        with w.block("for _o in range(_O):"):
            w.line(f"{rows}[({n} * _OH + {oh}) * _OW + {ow}, _o] = {ct}[{n}, _o, {oh}, {ow}]")


def conv2d(w, node, ins, out):
    x, wt = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    kh, kw = node.inputs[1].type.shape[2:]
    dt = w.dtype(node.out)
    cols, res = w.fresh("cols"), w.fresh("res")
    w.empty(out, node.out)
    _setup(w, x, out, kh, kw, dt, cols)
    with _pixels(w, "_N", "_OH", "_OW") as (n, oh, ow):
        r = w.fresh("r")
        w.line(f"{r} = ({n} * _OH + {oh}) * _OW + {ow}")
        _gather(w, x, node.attrs, kh, kw, cols, n, oh, ow, r)
    w.line(f"_O = {wt}.shape[0]")
    w.line(f"{res} = np.dot({cols}, np.ascontiguousarray({wt}.reshape(_O, -1).T))")
    with _pixels(w, "_N", "_OH", "_OW") as (n, oh, ow):
        with w.block("for _o in range(_O):"):
            v = f"{res}[({n} * _OH + {oh}) * _OW + {ow}, _o]"
            w.line(f"{out}[{n}, _o, {oh}, {ow}] = {v}" + (f" + {b}[_o]" if b else ""))


def conv2d_weight_grad(w, node, ins, out):
    x, ct = ins
    kh, kw = node.attrs["kernel_size"]
    dt = w.dtype(node.out)
    cols, rows = w.fresh("cols"), w.fresh("rows")
    _setup(w, x, ct, kh, kw, dt, cols)
    with _pixels(w, "_N", "_OH", "_OW") as (n, oh, ow):
        r = w.fresh("r")
        w.line(f"{r} = ({n} * _OH + {oh}) * _OW + {ow}")
        _gather(w, x, node.attrs, kh, kw, cols, n, oh, ow, r)
    _rows(w, ct, dt, rows)
    w.assign(out, f"np.dot(np.ascontiguousarray({rows}.T), {cols}).reshape({w.shape(node.out)})")


def conv2d_input_grad(w, node, ins, out):
    ct, wt = ins
    kh, kw = node.inputs[1].type.shape[2:]
    dt = w.dtype(node.out)
    cols, rows = w.fresh("dcols"), w.fresh("rows")
    w.zeros(out, node.out)
    w.line(f"_N, _C, _H, _W = {out}.shape")
    w.line(f"_OH, _OW = {ct}.shape[2], {ct}.shape[3]")
    _rows(w, ct, dt, rows)
    w.line(f"{cols} = np.dot({rows}, np.ascontiguousarray({wt}).reshape(_O, -1))")
    with _pixels(w, "_N", "_OH", "_OW") as (n, oh, ow):
        r = w.fresh("r")
        w.line(f"{r} = ({n} * _OH + {oh}) * _OW + {ow}")
        _gather(w, out, node.attrs, kh, kw, cols, n, oh, ow, r, scatter=True)
