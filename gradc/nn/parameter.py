"""``nn.Parameter``: a tensor that a Module registers as a learnable weight."""

from __future__ import annotations

import numpy as np

from gradc import dtypes
from gradc._tensor import Tensor
from gradc.creation import _to_array


class Parameter(Tensor):
    """A leaf tensor with ``requires_grad=True`` that ``Module.__setattr__`` registers.

    Shares storage with ``data`` (as torch does), so ``Parameter(t)`` does not copy.

    >>> w = nn.Parameter(gradc.zeros(2))
    >>> w
    Parameter containing:
    tensor([0., 0.], requires_grad=True)
    """

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty((0,), dtype=dtypes.get_default_dtype().np)
        elif isinstance(data, Tensor):
            data = data._concrete("Parameter(tensor)")
        else:
            data = _to_array(data)
        self._init(data)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__
