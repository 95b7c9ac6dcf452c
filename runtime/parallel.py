"""Kernels run on slices of the batch in parallel threads.

Generated kernels are serial numba functions that release the GIL (``nogil``). A kernel that
keeps images apart (``gradc.passes.parallel``) runs on ``[lo, hi)`` slices of its batch-led
arrays, one slice per thread, the caller's thread included: row-major slices along dim 0 are
contiguous, so every thread calls the same compiled function. A run of such kernels (grouped by
``codegen.cpu.module``) runs whole in each thread before the one join. Outputs that sum over
the images (weight gradients) get one partial buffer per extra thread, added after the join.

The threads hand runs over through flags they spin on (``runtime.spin``): a handoff through a
queue, the threads sleeping, cost ~0.1 ms per run here (0.2 of a 2.6 ms LeNet batch-64 step),
spinning ~25 us. An idle worker sleeps after ``SPIN_US``.

``GRADC_THREADS`` sets the number of threads (default: the cores this process may use; 1 turns
splitting off). A batch below ``MIN_BATCH`` runs in one call.
"""

from __future__ import annotations

import os
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


SPIN_US = 2000  # how long an idle thread spins for the next run before it sleeps
LINGER_US = 5  # a worker's wait after seeing a run posted: the caller is then in its own kernel


class _Workers:
    """``n`` daemon threads, each running one slice of every split run.

    A run is posted by raising ``flags[0]`` to its number; worker ``k`` spins for it (for
    ``SPIN_US``, then sleeps on its semaphore), runs its slice and raises ``flags[1 + k]``, which
    the caller spins for. Sleeping is decided under the GIL on both sides, so a post never
    misses a sleeper; a stale wake-up only makes the sleeper look again."""

    def __init__(self, n: int):
        import numpy as np

        from runtime import spin

        self.n, self.spin, self.runs = n, spin, 0
        self.flags = np.zeros(1 + n, np.int64)
        self.tasks: list = [[] for _ in range(n)]
        self.errors: list = [None] * n
        self.asleep = [False] * (n + 1)  # the workers', then the caller's
        self.wake = [threading.Semaphore(0) for _ in range(n + 1)]
        self.lock = threading.Lock()  # one caller at a time; another runs its slices itself
        rate = spin.pauses_per_us()
        self.spins, self.linger = int(SPIN_US * rate) + 1, int(LINGER_US * rate) + 1
        for k in range(n):
            threading.Thread(target=self._loop, args=(k,), daemon=True, name="gradc-worker").start()

    def _loop(self, k: int) -> None:
        run, seen = 1, self.spin.wait(self.flags, 0, 1, self.spins, self.linger)
        while True:
            self._sleep(0, run, k, seen)
            try:  # nothing else in Python between the last kernel and the post: the caller
                _run(self.tasks[k])  # may be taking the GIL back at the same moment
            except BaseException as e:  # handed to the caller, which raises it
                self.errors[k] = e
            run += 1
            if self.asleep[self.n]:  # the caller gave up spinning: post and wake it
                self.flags[1 + k] = run - 1
                self.asleep[self.n] = False
                self.wake[self.n].release()
                seen = self.spin.wait(self.flags, 0, run, self.spins, self.linger)
            else:  # the post and the wait in one nogil call: the caller then finds the GIL free
                seen = self.spin.post_wait(
                    self.flags, 1 + k, run - 1, 0, run, self.spins, self.linger
                )

    def _sleep(self, i: int, value: int, sleeper: int, seen: int) -> None:
        """Unless ``seen``: until ``flags[i] >= value``, asleep between looks. A post made in a
        nogil call after the poster found no sleeper is seen at the next look (2 ms)."""
        while not seen and self.flags[i] < value:
            self.asleep[sleeper] = True
            self.wake[sleeper].acquire(timeout=0.002)

    def run(self, tasks: list) -> None:
        """``tasks[0]`` in this thread and ``tasks[1 + k]`` in worker ``k``, then the join;
        raises the first error of any slice."""
        self.runs += 1
        for k in range(self.n):
            self.tasks[k] = tasks[1 + k] if 1 + k < len(tasks) else []
            self.errors[k] = None
        self.spin.post(self.flags, 0, self.runs)
        for k in range(self.n):
            if self.asleep[k]:
                self.asleep[k] = False
                self.wake[k].release()
        error = None
        try:
            _run(tasks[0])
        except BaseException as e:
            error = e
        for k in range(self.n):
            seen = self.spin.wait(self.flags, 1 + k, self.runs, self.spins, 0)
            self._sleep(1 + k, self.runs, self.n, seen)
        error = error or next((e for e in self.errors if e is not None), None)
        for k in range(self.n):
            self.tasks[k] = []  # the slices' views, not kept alive until the next run
        if error is not None:
            raise error


_POOL: list = []
_LOCK = threading.Lock()


def _forget_pool() -> None:
    """In a forked child: the parent's workers did not come along (nor may its lock be free)."""
    global _LOCK
    _POOL.clear()
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


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
    if pool.lock.acquire(blocking=False):
        try:
            pool.run(tasks)
        finally:
            pool.lock.release()
    else:  # another thread's program is splitting: this one's slices run here, in turn
        for task in tasks:
            _run(task)
    for a, p in sums:
        a += p


def _run(task) -> None:
    for fn, args in task:
        fn(*args)
