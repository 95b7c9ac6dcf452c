"""``gradc.Tensor``: an array (or, while tracing, a graph value) plus autograd state."""

from __future__ import annotations

import numpy as np

from gradc import dtypes
from gradc import functions as F
from gradc.device import CPU, as_device
from gradc.errors import AutogradError, DeviceError, DTypeError, ShapeError, TraceError
from gradc.shapes import TensorType, prod
from gradc.tensor_inplace import InplaceOps
from gradc.tensor_repr import tensor_repr
from gradc.views import AliasState


def _note_born(t) -> None:
    from gradc.dispatch import note_born

    note_born(t)


def _stop_gradient(t):
    from gradc.dispatch import apply

    return apply("stop_gradient", t)


class Size(tuple):
    """``tensor.shape``: a tuple that prints like torch.Size."""

    def numel(self):
        return prod(self)

    def __getitem__(self, k):
        r = super().__getitem__(k)
        return Size(r) if isinstance(k, slice) else r

    def __repr__(self) -> str:
        return f"gradc.Size([{', '.join(str(d) for d in self)}])"


class Tensor(InplaceOps, AliasState):
    """A multi-dimensional array with autograd, used the way torch.Tensor is.

    >>> x = gradc.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([[2., 4.],
            [6., 8.]])
    """

    __slots__ = (
        "_data",
        "_requires_grad",
        "grad",
        "_grad_fn",
        "_accumulator",
        "_vc",  # the version counter, a one-item list shared by a base and its views
        "_view",  # a views.ViewInfo, or None for a tensor that is not a view
        "_retains_grad",
        "__weakref__",
        "__dict__",
    )
    __array_priority__ = 1000  # so ndarray + Tensor lets the Tensor's __radd__ run

    def __init__(self, data=None, *, dtype=None, requires_grad=False):
        from gradc.creation import _to_array

        self._init(_to_array([] if data is None else data, dtype))
        _note_born(self)
        if requires_grad:
            self.requires_grad_(True)

    def _init(self, data, requires_grad=False):
        self._data = data
        self._requires_grad = requires_grad
        self.grad = None
        self._grad_fn = None
        self._accumulator = None
        self._vc = [0]
        self._view = None
        self._retains_grad = False

    @classmethod
    def _wrap(cls, data, requires_grad=False) -> Tensor:
        t = cls.__new__(cls)
        t._init(data, requires_grad)
        return t

    # ---- type ----------------------------------------------------------------------------------
    @property
    def is_traced(self) -> bool:
        return not isinstance(self._data, np.ndarray)

    @property
    def type(self) -> TensorType:
        if self.is_traced:
            return self._data.type
        return TensorType.of_array(dtypes.as_dtype(self._data.dtype), self._data.shape)

    @property
    def dtype(self) -> dtypes.DType:
        return self._data.type.dtype if self.is_traced else dtypes.as_dtype(self._data.dtype)

    @property
    def shape(self) -> Size:
        return Size(self._data.type.shape if self.is_traced else self._data.shape)

    def size(self, dim=None):
        from gradc.shapes import norm_dim

        try:
            return self.shape if dim is None else self.shape[norm_dim(dim, self.ndim)]
        except ShapeError as e:
            raise e.with_context(op=f"size({self.type})") from None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def dim(self) -> int:
        return self.ndim

    ndimension = dim

    def numel(self):
        return prod(self.shape)

    nelement = numel

    @property
    def device(self):
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point

    # ---- leaving gradc -------------------------------------------------------------------------
    def _concrete(self, what: str) -> np.ndarray:
        if self.is_traced:
            raise TraceError(
                f"{what} needs the tensor's value, which a traced graph does not have: "
                f"control flow or Python conversions on tensor values cannot be traced "
                f"(the tensor is {self._data.name}: {self.type}); keep such decisions on shapes, "
                f"or use gradc.where",
                op=what,
            ).with_context()
        return self._data

    def numpy(self) -> np.ndarray:
        if self.requires_grad:
            raise AutogradError(
                "can't call numpy() on a tensor that requires grad: use tensor.detach().numpy()",
                op=f"numpy({self.type})",
            ).with_context()
        return self._concrete("numpy()")

    def __array__(self, dtype=None, copy=None):
        a = self._concrete("np.asarray(tensor)")
        return a if dtype is None else a.astype(dtype)

    def item(self):
        a = self._concrete("item()")
        if a.size != 1:
            raise ShapeError(
                f"a tensor with {a.size} elements cannot be converted to a Python scalar",
                op=f"item({self.type})",
            ).with_context()
        return a.reshape(()).item()

    def tolist(self):
        return self._concrete("tolist()").tolist()

    def __bool__(self) -> bool:
        a = self._concrete("bool(tensor)")
        if a.size != 1:
            raise ShapeError(
                f"the truth value of a tensor with {a.size} elements is ambiguous",
                op=f"bool({self.type})",
            ).with_context()
        return bool(a.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.is_floating_point or self.numel() != 1:
            raise DTypeError("only integer tensors of a single element can be an index")
        return int(self.item())

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self)))

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        if self.is_traced:
            return f"Tensor({self._data.name}: {self.type})"
        return tensor_repr(self)

    __str__ = __repr__

    # ---- autograd ------------------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if not self.is_leaf:
            raise AutogradError(
                "you can only change requires_grad flags of leaf variables; use detach() first",
                op=f"requires_grad_({self.type})",
            ).with_context()
        if requires_grad and not self.dtype.is_floating_point:
            raise DTypeError(
                f"only tensors of floating point dtype can require gradients, got "
                f"{self.dtype.name}",
                op=f"requires_grad_({self.type})",
            ).with_context()
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise AutogradError(
                "can't retain_grad on a tensor that doesn't require grad",
                op=f"retain_grad({self.type})",
            ).with_context()
        if self.grad_fn is not None and not self._retains_grad:
            self._retains_grad = True
            self.grad_fn.retained = [*getattr(self.grad_fn, "retained", ()), self]

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into each leaf's ``.grad``."""
        from gradc.autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> Tensor:
        """The same data and version counter, cut from the graph (inside a trace: a
        ``stop_gradient`` node)."""
        if self.is_traced and self.requires_grad:
            out = _stop_gradient(self)
            out.__dict__["_alias_of"] = self  # an in-place write to it is a write to self
            return out
        t = Tensor._wrap(self._data)
        t._vc = self._vc
        return t

    def detach_(self) -> Tensor:
        if self._view is not None:
            raise AutogradError(
                "can't detach views in-place (its history comes from its base); use detach()",
                op=f"detach_({self.type})",
            ).with_context()
        self.grad_fn, self.requires_grad = None, False
        return self

    @property
    def data(self) -> Tensor:
        """The same storage without autograd or version counter: writes bypass the tape, as
        in torch (inside a trace: a ``stop_gradient`` node)."""
        if self.is_traced and self.requires_grad:
            return self.detach()
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value) -> None:
        self._data = F.as_tensor(value)._data

    # ---- dtype and device ----------------------------------------------------------------------
    def to(self, *args, dtype=None, device=None, copy=False) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, dtypes.DType) or (
                isinstance(a, str) and a in ("float32", "float64")
            ):
                dtype = a
            else:
                device = a
        if device is not None:
            try:
                as_device(device)
            except DeviceError as e:
                raise e.with_context(op=f"to({self.type})") from None
        out = self if dtype is None else F.cast(self, dtype)
        return out.clone() if copy and out is self else out

    def cpu(self) -> Tensor:
        return self

    def cuda(self, device=None) -> Tensor:
        try:
            as_device("cuda")
        except DeviceError as e:
            raise e.with_context(op=f"cuda({self.type})") from None

    def type_as(self, other) -> Tensor:
        return F.cast(self, other.dtype)

    def float(self) -> Tensor:
        return F.cast(self, dtypes.float32)

    def double(self) -> Tensor:
        return F.cast(self, dtypes.float64)

    def long(self) -> Tensor:
        return F.cast(self, dtypes.int64)

    def int(self) -> Tensor:
        return F.cast(self, dtypes.int32)

    def half(self) -> Tensor:
        return F.cast(self, dtypes.float16)

    def byte(self) -> Tensor:
        return F.cast(self, dtypes.uint8)

    def bool(self) -> Tensor:
        return F.cast(self, dtypes.bool_)

    def clone(self) -> Tensor:
        return (
            F.mul(self, 1)
            if self.requires_grad or self.is_traced
            else Tensor._wrap(self._concrete("clone()").copy())
        )

    def contiguous(self) -> Tensor:
        """``self`` if its elements are laid out in order, else a copy (so writes to the result
        do not reach a base it is a view of, and ``view`` works on it), as in torch."""
        if self.is_traced or self._data.flags.c_contiguous:
            return self
        out = self.clone()  # numpy (like torch's clone) keeps the transposed layout: reorder it
        out._data = np.ascontiguousarray(out._data)
        return out

    # ---- operators -----------------------------------------------------------------------------
    def __add__(self, o):
        return F.add(self, o)

    def __radd__(self, o):
        return F.add(o, self)

    def __sub__(self, o):
        return F.sub(self, o)

    def __rsub__(self, o):
        return F.sub(o, self)

    def __mul__(self, o):
        return F.mul(self, o)

    def __rmul__(self, o):
        return F.mul(o, self)

    def __truediv__(self, o):
        return F.div(self, o)

    def __rtruediv__(self, o):
        return F.div(o, self)

    def __pow__(self, o):
        return F.pow(self, o)

    def __rpow__(self, o):
        return F.pow(o, self)

    def __matmul__(self, o):
        return F.matmul(self, F.as_tensor(o))

    def __rmatmul__(self, o):
        return F.matmul(F.as_tensor(o), self)

    def __neg__(self):
        return F.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return F.abs(self)

    def __lt__(self, o):
        return F.lt(self, o)

    def __le__(self, o):
        return F.le(self, o)

    def __gt__(self, o):
        return F.gt(self, o)

    def __ge__(self, o):
        return F.ge(self, o)

    def __eq__(self, o):
        return F.eq(self, o)

    def __ne__(self, o):
        return F.ne(self, o)

    def __getitem__(self, idx):
        return F.getitem(self, idx)

    # ---- methods that are functions of gradc ---------------------------------------------------
    def view(self, *shape):
        return F.view(self, *shape)

    def view_as(self, other):
        return F.reshape(self, other.shape)

    def reshape_as(self, other):
        return F.reshape(self, other.shape)

    def expand_as(self, other):
        return F.expand(self, other.shape)

    @property
    def T(self):
        return F.permute(self, *reversed(range(self.ndim)))

    @property
    def mT(self):
        return F.mT(self)

    def new_zeros(self, *shape, dtype=None):
        from gradc.creation import zeros

        return zeros(*shape, dtype=dtype or self.dtype)

    def new_ones(self, *shape, dtype=None):
        from gradc.creation import ones

        return ones(*shape, dtype=dtype or self.dtype)

    def new_tensor(self, data, dtype=None):
        from gradc.creation import tensor

        return tensor(data, dtype=dtype or self.dtype)


for _name in [
    "exp",
    "log",
    "sqrt",
    "tanh",
    "sigmoid",
    "relu",
    "abs",
    "sin",
    "cos",
    "neg",
    "add",
    "sub",
    "mul",
    "div",
    "pow",
    "maximum",
    "minimum",
    "clamp",
    "clip",
    "sum",
    "mean",
    "amax",
    "amin",
    "max",
    "min",
    "argmax",
    "argmin",
    "matmul",
    "mm",
    "reshape",
    "flatten",
    "squeeze",
    "unsqueeze",
    "transpose",
    "permute",
    "t",
    "expand",
    "broadcast_to",
    "lt",
    "le",
    "gt",
    "ge",
    "eq",
    "ne",
    "where",
    "true_divide",
    "multiply",
    "subtract",
    "negative",
    "swapaxes",
]:
    setattr(Tensor, _name, getattr(F, _name))
Tensor.where = lambda self, condition, other: F.where(condition, self, other)
