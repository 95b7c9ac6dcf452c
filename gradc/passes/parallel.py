"""Which kernels can run split over the batch: on two halves of every batch-sized array at once,
in two threads (the cores numba's serial kernels leave idle).

A kernel splits over the batch symbol ``N`` when every node in it keeps images apart: a row of
each batch-led output depends only on the same row of each batch-led input (convolutions,
pools, pointwise ops, reductions and reshapes that keep dim 0, matmuls of rows), or sums over
the images (a weight or bias gradient), whose halves the runtime adds. Slicing dim 0 of a
row-major array keeps it contiguous, so a split calls the same compiled kernel on views: no code
is generated for it. ``numba``'s own ``prange`` would cost 3-4 s of compile time per kernel.

Only kernels with enough work per image are marked (a handoff to the threads and the join cost
~10-25 us with the threads spinning, ~0.1 ms when they sleep); the program splits them when the
batch is large enough (``runtime.parallel``).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

MIN_WORK = 1024  # elements per image of a kernel's largest value below which it never splits

ROWWISE_OPS = frozenset(
    {
        "conv2d", "conv2d_input_grad", "max_pool2d", "max_pool2d_indices", "max_pool2d_gather",
        "max_pool2d_scatter", "max_pool2d_backward", "max_pool2d_select", "avg_pool2d",
        "avg_pool2d_backward",
    }
)  # fmt: skip
REDUCE_OPS = frozenset({"sum", "prod", "amax", "amin"})


@dataclass
class Split:
    symbol: str  # the batch symbol
    inputs: list[bool]  # per kernel input: sliced along dim 0 (else passed whole)
    sums: list[bool]  # per kernel output: a sum over the images (else rows)


def _batched(v, s) -> bool:
    return v.type.ndim > 0 and v.type.shape[0] == s


def _numel_per_image(v):
    out = sympy.Integer(1)
    for d in v.type.shape[1:]:
        out = out * d
    return out


def _node_ok(n, s) -> str | None:
    """``"rows"``, ``"sum"`` (the node's output sums over the images), or None."""
    out, ins = n.out, n.inputs
    name, kind = n.op.name, n.op.kind
    if not _has(out, s) and not any(_has(v, s) for v in ins):
        return "rows"  # no image in it (a weight's transpose): each half computes it whole
    if kind == "pointwise":
        if not _batched(out, s):
            return None
        for v in ins:  # batch-led operands of full rank are sliced; the rest broadcast whole
            if _has(v, s) and not (v.type.ndim == out.type.ndim and _batched(v, s)):
                return None
        return "rows"
    if name in ROWWISE_OPS:
        return "rows" if _batched(out, s) and _batched(ins[0], s) else None
    if name == "conv2d_weight_grad":
        return "sum" if all(_batched(v, s) for v in ins) else None
    if name in REDUCE_OPS:
        dims = n.attrs["dim"]
        if not _batched(ins[0], s):
            return None
        if 0 not in dims:
            return "rows"
        return "sum" if name == "sum" and not _has(out, s) else None
    if name == "matmul":
        a, b = ins
        if a.type.ndim == 2 and _batched(a, s) and not _has(b, s):
            return "rows"
        return None
    if name == "reshape":
        a = ins[0]
        if _batched(a, s) and _batched(out, s):
            same = sympy.simplify(_numel_per_image(a) - _numel_per_image(out)) == 0
            return "rows" if same else None
        return None
    if name == "permute":
        return "rows" if n.attrs["dims"][0] == 0 and _batched(ins[0], s) else None
    return None


def _has(v, s) -> bool:
    return any(s in sympy.sympify(d).free_symbols for d in v.type.shape)


def run_ends(kernels) -> list[int]:
    """Per kernel, the index of the last kernel of its run: consecutive kernels split over one
    batch symbol (free views between them do not break a run), which the program may hand to
    its threads as a whole; a kernel not split is a run of its own. The memory plan reuses no
    slot inside a run: a thread may still read a value's rows that another has overwritten."""
    from gradc.passes.memory import is_alias_kernel

    ends, start, symbol = list(range(len(kernels))), 0, None
    for k, kernel in enumerate(kernels):
        if is_alias_kernel(kernel):
            continue
        s = kernel.split.symbol if kernel.split is not None else None
        if s is None or s != symbol:
            start, symbol = k, s
        for j in range(start, k + 1):
            ends[j] = k
    return ends


def sums_over_batch(node) -> bool:
    """A weight or bias gradient over a symbolic batch with enough work per image: fusion
    gives it no epilogue (an optimizer update on the sum), so its kernel can split."""
    if node.op.name == "conv2d_weight_grad":
        x = node.inputs[0]
    elif node.op.name == "sum" and 0 in node.attrs["dim"]:
        x = node.inputs[0]
    else:
        return False
    if x.type.ndim == 0 or not isinstance(x.type.shape[0], sympy.Symbol):
        return False
    work = _numel_per_image(x)
    return bool(work.is_number) and int(work) >= MIN_WORK


def split_of(kernel, symbols) -> Split | None:
    """How ``kernel`` splits over the batch, or None."""
    if not symbols:
        return None
    leads = {
        v.type.shape[0]
        for n in kernel.nodes
        for v in (n.out, *n.inputs)
        if v.type.ndim > 0 and isinstance(v.type.shape[0], sympy.Symbol)
    }
    if len(leads) != 1:  # a weight gradient's loop is the weight: the batch leads its inputs
        return None
    (s,) = leads
    outs = {id(v) for v in kernel.outputs}
    sums = set()
    for n in kernel.nodes:
        how = _node_ok(n, s)
        if how is None:
            return None
        if how == "sum":
            if id(n.out) not in outs or any(n.out in m.inputs for m in kernel.nodes):
                return None  # a sum used inside the kernel would see only half the images
            sums.add(id(n.out))
        for v in n.inputs:  # a value with the batch symbol must be batch-led
            if _has(v, s) and not _batched(v, s):
                return None
    for n in kernel.nodes:  # every symbol the kernel uses is the batch
        for v in (n.out, *n.inputs):
            for d in v.type.shape:
                if sympy.sympify(d).free_symbols - {s}:
                    return None
        if any(isinstance(a, sympy.Basic) and a.free_symbols for a in _flat(_attrs(n, s))):
            return None
    for v in kernel.outputs:
        if id(v) not in sums and not _batched(v, s):
            return None
    values = [v for n in kernel.nodes for v in (n.out, *n.inputs) if _batched(v, s)]
    work = max((_numel_per_image(v) for v in values), default=0)
    if not (work.is_number if isinstance(work, sympy.Basic) else True) or int(work) < MIN_WORK:
        return None
    return Split(
        s.name,
        [_batched(v, s) for v in kernel.inputs],
        [id(v) in sums for v in kernel.outputs],
    )


def _attrs(n, s) -> dict:
    """The node's attributes that would have to hold for the whole batch: a reshape's leading
    ``N`` is the batch symbol itself, which each slice's call binds to its own size."""
    if n.op.name == "reshape" and n.attrs["shape"] and n.attrs["shape"][0] == s:
        return dict(n.attrs, shape=n.attrs["shape"][1:])
    return n.attrs


def _flat(attrs):
    out = []

    def add(a):
        if isinstance(a, (tuple, list)):
            for x in a:
                add(x)
        elif isinstance(a, slice):
            add([a.start, a.stop, a.step])
        elif isinstance(a, dict):
            add(list(a.values()))
        else:
            out.append(a)

    add(list(attrs.values()))
    return out
