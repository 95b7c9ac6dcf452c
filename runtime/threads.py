"""BLAS runs single-threaded inside generated programs.

numba's ``np.dot`` calls scipy's OpenBLAS. With its own thread pool on top of numba code (and of
other processes: 2 cores here) a B=64 LeNet step measured 2.3 s instead of 18 ms. A program
call limits BLAS to one thread and restores the user's setting afterwards: through the BLAS
libraries' own get/set calls (~1 us when BLAS already runs one thread, ~4 us otherwise;
threadpoolctl's ``limit()`` re-reads every library: ~26 us).
"""

from __future__ import annotations

import contextlib
import functools


@functools.cache
def _blas() -> tuple:
    import scipy.linalg.cython_blas  # noqa: F401  (numba's BLAS: loaded before looking for it)
    from threadpoolctl import ThreadpoolController

    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)


@contextlib.contextmanager
def single_threaded_blas():
    """A context manager: BLAS limited to one thread inside it."""
    changed = []
    for lib in _blas():
        n = lib.get_num_threads()
        if n != 1:
            lib.set_num_threads(1)
            changed.append((lib, n))
    try:
        yield
    finally:
        for lib, n in changed:
            lib.set_num_threads(n)
