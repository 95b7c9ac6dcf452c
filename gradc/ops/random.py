"""Random ops: ``rand`` draws from gradc's generator each time it runs.

It is the one impure op of the table (``pure=False``): common-subexpression elimination must not
merge two draws, and constant folding must not run it at compile time.
"""

from __future__ import annotations

from gradc.errors import DTypeError, ShapeError
from gradc.ops.table import Op, register
from gradc.shapes import TensorType, shape_str


def _rand_infer(*, shape, dtype) -> TensorType:
    if any(isinstance(d, int) and d < 0 for d in shape):
        raise ShapeError(f"negative dimension in {shape_str(shape)}")
    if not dtype.is_floating_point:
        raise DTypeError(f"rand draws floats, not {dtype.name}")
    return TensorType(dtype, shape)


def _rand_impl(*, shape, dtype):
    from gradc.creation import _rng  # the generator gradc.manual_seed seeds

    return _rng().random(tuple(shape)).astype(dtype.np)


register(
    Op(
        "rand",
        _rand_infer,
        _rand_impl,
        (),
        "random",
        doc="uniform samples in [0, 1), a fresh draw on every run (dropout masks)",
        pure=False,
    )
)
