"""Threads handing split runs over through spun-on flags (``runtime.spin``, the pool in
``runtime.parallel``): a wait sees a post from another thread, gives up after its budget, and
a run posted to sleeping workers or from two programs' threads at once still computes right."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

import numpy as np
import pytest
from numba import njit

from runtime import parallel, spin


def test_a_wait_sees_another_threads_post_and_gives_up_after_its_spins():
    flags = np.zeros(2, np.int64)
    assert spin.wait(flags, 0, 1, 1000, 0) == 0  # never posted: the budget runs out
    poster = threading.Thread(target=lambda: (time.sleep(0.01), spin.post(flags, 0, 3)))
    poster.start()
    assert spin.wait(flags, 0, 3, 1 << 40, 10) == 1
    poster.join()
    assert flags[0] == 3 and spin.wait(flags, 0, 2, 1, 0) == 1  # ">=": an older run is seen
    assert spin.pauses_per_us() > 0


@njit(nogil=True)
def _times(x, out, factor, n):
    for i in range(n):
        out[i] = x[i] * factor


def _check_runs(runs: int, pause: float = 0.0, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for r in range(runs):
        x, out = rng.standard_normal(64), np.full(64, np.nan)
        parallel.split(((_times, (x, out, float(r)), (1, 1, 0)),), 64, {}, 0)
        np.testing.assert_array_equal(out, x * r)
        time.sleep(pause)


def test_runs_posted_to_sleeping_workers_wake_them(monkeypatch):
    monkeypatch.setenv("GRADC_THREADS", "3")
    monkeypatch.setattr(parallel, "SPIN_US", 1)  # the workers sleep between runs
    monkeypatch.setattr(parallel, "_POOL", [])
    _check_runs(20, pause=0.002)
    pool = parallel._workers(2)
    assert pool.spins < 1000


def test_two_programs_splitting_at_once_both_compute_right(monkeypatch):
    monkeypatch.setenv("GRADC_THREADS", "2")
    errors = []

    def caller(seed):
        try:
            _check_runs(200, seed=seed)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    callers = [threading.Thread(target=caller, args=(s,)) for s in range(3)]
    for c in callers:
        c.start()
    for c in callers:
        c.join()
    assert not errors


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_splits_with_workers_of_its_own(monkeypatch):
    monkeypatch.setenv("GRADC_THREADS", "2")
    _check_runs(3)  # the parent's pool exists before the fork
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        assert pool.apply_async(_child_runs).get(timeout=60) == "ok"


def _child_runs() -> str:
    _check_runs(5)
    return "ok"
