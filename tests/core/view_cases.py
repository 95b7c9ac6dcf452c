"""The view x in-place table shared by ``test_views.py`` and the torch oracle test.

Every view is written twice: with gradc (it also runs on torch tensors, which spell these
methods the same way) and with numpy, whose basic views share memory as torch's do. The numpy
side is the reference model: the expected values after a write through the view, and the
expected gradients, come from writing into a numpy view of the same data.
"""

from __future__ import annotations

import numpy as np

BASE = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])  # x; the tables write into y = 3 * x
WEIGHTS = np.array([[0.5, 1.5, 2.5], [3.5, 4.5, 5.5]])  # the loss is (y * WEIGHTS).sum()
SCALE = 3.0

# name: (view of a [2, 3] tensor, the same view of a numpy array)
VIEWS = {
    "slice": (lambda t: t[:, 1:], lambda a: a[:, 1:]),
    "step": (lambda t: t[:, ::2], lambda a: a[:, ::2]),
    "int": (lambda t: t[1], lambda a: a[1]),
    "int_int": (lambda t: t[1, 2], lambda a: a[1, 2, ...]),
    "none": (lambda t: t[None, 0], lambda a: a[None, 0]),
    "ellipsis": (lambda t: t[...], lambda a: a[...]),
    "full_slice": (lambda t: t[:], lambda a: a[:]),
    "view": (lambda t: t.view(3, 2), lambda a: a.reshape(3, 2)),
    "reshape": (lambda t: t.reshape(6), lambda a: a.reshape(6)),
    "flatten": (lambda t: t.flatten(), lambda a: a.reshape(-1)),
    "permute": (lambda t: t.permute(1, 0), lambda a: a.transpose(1, 0)),
    "transpose": (lambda t: t.transpose(0, 1), lambda a: a.T),
    "t": (lambda t: t.t(), lambda a: a.T),
    "T": (lambda t: t.T, lambda a: a.T),
    "expand_same": (lambda t: t.expand(2, 3), lambda a: a[...]),
    "expand_lead": (lambda t: t.expand(1, 2, 3), lambda a: a[None]),
    "squeeze_noop": (lambda t: t.squeeze(), lambda a: a[...]),
    "squeeze": (lambda t: t[:1].squeeze(0), lambda a: a[0]),
    "unsqueeze": (lambda t: t.unsqueeze(1), lambda a: a[:, None]),
    "view_of_view": (lambda t: t[1].view(3, 1)[:2], lambda a: a[1].reshape(3, 1)[:2]),
    "t_then_slice": (lambda t: t.t()[1:, None], lambda a: a.T[1:, None]),
}

# name: (in-place op on a view, the same op on a numpy view, d result / d old value)
INPLACE = {
    "add_": (lambda v: v.add_(10), lambda a: a.__iadd__(10), lambda old: 1.0),
    "sub_": (lambda v: v.sub_(1, alpha=2), lambda a: a.__isub__(2), lambda old: 1.0),
    "mul_": (lambda v: v.mul_(2), lambda a: a.__imul__(2), lambda old: 2.0),
    "div_": (lambda v: v.div_(4), lambda a: a.__itruediv__(4), lambda old: 0.25),
    "iadd": (lambda v: v.__iadd__(1), lambda a: a.__iadd__(1), lambda old: 1.0),
    "clamp_": (
        lambda v: v.clamp_(4.0, 8.0),
        lambda a: np.clip(a, 4.0, 8.0, out=a),
        lambda old: ((old >= 4) & (old <= 8)).astype(float),
    ),
    "fill_": (lambda v: v.fill_(7.0), lambda a: a.fill(7.0), lambda old: 0.0),
    "zero_": (lambda v: v.zero_(), lambda a: a.fill(0.0), lambda old: 0.0),
}


def expected(view: str, op: str):
    """(y after the write, dL/dx) for ``y = 3 x; op(view(y)); L = (y * WEIGHTS).sum()``."""
    np_view, (_, np_op, d) = VIEWS[view][1], INPLACE[op]
    y = BASE * SCALE
    v = np_view(y)
    old = v.copy()
    np_op(v)
    pos = np_view(np.arange(y.size).reshape(y.shape)).reshape(-1)
    g = WEIGHTS.copy().reshape(-1)
    g[pos] = g[pos] * np.broadcast_to(d(old), old.shape).reshape(-1)
    return y, SCALE * g.reshape(y.shape)


def expected_copy(view: str, src: np.ndarray):
    """(y after ``view(y).copy_(src)``, dL/dx, dL/dsrc)."""
    np_view = VIEWS[view][1]
    y = BASE * SCALE
    v = np_view(y)
    v[...] = src
    pos = np_view(np.arange(y.size).reshape(y.shape)).reshape(-1)
    g = WEIGHTS.copy().reshape(-1)
    gsrc = g[pos].reshape(v.shape)
    g[pos] = 0.0
    return y, SCALE * g.reshape(y.shape), gsrc
