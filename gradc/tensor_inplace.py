"""Tensor's in-place methods (``add_``, ``+=``, ``zero_``...) and torch's rules for them.

An in-place op computes its result out of place through ``apply`` (so it is recorded like any
op), then writes it into this tensor's storage, which views share (``gradc.views``); leaves
that require grad and views of them refuse, and the tape keeps the pre-write value for the
nodes that read it.
"""

from __future__ import annotations

import numpy as np

from gradc import dtypes, views
from gradc import functions as F
from gradc.autograd import grad_mode
from gradc.errors import DTypeError, ShapeError, TraceError


def _wrap(data, requires_grad=False):
    from gradc._tensor import Tensor

    return Tensor._wrap(data, requires_grad)


class InplaceOps:
    """Mixed into ``Tensor``."""

    __slots__ = ()

    def _inplace(self, what: str, fn, *operands):
        """``self = fn(self)`` written into this tensor's storage (and so into its base's
        and every view's), following torch's rules for leaves, views and saved tensors."""
        traced = self.is_traced or any(getattr(t, "is_traced", False) for t in operands)
        grad = grad_mode.is_grad_enabled()
        src = self
        views.check_writable(self, what, operands)
        if self.is_traced or not traced:  # (a concrete target is lifted by ``fn`` first)
            views.current(self)
            if grad and any(getattr(t, "requires_grad", False) for t in (self, *operands)):
                src = views.snapshot(self)  # nodes recorded by ``fn`` read the pre-write value
        result = fn(src)
        if tuple(result.shape) != tuple(self.shape):
            raise ShapeError(
                f"the result of shape {list(result.shape)} does not fit the in-place target of "
                f"shape {list(self.shape)}",
                op=f"{what}({self.type})",
            ).with_context()
        if result.dtype is not self.dtype:
            if dtypes.promote(result.dtype, self.dtype) is not self.dtype:
                raise DTypeError(
                    f"result type {result.dtype.name} can't be cast to the desired output type "
                    f"{self.dtype.name}",
                    op=f"{what}({self.type})",
                ).with_context()
            result = F.cast(result, self.dtype)
        if result.is_traced:  # functionalised: the tensor now names the new SSA value
            view = self._view
            if view is not None:  # ... and so does its base
                return views.write_traced(self, result, what)
            return self._rebind(result, result.grad_fn)
        if self.is_traced:
            raise TraceError(
                "an in-place op on a traced tensor ran outside its trace", op=f"{what}({self.type})"
            ).with_context()
        view = self._view
        rebase = grad and (result.requires_grad or (view is not None and view.base.requires_grad))
        if rebase and view is not None:
            views.check_rebase(self, what)
        elif grad and self.requires_grad and not result.requires_grad:
            # overwritten: no gradient reaches the old value
            result = F.where(_wrap(np.asarray(True)), result, src)
        if not self._data.flags.writeable:
            self._data = self._data.copy()  # e.g. an array numpy handed us read-only
        self._data[...] = result._data
        self._vc[0] += 1
        node = result.grad_fn
        if node is not None and node.out is not None:
            node.out, node.out_version = self.detach(), self._vc[0]  # what torch saves
        if rebase and view is not None:
            views.rebase(self, result)
        elif node is not None:
            views.set_history(self, node, True)
        return self

    def _rebind(self, result, node):
        """In-place under tracing: values are immutable, so the write is a new value that this
        tensor now holds; the tape keeps the old value for nodes that read it."""
        if node is not None and hasattr(node, "saved"):
            old = _wrap(self._data, self.requires_grad)
            old.grad_fn, old._accumulator, old._version = (
                self.grad_fn,
                self._accumulator,
                self._version,
            )
            node.saved = [old if s is self else s for s in node.saved]
        keep = not grad_mode.is_grad_enabled() and self.requires_grad
        self._data = (views.keep_history(self, result) if keep else result)._data
        self._version += 1
        if node is not None:
            self.grad_fn, self.requires_grad = node, True
        base = self.__dict__.get("_alias_of")
        if base is not None:  # ``p.data.add_(...)``: the storage is p's, its history stays
            base._data = (views.keep_history(base, result) if base.requires_grad else result)._data
            base._version += 1
        return self

    def __setitem__(self, idx, value):
        """``x[idx] = value``: an in-place copy into the view ``x[idx]`` (torch's CopySlices);
        with integer tensors or masks in ``idx``, torch's ``index_put_``."""
        from gradc.advanced_indexing import is_advanced, put

        if is_advanced(idx):
            self._inplace("index_put_", lambda s: put(s, idx, value), value)
            return
        F.getitem(self, idx).copy_(value)

    def add_(self, o, *, alpha=1):
        return self._inplace("add_", lambda s: F.add(s, o if alpha == 1 else F.mul(o, alpha)), o)

    def sub_(self, o, *, alpha=1):
        return self._inplace("sub_", lambda s: F.sub(s, o if alpha == 1 else F.mul(o, alpha)), o)

    def mul_(self, o):
        return self._inplace("mul_", lambda s: F.mul(s, o), o)

    def div_(self, o):
        return self._inplace("div_", lambda s: F.div(s, o), o)

    def pow_(self, o):
        return self._inplace("pow_", lambda s: F.pow(s, o), o)

    def clamp_(self, min=None, max=None):
        return self._inplace("clamp_", lambda s: F.clamp(s, min, max), min, max)

    def relu_(self):
        return self._inplace("relu_", F.relu)

    def addcmul_(self, a, b, *, value=1):
        return self._inplace("addcmul_", lambda s: F.add(s, F.mul(F.mul(a, b), value)), a, b)

    def addcdiv_(self, a, b, *, value=1):
        return self._inplace("addcdiv_", lambda s: F.add(s, F.mul(F.div(a, b), value)), a, b)

    def copy_(self, src):
        src = F.as_tensor(src, dtype=self.dtype)
        return self._inplace("copy_", lambda s: F.add(F.expand(src, s.shape), F.zeros_like(s)), src)

    def fill_(self, value):
        return self._inplace("fill_", lambda s: F.full_like(s, value))

    def zero_(self):
        return self.fill_(0)

    def uniform_(self, a=0.0, b=1.0):
        from gradc.creation import _rng

        data = _rng().uniform(a, b, size=self.shape).astype(self.dtype.np)
        return self._inplace("uniform_", lambda s: _wrap(data))

    def normal_(self, mean=0.0, std=1.0):
        from gradc.creation import _rng

        data = _rng().normal(mean, std, size=self.shape).astype(self.dtype.np)
        return self._inplace("normal_", lambda s: _wrap(data))

    __iadd__, __isub__, __imul__, __itruediv__ = add_, sub_, mul_, div_

    def __ipow__(self, o):
        return self.pow_(o)
