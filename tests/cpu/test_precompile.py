"""New kernel modules compile in worker processes while the caller imports them: the caller
finds the workers' modules compiled, and a module that fails still fails in the caller."""

from __future__ import annotations

import time

import numpy as np
import pytest

from runtime.cache import _import
from runtime.precompile import precompile

MODULE = """
from numba import njit


@njit("void(f8[:])", cache=True)
def kernel(a):
    a[0] += {k}
"""


def _modules(folder, n, broken=()):
    paths = []
    for k in range(n):
        path = folder / f"gradc_probe_{folder.name}_{k}.py"
        path.write_text(MODULE.format(k="undefined_name" if k in broken else k))
        paths.append(path)
    return paths


def test_workers_compile_the_later_modules(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADC_COMPILE_JOBS", "2")
    paths = _modules(tmp_path, 8)
    hits = {}

    def slow_load(path):  # the caller's compiles take a while: the worker gets to its part first
        time.sleep(0.5)
        m = _import(path)
        hits[path.stem] = sum(m.kernel.stats.cache_hits.values())

    precompile(paths, slow_load)
    for k, path in enumerate(paths):
        a = np.zeros(1)
        _import(path).kernel(a)
        assert a[0] == k
    assert [hits[p.stem] > 0 for p in paths] == [False] * 4 + [True] * 4


def test_one_job_compiles_in_the_caller(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADC_COMPILE_JOBS", "1")
    paths = _modules(tmp_path, 8)
    loaded = []
    precompile(paths, lambda p: loaded.append(sum(_import(p).kernel.stats.cache_hits.values())))
    assert loaded == [0] * 8


def test_a_module_that_fails_in_a_worker_fails_in_the_caller(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADC_COMPILE_JOBS", "2")
    paths = _modules(tmp_path, 8, broken={6})
    with pytest.raises(Exception, match="undefined_name"):
        precompile(paths, _import)
