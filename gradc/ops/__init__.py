"""The op table. Importing this package registers every primitive."""

from gradc.ops import control, conv, linalg, pointwise, pool, random, reduce, shape  # noqa: F401
from gradc.ops.table import OPS, Op, get_op, register

__all__ = ["OPS", "Op", "get_op", "register"]
