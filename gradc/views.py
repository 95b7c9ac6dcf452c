"""Views: tensors that share storage and a version counter with a base, as in PyTorch.

A view op (``getitem``, ``reshape`` when numpy can view, ``permute``, ``expand``) whose result
shares memory with its input records a ``ViewInfo``: the root base and the path of
``(op, attrs)`` steps from it. Writes through a view reach the base's storage; with autograd, an
in-place op on a view rebases the base's history onto a ``copy_slices`` node (torch's
``CopySlices``), and every view of that base rebuilds its ``grad_fn`` from the new base the next
time it is read (torch's ``AsStridedBackward0``, here the replayed view ops).

Inside a trace values are immutable, so the same data functionalises: a view of a traced value
records its ``ViewInfo`` too (``track_traced``), a write ``v.op_(...)`` is
``base = copy_slices(base, op(v, ...), path=v._view.path)`` (``write_traced``), and every view
``w`` of ``base`` is ``replay(base, w._view.path)`` the next time an op reads it. A small int8
array laid out as the eager tensor would be (``layout``) decides what eager memory decides: a
reshape that must copy is no view, and torch's overlap refusals hold in traced code too.
"""

from __future__ import annotations

import numpy as np

from gradc.autograd import grad_mode
from gradc.errors import AutogradError, GradcError
from gradc.shapes import is_symbolic


class ViewInfo:
    """How a view was made: its root ``base``, the view ops from it, the grad mode at creation
    and the version its ``grad_fn`` was built at."""

    __slots__ = ("base", "path", "grad_mode", "version", "layout")

    def __init__(self, base, path, grad_mode_on, version):
        self.base, self.path, self.grad_mode, self.version = base, path, grad_mode_on, version
        self.layout = None  # traced views: their elements in an int8 stand-in of the base


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


def track_traced(out, src, op, attrs) -> None:
    """Called by ``apply`` for a view op on a traced value: what ``track`` decides from memory,
    decided on the stand-in layout (a view too where a dim is symbolic and there is none)."""
    if not op.vjp:
        return  # stop_gradient: detach() and .data are no autograd views (``_alias_of`` is)
    lay = layout(src)
    d = None
    if lay is not None and not is_symbolic(attrs):
        d = op.impl(lay, **attrs)
        if not (np.may_share_memory(d, lay) or (d.size == 0 and d.base is not None)):
            return  # a reshape that copies, as eagerly
    _link(out, src, op.name, attrs)
    out._view.layout = d


def layout(t) -> np.ndarray | None:
    """An int8 array laid out as traced ``t`` would be eagerly (a base: C order), or None."""
    v = t._view
    if v is not None:
        return v.layout
    shape = t.shape
    if not all(isinstance(n, int) for n in shape):
        return None
    held = t.__dict__.get("_layout")
    if held is None or held.shape != tuple(shape):
        held = t.__dict__["_layout"] = np.zeros(shape, np.int8)
    return held


def current(t) -> None:
    """Before a traced view is read: re-derive it if its base was written since."""
    v = t._view
    if v is not None and v.version != t._vc[0] and v.base.is_traced:
        _refresh(t)


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
    if v.base.is_traced:  # a value cannot change: the view becomes the replay's value
        with grad_mode.set_grad_enabled(v.grad_mode):
            r = replay(v.base, v.path)
        t._data = r._data
        if v.grad_mode:
            set_history(t, r._grad_fn, r._requires_grad)
        return
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

    old = Tensor._wrap(t._data if t.is_traced else t._data.copy(), t.requires_grad)
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
    """torch's refusals before an in-place write to ``t`` (``operands``: what it reads); for
    traced values, on their stand-in layouts."""
    if t.is_traced:
        d = layout(t)
        arrays = [layout(o) for o in operands if getattr(o, "is_traced", False)]
    else:
        d = t._data
        arrays = [o._data for o in operands if isinstance(getattr(o, "_data", None), np.ndarray)]
    if d is not None:
        _check_memory(t, what, d, arrays)
    check_autograd_writable(t, what)


def _check_memory(t, what: str, d: np.ndarray, arrays) -> None:
    if d.size and 0 in d.strides and any(s == 0 and n > 1 for s, n in zip(d.strides, d.shape)):
        raise _fail(
            t,
            what,
            "unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location (an expand()ed tensor); clone() the tensor first",
            GradcError,
        )
    for o in arrays:
        if o is not None and _partial_overlap(d, o):
            raise _fail(
                t,
                what,
                "unsupported operation: some elements of the input tensor and the written-to "
                "tensor refer to a single memory location; clone() the input first",
                GradcError,
            )


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


def write_traced(t, result, what: str):
    """``result`` written into the traced view ``t``: its base's new value is ``copy_slices``
    of the old one and ``result`` (recorded like any op, so tape and graph both see it), and
    ``t`` is re-derived from it; other views of the base follow when next read (``current``)."""
    from gradc._tensor import Tensor
    from gradc.dispatch import apply, current_graph

    v = t._view
    base = v.base
    if grad_mode.is_grad_enabled() and (result.requires_grad or base.requires_grad):
        check_rebase(t, what)
    if not base.is_traced:  # a constant the function made (``zeros(3)[:2] = x``): a value now
        base._data = current_graph().lift(base, const=True)
    old = Tensor._wrap(base._data, base.requires_grad)
    old._grad_fn, old._accumulator = base.grad_fn, base._accumulator
    new = apply("copy_slices", old, result, path=v.path)
    base._rebind(new, new.grad_fn)  # under no_grad: keeps the base's history (keep_history)
    _refresh(t)
    node = result.grad_fn
    if node is not None and getattr(node, "out", None) is not None:
        out = Tensor._wrap(t._data)
        out._vc = t._vc
        node.out, node.out_version = out, t._vc[0]  # what torch saves: the written view
    return t


def keep_history(t, new):
    """A write into traced ``t`` that autograd does not see (under ``no_grad``, through
    ``.data``): ``new``'s value with the gradient of ``t``'s old value, as eagerly the tensor
    keeps its history (graph autodiff reads the graph, not the tape)."""
    from gradc.dispatch import apply

    with grad_mode.enable_grad():
        out = apply("no_grad_write", t, new)
    return out
