"""Random ops with explicit state: ``rand(state)`` and ``rng_skip(state)``.

The state is an int64 ``[2]`` tensor ``(seed, offset)``. ``rand`` is counter-based
(Philox4x32-10, the generator of PyTorch's CUDA RNG and of JAX): element ``i`` of a draw is a
pure function of ``(seed, offset + i)``, so eager mode, the interpreter and generated kernels
give the same stream for the same ``gradc.manual_seed``, any element can be computed alone, and
the op is pure (a traced draw is an op on an RNG-state input, never a constant).
``rng_skip(state, count=n)`` is the state after ``n`` draws: a traced step threads it through
its draws and returns the last one as the generator's new state.
"""

from __future__ import annotations

import numpy as np

from gradc import dtypes
from gradc.errors import DTypeError, ShapeError
from gradc.ops.table import Op, register
from gradc.shapes import TensorType, shape_str

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
_LO = np.uint64(0xFFFFFFFF)


def philox4x32(counter: np.ndarray, seed: int, rounds: int = 10) -> tuple:
    """Philox4x32 of the 64-bit ``counter`` (words 2, 3 zero) under a 64-bit ``seed``: four
    uint32 words per counter, held in uint64 arrays (products of two uint32 fit)."""
    c = counter.astype(np.uint64)
    c0, c1 = c & _LO, c >> np.uint64(32)
    c2 = c3 = np.zeros_like(c0)
    k0, k1 = np.uint64(seed & 0xFFFFFFFF), np.uint64((seed >> 32) & 0xFFFFFFFF)
    for _ in range(rounds):
        p0, p1 = _M0 * c0, _M1 * c2
        hi0, lo0 = p0 >> np.uint64(32), p0 & _LO
        hi1, lo1 = p1 >> np.uint64(32), p1 & _LO
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
        k0, k1 = (k0 + _W0) & _LO, (k1 + _W1) & _LO
    return c0, c1, c2, c3


def uniform(seed: int, offset: int, n: int, dtype) -> np.ndarray:
    """``n`` uniform samples in [0, 1) at counters ``offset .. offset + n - 1``: 24 random
    bits for float32, 53 for float64, so every value is exact in the dtype and below 1."""
    counter = np.arange(n, dtype=np.uint64) + np.uint64(offset)
    x0, x1, _, _ = philox4x32(counter, seed)
    if np.dtype(dtype) == np.float32:
        return ((x0 >> np.uint64(8)).astype(np.float32) * np.float32(2.0**-24)).astype(dtype)
    bits = ((x0 >> np.uint64(5)) << np.uint64(26)) | (x1 >> np.uint64(6))
    return (bits.astype(np.float64) * 2.0**-53).astype(dtype)


def _check_state(state: TensorType) -> None:
    if state.dtype is not dtypes.int64 or tuple(state.shape) != (2,):
        raise DTypeError(f"the RNG state must be int64[2] (seed, offset), got {state}")


def _rand_infer(state, *, shape, dtype) -> TensorType:
    _check_state(state)
    if any(isinstance(d, int) and d < 0 for d in shape):
        raise ShapeError(f"negative dimension in {shape_str(shape)}")
    if not dtype.is_floating_point:
        raise DTypeError(f"rand draws floats, not {dtype.name}")
    return TensorType(dtype, shape)


def _rand_impl(state, *, shape, dtype):
    n = int(np.prod(shape, dtype=np.int64))
    seed, offset = (int(s) & 0xFFFFFFFFFFFFFFFF for s in state)
    return uniform(seed, offset, n, dtype.np).reshape(tuple(shape))


def _skip_infer(state, *, count) -> TensorType:
    _check_state(state)
    return state


def _skip_impl(state, *, count):
    out = np.array(state, dtype=np.int64)
    out[1] += int(count)
    return out


register(
    Op(
        "rand",
        _rand_infer,
        _rand_impl,
        (None,),
        "random",
        doc="uniform samples in [0, 1) from the RNG state (seed, offset): Philox4x32-10",
    )
)
register(
    Op(
        "rng_skip",
        _skip_infer,
        _skip_impl,
        (None,),
        "random",
        doc="the RNG state after `count` draws",
    )
)
