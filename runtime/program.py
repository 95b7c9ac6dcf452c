"""``Runner``: runs a loaded program module (``codegen.cpu.module``'s calling convention).

Per call: bind the shape symbols from the inputs, take the workspace of that binding (made once,
then reused), hand the entry one array per output, run it. An output array is reused from the
previous call when nothing outside holds it any more (its reference count says so), so a
steady training loop allocates nothing, while a result the caller kept is never overwritten.
"""

from __future__ import annotations

import sys
import threading
import time
import types

import numpy as np

from runtime.parallel import threads
from runtime.threads import single_threaded_blas

_KEEP = 4  # workspaces kept (one per binding of the shape symbols, most recent first)
_UNSHARED = 3  # references to a pooled output nobody else holds: the pool, a local, the call


class Runner:
    """``timings``: print each kernel's name and time per call (``GRADC_DEBUG=1``)."""

    def __init__(self, module, constants, blas: bool, timings: bool = False, name: str = ""):
        self.module, self.constants, self.blas = module, list(constants), blas
        self._run = _timed(module, name) if timings else module.run
        self._ws: dict = {}  # symbols -> (workspace, output specs, last outputs)
        self._lock = threading.Lock()  # one workspace: calls from two threads take turns

    def __call__(self, arrays, out=None) -> list:
        syms = self.module.symbols(*arrays)
        with self._lock:
            entry = self._ws.pop(syms, None)
            if entry is None:
                entry = [self.module.workspace(*syms), self.module.outputs(*syms), None]
                while len(self._ws) >= _KEEP:
                    self._ws.pop(next(iter(self._ws)))
            self._ws[syms] = entry
            ws, specs, last = entry
            outs = _outputs(specs, last, out)
            entry[2] = [None if given else a for a, given in zip(outs, _given(out, specs))]
            args = [*arrays, *self.constants, *syms, ws, outs]
            if self.blas:
                with single_threaded_blas():
                    return self._run(*args)
            return self._run(*args)


def _timed(module, name: str):
    """``module.run`` calling each kernel through a wrapper that prints its wall time."""
    names = module.__dict__
    env = dict(names)
    for k, fn in names.items():
        if k.startswith("k") and hasattr(fn, "signatures"):
            env[k] = _clock(fn, k)
    if "_split" in names:  # a split run of kernels is timed whole, its threads together
        split = names["_split"]

        def timed_split(calls, *a):
            if threads() < 2:  # one thread: each kernel timed on its own
                return split(calls, *a)
            raw = tuple((fn.raw, *rest) for fn, *rest in calls)
            label = "+".join(fn.label for fn, *_ in calls)
            _clock(lambda *b: split(raw, *b), label)(*a)

        env["_split"] = timed_split
    run = types.FunctionType(module.run.__code__, env, "run")

    def timed(*args):
        t = time.perf_counter()
        out = run(*args)
        print(f"gradc: {name} {(time.perf_counter() - t) * 1e3:9.3f} ms", file=sys.stderr)
        return out

    return timed


def _clock(fn, label: str):
    def call(*args):
        t = time.perf_counter()
        fn(*args)
        print(f"gradc:   {label:<40} {(time.perf_counter() - t) * 1e3:9.3f} ms", file=sys.stderr)

    call.raw, call.label = fn, label
    return call


def _given(out, specs) -> list:
    return [out is not None and out[k] is not None for k in range(len(specs))]


def _outputs(specs, last, out) -> list:
    outs = []
    for k, spec in enumerate(specs):
        if spec is None:  # donated: written into its input's array
            outs.append(None)
            continue
        shape, dtype = spec
        a = out[k] if out is not None else None
        if a is not None:
            if a.shape != shape or a.dtype != dtype or not a.flags.c_contiguous:
                raise ValueError(
                    f"output {k}: the array handed in is {a.dtype}{list(a.shape)}, the program "
                    f"writes a contiguous {np.dtype(dtype)}{list(shape)}"
                )
        else:
            a = last[k] if last is not None else None
            if a is None or sys.getrefcount(a) > _UNSHARED:
                a = np.empty(shape, dtype)
        outs.append(a)
    return outs
