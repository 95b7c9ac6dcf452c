"""Tensor's in-place methods (``add_``, ``+=``, ``zero_``...) and torch's rules for them.

An in-place op computes its result out of place through ``apply`` (so it is recorded like any
op), then writes it into this tensor's storage; leaves that require grad refuse, and the tape
keeps the pre-write value for the node that reads it.
"""

from __future__ import annotations

from gradc import dtypes
from gradc import functions as F
from gradc.autograd import grad_mode
from gradc.errors import AutogradError, DTypeError, ShapeError, TraceError


def _wrap(data, requires_grad=False):
    from gradc._tensor import Tensor

    return Tensor._wrap(data, requires_grad)


class InplaceOps:
    """Mixed into ``Tensor``."""

    __slots__ = ()

    def _inplace(self, result, what: str):
        """Write ``result`` into this tensor's storage, following torch's autograd rules."""
        if self.is_leaf and self.requires_grad and grad_mode.is_grad_enabled():
            raise AutogradError(
                "a leaf Variable that requires grad is being used in an in-place operation; "
                "wrap the update in `with gradc.no_grad():` or use .data",
                op=f"{what}({self.type})",
            ).with_context()
        if tuple(result.shape) != tuple(self.shape):
            raise ShapeError(
                f"the result of shape {list(result.shape)} does not fit the in-place target of "
                f"shape {list(self.shape)}",
                op=f"{what}({self.type})",
            ).with_context()
        if dtypes.promote(result.dtype, self.dtype) is not self.dtype:
            raise DTypeError(
                f"result type {result.dtype.name} can't be cast to the desired output type "
                f"{self.dtype.name}",
                op=f"{what}({self.type})",
            ).with_context()
        node = result.grad_fn
        if result.is_traced:  # functionalised: the tensor now names the new SSA value
            return self._rebind(result, node)
        if self.is_traced:
            raise TraceError(
                "an in-place op on a traced tensor ran outside its trace", op=f"{what}({self.type})"
            ).with_context()
        if node is not None and hasattr(node, "saved"):
            old = _wrap(self._data.copy(), self.requires_grad)
            old.grad_fn, old._accumulator, old._version = (
                self.grad_fn,
                self._accumulator,
                self._version,
            )
            node.saved = [old if s is self else s for s in node.saved]
        if not self._data.flags.writeable or self.grad_fn is not None:
            # A recorded result may share storage with a leaf (a view) or with its node's saved
            # ``out``: write to a fresh copy so neither changes under autograd's feet.
            self._data = self._data.copy()
        self._data[...] = result._data
        self._version += 1
        if node is not None:
            self.grad_fn, self.requires_grad = node, True
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
        self._data = result._data
        self._version += 1
        if node is not None:
            self.grad_fn, self.requires_grad = node, True
        base = self.__dict__.get("_alias_of")
        if base is not None:  # ``p.data.add_(...)``: the storage is p's
            base._data = result._data
            base._version += 1
        return self

    def add_(self, o, *, alpha=1):
        return self._inplace(F.add(self, o if alpha == 1 else F.mul(o, alpha)), "add_")

    def sub_(self, o, *, alpha=1):
        return self._inplace(F.sub(self, o if alpha == 1 else F.mul(o, alpha)), "sub_")

    def mul_(self, o):
        return self._inplace(F.mul(self, o), "mul_")

    def div_(self, o):
        return self._inplace(F.div(self, o), "div_")

    def pow_(self, o):
        return self._inplace(F.pow(self, o), "pow_")

    def clamp_(self, min=None, max=None):
        return self._inplace(F.clamp(self, min, max), "clamp_")

    def relu_(self):
        return self._inplace(F.relu(self), "relu_")

    def addcmul_(self, a, b, *, value=1):
        return self._inplace(F.add(self, F.mul(F.mul(a, b), value)), "addcmul_")

    def addcdiv_(self, a, b, *, value=1):
        return self._inplace(F.add(self, F.mul(F.div(a, b), value)), "addcdiv_")

    def copy_(self, src):
        src = F.as_tensor(src, dtype=self.dtype)
        return self._inplace(F.add(F.expand(src, self.shape), F.zeros_like(self)), "copy_")

    def fill_(self, value):
        return self._inplace(F.full_like(self, value), "fill_")

    def zero_(self):
        return self.fill_(0)

    def uniform_(self, a=0.0, b=1.0):
        from gradc.creation import _rng

        data = _rng().uniform(a, b, size=self.shape).astype(self.dtype.np)
        return self._inplace(_wrap(data), "uniform_")

    def normal_(self, mean=0.0, std=1.0):
        from gradc.creation import _rng

        data = _rng().normal(mean, std, size=self.shape).astype(self.dtype.np)
        return self._inplace(_wrap(data), "normal_")

    __iadd__, __isub__, __imul__, __itruediv__ = add_, sub_, mul_, div_

    def __ipow__(self, o):
        return self.pow_(o)
