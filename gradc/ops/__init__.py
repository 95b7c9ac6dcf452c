"""The op table. Importing this package registers every primitive."""

from gradc.ops import (  # noqa: F401
    control,
    conv,
    embedding,
    gather,
    linalg,
    math,
    pointwise,
    pool,
    random,
    reduce,
    scan,
    shape,
    softmax,
)
from gradc.ops.table import OPS, Op, get_op, register

__all__ = ["OPS", "Op", "get_op", "register"]
