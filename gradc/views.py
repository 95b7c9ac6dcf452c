"""Views: tensors that share storage and a version counter with a base, as in PyTorch.

A view op (``getitem``, ``reshape`` when numpy can view, ``permute``, ``expand``) whose result
shares memory with its input records a ``ViewInfo``: the root base and the path of
``(op, attrs)`` steps from it. Writes through a view reach the base's storage; with autograd, an
in-place op on a view rebases the base's history onto a ``copy_slices`` node (torch's
``CopySlices``), and every view of that base rebuilds its ``grad_fn`` from the new base the next
time it is read (torch's ``AsStridedBackward0``, here the replayed view ops).

The compile front end can functionalise with the same data: a write ``v.op_(...)`` to a view is
``base = copy_slices(base, op(v, ...), path=v._view.path)``, and every view ``w`` of ``base`` is
``replay(base, w._view.path)`` afterwards.
"""

from __future__ import annotations

import numpy as np

from gradc.autograd import grad_mode
from gradc.errors import AutogradError, GradcError


class ViewInfo:
    """How a view was made: its root ``base``, the view ops from it, the grad mode at creation
    and the version its ``grad_fn`` was built at."""

    __slots__ = ("base", "path", "grad_mode", "version")

    def __init__(self, base, path, grad_mode_on, version):
        self.base, self.path, self.grad_mode, self.version = base, path, grad_mode_on, version


class AliasState:
    """Mixed into ``Tensor``: the version counter, ``_base``, and a ``grad_fn`` that follows
    in-place writes to the base."""

    __slots__ = ()

    @property
    def _version(self) -> int:
        return self._vc[0]

    @_version.setter
    def _version(self, v: int) -> None:
        self._vc[0] = v

    @property
    def _base(self):
        return None if self._view is None else self._view.base

    def _is_view(self) -> bool:
        return self._view is not None

    @property
    def grad_fn(self):
        v = self._view
        if v is not None and v.version != self._vc[0]:
            _refresh(self)
        return self._grad_fn

    @grad_fn.setter
    def grad_fn(self, node) -> None:
        self._grad_fn = node

    @property
    def requires_grad(self) -> bool:
        v = self._view
        if v is not None and v.version != self._vc[0]:
            _refresh(self)
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self._requires_grad = flag


def attrs_key(attrs: dict) -> tuple:
    return tuple(attrs.items())


def track(out, src, op, attrs) -> None:
    """Called by ``apply`` for a view op: make ``out`` a view of ``src``'s base if it shares
    memory with it (numpy's reshape copies when it cannot view, and so does torch's)."""
    d = out._data
    if not (np.may_share_memory(d, src._data) or (d.size == 0 and d.base is not None)):
        return
    _link(out, src, op.name, attrs)


def _link(out, src, name, attrs) -> None:
    sv = src._view
    base = src if sv is None else sv.base
    path = ((name, attrs_key(attrs)),) if sv is None else (*sv.path, (name, attrs_key(attrs)))
    out._vc = src._vc
    on = grad_mode.is_grad_enabled() and (sv is None or sv.grad_mode)
    out._view = ViewInfo(base, path, on, src._vc[0])


def alias(x, name: str, **attrs):
    """A view op that changes nothing (``x[:]``, ``x.reshape(x.shape)``) still makes a new
    tensor, as in torch: a view of ``x`` with its own autograd node."""
    from gradc.dispatch import apply, current_graph

    if x.is_traced or current_graph() is not None:
        return apply(name, x, **attrs)  # recorded: a trace sees every view, no_grad included
    from gradc._tensor import Tensor
    from gradc.autograd.function import make_node
    from gradc.ops.table import get_op

    out = Tensor._wrap(x._data.view())
    _link(out, x, name, attrs)
    if grad_mode.is_grad_enabled() and x.requires_grad:
        out.grad_fn = make_node(get_op(name), [x], attrs, out.detach(), [True])
        out.requires_grad = True
    return out


def replay(base, path):
    """Apply the view ops of ``path`` to ``base`` (with gradc ops, so the result is recorded)."""
    from gradc.dispatch import apply

    t = base
    for name, attrs in path:
        t = apply(name, t, **dict(attrs))
    return t


def _refresh(t) -> None:
    """The base was written in place since ``t.grad_fn`` was built: rebuild it from the base."""
    v = t._view
    v.version = t._vc[0]
    if not v.grad_mode:
        return
    with grad_mode.enable_grad():
        r = replay(v.base, v.path)
    if r._grad_fn is not None or t._grad_fn is not None:  # else keep a leaf view's own flag
        set_history(t, r._grad_fn, r._requires_grad)


def set_history(t, node, requires_grad: bool) -> None:
    """Point ``t`` at a new ``grad_fn``; a ``retain_grad()`` moves with it, so ``t.grad`` is
    the gradient with respect to the value ``t`` has now."""
    old = t._grad_fn
    t._grad_fn, t._requires_grad = node, requires_grad
    if t._retains_grad and node is not old:
        if old is not None:
            old.retained = [r for r in getattr(old, "retained", ()) if r is not t]
        if node is not None:
            node.retained = [*getattr(node, "retained", ()), t]


def snapshot(t):
    """The value ``t`` has now, with its autograd history: what an in-place op reads of itself."""
    from gradc._tensor import Tensor

    old = Tensor._wrap(t._data.copy(), t.requires_grad)
    old._grad_fn, old._accumulator = t.grad_fn, t._accumulator
    return old


def _fail(t, what: str, msg: str, cls=AutogradError):
    return cls(msg, op=f"{what}({t.type})").with_context()


def _partial_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Some but not all memory shared, or shared with another layout (torch refuses these)."""
    if not np.may_share_memory(a, b):
        return False
    same = (
        a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
        and a.strides == b.strides
        and a.shape == b.shape
    )
    try:
        return not same and np.shares_memory(a, b, max_work=10_000)
    except np.exceptions.TooHardError:
        return False  # torch, too, only refuses the overlaps it can see


def check_writable(t, what: str, operands=()) -> None:
    """torch's refusals before an in-place write to ``t`` (``operands``: what it reads)."""
    d = t._data
    if d.size and 0 in d.strides and any(s == 0 and n > 1 for s, n in zip(d.strides, d.shape)):
        raise _fail(
            t,
            what,
            "unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location (an expand()ed tensor); clone() the tensor first",
            GradcError,
        )
    for o in operands:
        if isinstance(getattr(o, "_data", None), np.ndarray) and _partial_overlap(d, o._data):
            raise _fail(
                t,
                what,
                "unsupported operation: some elements of the input tensor and the written-to "
                "tensor refer to a single memory location; clone() the input first",
                GradcError,
            )
    check_autograd_writable(t, what)


def check_autograd_writable(t, what: str) -> None:
    """torch's autograd refusals: an in-place write to a leaf that requires grad, or to a view
    of one (storage-free, so a traced write checks it too)."""
    if not grad_mode.is_grad_enabled():
        return
    if t.is_leaf and t.requires_grad:
        raise _fail(
            t,
            what,
            "a leaf Variable that requires grad is being used in an in-place operation; "
            "wrap the update in `with gradc.no_grad():` or use .data",
        )
    v = t._view
    if v is not None and v.base.requires_grad and v.base.is_leaf:
        raise _fail(
            t,
            what,
            "a view of a leaf Variable that requires grad is being used in an in-place "
            "operation; wrap the update in `with gradc.no_grad():`, or clone() the leaf and "
            "write into the clone",
        )


def check_rebase(t, what: str) -> None:
    v = t._view
    if v is not None and not v.grad_mode:
        raise _fail(
            t,
            what,
            "a view was created in no_grad mode and is being modified in-place with grad mode "
            "enabled; create the view outside no_grad, or do the in-place op inside no_grad too",
        )


def rebase(t, result) -> None:
    """After writing ``result`` into the view ``t``: its base's new history is ``copy_slices``
    of the old base and ``result``; ``t`` becomes a view of the new base."""
    from gradc._tensor import Tensor
    from gradc.autograd.function import make_node
    from gradc.ops.table import get_op

    v = t._view
    base = v.base
    old = Tensor._wrap(base._data, base.requires_grad)
    old._grad_fn, old._accumulator = base.grad_fn, base._accumulator
    needs = [old.requires_grad, result.requires_grad]
    attrs = {"path": v.path}
    node = make_node(get_op("copy_slices"), [old, result], attrs, base.detach(), needs)
    set_history(base, node, True)
    with grad_mode.enable_grad():
        r = replay(base, v.path)
    set_history(t, r._grad_fn, r._requires_grad)
    v.version = t._vc[0]
