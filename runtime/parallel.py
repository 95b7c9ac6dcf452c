"""Kernels run on slices of the batch in parallel threads.

Generated kernels are serial numba functions that release the GIL (``nogil``). A kernel that
keeps images apart (``gradc.passes.parallel``) runs on ``[lo, hi)`` slices of its batch-led
arrays, one slice per thread, the caller's thread included: row-major slices along dim 0 are
contiguous, so every thread calls the same compiled function. A run of such kernels (grouped by
``codegen.cpu.module``) runs whole in each thread before the one join. Outputs that sum over
the images (weight gradients) get one partial buffer per extra thread, added after the join.

``GRADC_THREADS`` sets the number of threads (default: the cores this process may use; 1 turns
splitting off). A batch below ``MIN_BATCH`` runs in one call: a handoff costs ~20-90 us.
"""

from __future__ import annotations

import os
import queue
import threading

MIN_BATCH = 8


def threads() -> int:
    return cores("GRADC_THREADS")


def cores(setting: str) -> int:
    """The environment variable ``setting`` if set, else the cores this process may use."""
    env = os.environ.get(setting)
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class _Workers:
    """Daemon threads taking ``(fn, args, done)`` tasks; ``done`` gets None or the exception."""

    def __init__(self, n: int):
        self.tasks: queue.SimpleQueue = queue.SimpleQueue()
        for _ in range(n):
            threading.Thread(target=self._loop, daemon=True, name="gradc-worker").start()

    def _loop(self):
        while True:
            fn, args, done = self.tasks.get()
            try:
                fn(*args)
                done.put(None)
            except BaseException as e:  # handed to the caller, which raises it
                done.put(e)


_POOL: list = []
_LOCK = threading.Lock()


def _workers(n: int) -> _Workers:
    with _LOCK:
        if not _POOL or _POOL[0][0] < n:
            _POOL[:] = [(n, _Workers(n))]
        return _POOL[0][1]


def split(calls: tuple, n: int, parts: dict, site: int) -> None:
    """``fn(*arrays, n)`` for each ``(fn, arrays, kinds)`` of ``calls``, in order, over the
    batch of ``n`` images, in up to ``threads()`` slices: each thread runs every call on its
    slice, then they join (one handoff for a run of kernels).

    ``kinds``: per array, 0 passed whole, 1 sliced along dim 0, 2 an output summing over the
    images, 3 the kernel's scratch (one per thread). ``parts`` keeps the extra threads' partial
    sums and scratch between calls (the program's workspace); ``site`` names this call in it."""
    t = min(threads(), n // max(1, MIN_BATCH // 2))
    if t < 2 or n < MIN_BATCH:
        for fn, arrays, _ in calls:
            fn(*arrays, n)
        return
    bounds = [n * k // t for k in range(t + 1)]
    tasks, sums = [], []
    for k in range(t):
        lo, hi = bounds[k], bounds[k + 1]
        task = []
        for c, (fn, arrays, kinds) in enumerate(calls):
            args = []
            for j, (a, kind) in enumerate(zip(arrays, kinds)):
                if kind == 1:
                    args.append(a[lo:hi])
                elif kind >= 2 and k > 0:
                    key = (site, c, j, k)
                    p = parts.get(key)
                    if p is None or p.shape != a.shape or p.dtype != a.dtype:
                        p = parts[key] = a.copy()
                    args.append(p)
                    if kind == 2:
                        sums.append((a, p))
                else:
                    args.append(a)
            task.append((fn, (*args, hi - lo)))
        tasks.append(task)
    pool = _workers(t - 1)
    done: queue.SimpleQueue = queue.SimpleQueue()
    for task in tasks[1:]:
        pool.tasks.put((_run, (task,), done))
    error = None
    try:
        _run(tasks[0])
    except BaseException as e:
        error = e
    for _ in tasks[1:]:
        e = done.get()
        error = error or e
    if error is not None:
        raise error
    for a, p in sums:
        a += p


def _run(task) -> None:
    for fn, args in task:
        fn(*args)
