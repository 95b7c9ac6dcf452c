"""Hypothesis strategies for shapes and tensors, for property tests of gradients.

>>> from hypothesis import given
>>> from gradc.testing.strategies import tensors
>>> @given(tensors(shape=(3, 4)))
... def test_tanh_grad(x):
...     assert gradcheck(gradc.tanh, x.requires_grad_())
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradc
from gradc import dtypes


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5):
    """Tensor shapes (tuples of ints), size-1 dims included."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def broadcastable_shapes(
    shape,
    min_dims: int = 0,
    max_dims: int | None = None,
    min_side: int = 1,
    max_side: int | None = None,
):
    """Shapes that broadcast against ``shape`` (dropping leading dims, or setting dims to 1)."""
    return hnp.broadcastable_shapes(
        tuple(shape), min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def mutually_broadcastable_shapes(num_shapes: int, max_dims: int = 4, max_side: int = 4):
    """``num_shapes`` shapes that broadcast together: ``.input_shapes`` and ``.result_shape``."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, max_dims=max_dims, max_side=max_side
    )


def _elements(dtype):
    if dtype is dtypes.bool_:
        return st.booleans()
    if dtype is dtypes.int64:
        return st.integers(-10, 10)
    width = 32 if dtype is dtypes.float32 else 64
    return st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=width)


def tensors(dtype=gradc.float64, shape=None, elements=None, requires_grad: bool = False):
    """Tensors of ``dtype``; ``shape`` is a tuple, a strategy of tuples, or None for any shape.

    ``elements`` defaults to finite values in [-3, 3] (ints in [-10, 10]).
    """
    dtype = dtypes.as_dtype(dtype)
    if shape is None:
        shape = shapes()
    elif not isinstance(shape, st.SearchStrategy):
        shape = st.just(tuple(shape))
    arrays = hnp.arrays(
        dtype.np, shape, elements=_elements(dtype) if elements is None else elements
    )
    return arrays.map(lambda a: gradc.tensor(np.array(a), dtype=dtype, requires_grad=requires_grad))


def dims(ndim: int, allow_none: bool = False, allow_tuple: bool = True):
    """A valid ``dim`` argument for a tensor of ``ndim`` dims (negative dims included)."""
    if ndim == 0:
        return st.none() if allow_none else st.just(())
    one = st.integers(-ndim, ndim - 1)
    options = [one]
    if allow_tuple:
        options.append(
            st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple)
        )
    if allow_none:
        options.append(st.none())
    return st.one_of(*options)


from gradc.testing.graphs import graphs  # noqa: E402

__all__ = [
    "shapes",
    "broadcastable_shapes",
    "mutually_broadcastable_shapes",
    "tensors",
    "dims",
    "graphs",
]
