"""Waiting for another thread by spinning on a flag, the GIL released.

A thread blocked on a lock or a queue sleeps, and waking it took 40-65 us on this 2-vCPU VM:
two of those per split run cost ~0.1 ms, more than a tenth of a LeNet batch-64 step. A flag
watched by a nogil loop is seen within a microsecond. ``flags`` is an ``int64`` array that the
threads share; its loads and stores are atomic (acquire/release), which also keeps LLVM from
hoisting the load out of the loop; each turn of the loop is a CPU ``pause``.
"""

from __future__ import annotations

import platform
import time

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


def _pointer(context, builder, sig, args):
    ary = context.make_array(sig.args[0])(context, builder, args[0])
    return cgutils.get_item_pointer(context, builder, sig.args[0], ary, [args[1]])


@intrinsic
def _load(typingctx, flags, i):
    def codegen(context, builder, sig, args):
        return builder.load_atomic(_pointer(context, builder, sig, args), "acquire", 8)

    return types.int64(flags, i), codegen


@intrinsic
def _store(typingctx, flags, i, value):
    def codegen(context, builder, sig, args):
        builder.store_atomic(args[2], _pointer(context, builder, sig, args), "release", 8)
        return context.get_dummy_value()

    return types.void(flags, i, value), codegen


@intrinsic
def _pause(typingctx):
    def codegen(context, builder, sig, args):
        if _X86:  # numba's JIT takes no inline assembly: the intrinsic
            fn_type = ir.FunctionType(ir.VoidType(), [])
            fn = cgutils.get_or_insert_function(builder.module, fn_type, "llvm.x86.sse2.pause")
            builder.call(fn, [])
        return context.get_dummy_value()

    return types.void(), codegen


@njit("void(int64[::1], int64, int64)", nogil=True, cache=True)
def post(flags, i, value):
    """``flags[i] = value``, seen by the spinning threads."""
    _store(flags, i, value)


@njit(nogil=True, cache=True)
def _wait(flags, i, value, spins, linger):
    for _ in range(spins):
        if _load(flags, i) >= value:
            for _ in range(linger):
                _pause()
            return 1
        _pause()
    return 0


@njit("int64(int64[::1], int64, int64, int64, int64)", nogil=True, cache=True)
def wait(flags, i, value, spins, linger):
    """Spin until ``flags[i] >= value`` (1), at most ``spins`` pauses (else 0); once seen,
    ``linger`` pauses more (the poster is then inside its own nogil call: taking the GIL from
    it would put this thread to sleep)."""
    return _wait(flags, i, value, spins, linger)


@njit("int64(int64[::1], int64, int64, int64, int64, int64, int64)", nogil=True, cache=True)
def post_wait(flags, j, posted, i, value, spins, linger):
    """``post(flags, j, posted)``, then ``wait(flags, i, value, spins, linger)``, the GIL
    released throughout: the thread waiting for the post takes the GIL without a fight."""
    _store(flags, j, posted)
    return _wait(flags, i, value, spins, linger)


def pauses_per_us() -> float:
    """How many pauses a microsecond holds on this CPU (140 cycles each on recent Intel cores,
    a few on older ones): spin budgets are set in time."""
    import numpy as np

    flags = np.zeros(1, np.int64)
    wait(flags, 0, 1, 1000, 0)
    t = time.perf_counter()
    wait(flags, 0, 1, 20000, 0)
    return 20000 / max(1e-3, (time.perf_counter() - t) * 1e6)
