"""``repr(tensor)`` formatted the way torch prints tensors."""

from __future__ import annotations

import numpy as np

from gradc import dtypes


def _float_formatter(a: np.ndarray):
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return lambda v: f"{v}"
    amax = np.abs(finite).max()
    nonzero = np.abs(finite[finite != 0])
    amin = nonzero.min() if nonzero.size else 0.0
    if np.all(finite == np.round(finite)) and amax < 1e8:
        fmt = lambda v: f"{v:.0f}." if np.isfinite(v) else f"{v}"  # noqa: E731
    elif amax >= 1e8 or (amin and (amin < 1e-4 or amax / amin > 1e5)):
        fmt = lambda v: f"{v:.4e}"  # noqa: E731
    else:
        fmt = lambda v: f"{v:.4f}"  # noqa: E731
    width = max(len(fmt(v)) for v in a.reshape(-1)) if a.size <= 1000 else 0
    return lambda v: fmt(v).rjust(width)


def tensor_repr(t) -> str:
    a = t._data
    prefix = "tensor("
    if a.dtype.kind == "f":
        kw = {"formatter": {"float_kind": _float_formatter(a)}}
    elif a.dtype.kind == "b":
        kw = {"formatter": {"bool": lambda v: "True" if v else "False"}}
    else:
        kw = {}
    body = np.array2string(
        a, separator=", ", prefix=prefix, threshold=1000, edgeitems=3, max_line_width=80, **kw
    )
    extras = []
    default = {dtypes.get_default_dtype().name, "int64", "bool"}
    if t.dtype.name not in default or (
        a.size == 0 and t.dtype.name != dtypes.get_default_dtype().name
    ):
        extras.append(f"dtype=gradc.{t.dtype.name}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return prefix + body + "".join(", " + e for e in extras) + ")"
