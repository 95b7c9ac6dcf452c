"""The fuzzer's nn families (softmax, losses, conv, pooling, pad) and in-place ops."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.oracle.ops import _dim, assign, op
from tests.oracle.programs import SCALARS, Program

REDUCTIONS = st.sampled_from(["mean", "sum", "none"])


@op("softmax", 3)
def softmax(p: Program):
    x = p.operand()
    f = p.draw(st.sampled_from(["softmax", "log_softmax"]))
    d = _dim(p, len(p.shape(x)))
    form = p.draw(st.booleans())
    assign(p, f"F.{f}({x}, {d})" if form else f"F.{f}({x}, dim={d})", f)


@op("mse", 1)
def mse(p: Program):
    x = p.operand()
    y = p.leaf(p.shape(x)) if p.draw(st.integers(0, 4)) else p.operand()
    assign(p, f"F.mse_loss({x}, {y}, reduction={p.draw(REDUCTIONS)!r})", "mse_loss")


@op("cross_entropy", 3)
def cross_entropy(p: Program):
    """Class-index targets (ignored, out of range at times), weights, probability targets."""
    n, c = p.draw(st.integers(1, 3)), p.draw(st.integers(1, 4))
    extra = tuple(p.draw(st.lists(st.integers(1, 2), max_size=1)))
    unbatched = not extra and p.draw(st.integers(0, 3)) == 0
    shape = (c,) if unbatched else (n, c, *extra)
    x = p.leaf(shape)
    kind = p.draw(st.sampled_from(["index", "index", "probs"]))
    args = [f"reduction={p.draw(REDUCTIONS)!r}"]
    if p.draw(st.integers(0, 2)) == 0:
        w = p.leaf((c,), requires_grad=False, elements=st.sampled_from([0.0, 0.5, 1.0, 2.0]))
        args.append(f"weight={w}")
    if kind == "probs":
        probs = p.leaf(shape, requires_grad=False)
        (t,) = assign(p, f"F.softmax({probs}, {0 if unbatched else 1})", "softmax")
        if p.draw(st.integers(0, 5)) == 0:
            args.append(f"ignore_index={p.draw(st.sampled_from([-1, 0]))}")
    else:
        tshape = () if unbatched else (n, *extra)
        bad = p.draw(st.integers(0, 9)) == 0
        t = p.ints(tshape, -1 if bad else 0, c if bad else c - 1)
        if p.draw(st.integers(0, 2)) == 0:
            args.append(f"ignore_index={p.draw(st.sampled_from([0, c - 1, -1, -100]))}")
    if p.done:
        return
    f = "cross_entropy"
    if kind == "index":
        f = p.draw(st.sampled_from(["cross_entropy", "nll_loss"]))
    inp = x if f == "cross_entropy" else f"F.log_softmax({x}, {0 if unbatched else 1})"
    assign(p, f"F.{f}({inp}, {t}, {', '.join(args)})", f)


def _image(p: Program, channels: int | None = None):
    """An existing 4-D float tensor (or 3-D, unbatched), or a new leaf ``[N, C, H, W]``."""
    x = p.pick("f", 4, 4)
    if x is None or channels is not None or p.draw(st.booleans()):
        c = channels or p.draw(st.integers(1, 3))
        hw = (p.draw(st.integers(1, 6)), p.draw(st.integers(1, 6)))
        lead = () if p.draw(st.integers(0, 5)) == 0 else (p.draw(st.integers(1, 2)),)
        x = p.leaf((*lead, c, *hw))
    return x


@op("conv2d", 2)
def conv2d(p: Program):
    groups = p.draw(st.sampled_from([1, 1, 2]))
    cin, cout = groups * p.draw(st.integers(1, 2)), groups * p.draw(st.integers(1, 2))
    x = _image(p, cin)
    k = (p.draw(st.integers(1, 3)), p.draw(st.integers(1, 3)))
    w = p.leaf((cout, cin // groups, *k))
    args = [x, w, p.leaf((cout,)) if p.draw(st.booleans()) else "None"]
    stride = p.draw(st.sampled_from([1, 1, 2, (1, 2)]))
    padding = p.draw(st.sampled_from([0, 1, (0, 1), "'same'", "'valid'"]))
    dilation = p.draw(st.sampled_from([1, 1, 2]))
    args += [f"stride={stride}", f"padding={padding}", f"dilation={dilation}", f"groups={groups}"]
    assign(p, f"F.conv2d({', '.join(map(str, args))})", "conv2d")


@op("pool", 3)
def pool(p: Program):
    x = _image(p)
    f = p.draw(st.sampled_from(["max_pool2d", "avg_pool2d"]))
    k = p.draw(st.sampled_from([1, 2, 3, (2, 1), (3, 2)]))
    args = [x, str(k)]
    if p.draw(st.booleans()):
        args.append(f"stride={p.draw(st.sampled_from([1, 2, (1, 2)]))}")
    pad = p.draw(st.sampled_from([0, 0, 1, (0, 1), 2]))
    if pad:
        args.append(f"padding={pad}")
    if p.draw(st.booleans()):
        args.append("ceil_mode=True")
    kk = k if isinstance(k, tuple) else (k, k)
    fits = all(h >= 2 * (kd - 1) + 1 for h, kd in zip(p.shape(x)[-2:], kk))
    if f == "max_pool2d" and fits and p.draw(st.integers(0, 2)) == 0:
        # only where the dilated window fits the input: a window of padding alone makes
        # torch's max_pool2d backward write out of bounds (wrong grads, or free() aborts)
        args.append("dilation=2")
    if f == "avg_pool2d":
        if p.draw(st.booleans()):
            args.append("count_include_pad=False")
        if p.draw(st.integers(0, 3)) == 0:
            args.append(f"divisor_override={p.draw(st.integers(1, 3))}")
    assign(p, f"F.{f}({', '.join(args)})", f)


@op("inplace", 3)
def inplace(p: Program):
    """In-place ops on a fresh non-leaf (``x * 1``), on a view of one (the base's history
    changes), or on any tensor the program made (earlier ops may have saved it: backward must
    then raise as torch's does; a leaf that requires grad must raise at once)."""
    where = p.draw(st.sampled_from(["fresh", "view", "existing"]))
    if where == "existing":
        target = p.pick("f")
        if target is None:
            return
    else:
        x = p.operand(min_ndim=1 if where == "view" else 0)
        (target,) = assign(p, f"{x} * 1", "mul")
        if p.done:
            return
        if where == "view":
            nd = len(p.shape(target))
            views = [f"{target}[0]", f"{target}[..., :1]", f"{target}.unsqueeze(0)"]
            views += [f"{target}.t()"] if nd == 2 else []
            target = p.draw(st.sampled_from(views))
    f = p.draw(st.sampled_from(["add_", "sub_", "mul_", "div_", "clamp_", "relu_", "zero_"]))
    arg = {"clamp_": "min=0.0", "relu_": "", "zero_": ""}.get(f, repr(p.draw(SCALARS)))
    p.run(f"{target}.{f}({arg})", f)


@op("index", 1)
def index(p: Program):
    """Integer-array and boolean-mask indexing (gradients add up at repeated indices)."""
    x = p.operand(min_ndim=1)
    f = p.draw(st.sampled_from(["repeated", "negative", "mask"]))
    key = {"repeated": "T.tensor([0, 0])", "negative": "T.tensor([-1, 0])", "mask": f"{x} > 0"}
    assign(p, f"{x}[{key[f]}]", "advanced_index")


@op("pad", 1)
def pad(p: Program):
    """F.pad in every mode: amounts up to what each mode allows (at times one past, to raise),
    negative ones cropping in constant mode, a constant value now and then."""
    x = p.operand(min_ndim=1)
    shape = p.shape(x)
    mode = p.draw(st.sampled_from(["constant", "constant", "reflect", "replicate", "circular"]))
    k = p.draw(st.integers(1, min(len(shape), 2)))
    amounts = []
    for d in range(k):
        n = shape[len(shape) - 1 - d]
        low = -n if mode == "constant" else 0
        amounts += [p.draw(st.integers(low, n + 1)) for _ in range(2)]
    args = [repr(tuple(amounts))]
    if mode != "constant":
        args.append(f"mode={mode!r}")
    elif p.draw(st.booleans()):
        args.append(f"value={p.draw(SCALARS)!r}")
    assign(p, f"F.pad({x}, {', '.join(args)})", "pad")
