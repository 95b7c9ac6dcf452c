"""BLAS runs single-threaded inside generated programs.

numba's ``np.dot`` calls scipy's OpenBLAS. With its own thread pool on top of numba code (and of
other processes: 2 cores here) a B=64 LeNet step measured 2.3 s instead of 18 ms. A program
call limits BLAS to one thread and restores the user's setting afterwards (~11 us per call with
a cached ``ThreadpoolController``); large GEMMs get their parallelism from ``prange`` later.
"""

from __future__ import annotations

import functools


@functools.cache
def _controller():
    import scipy.linalg.cython_blas  # noqa: F401  (numba's BLAS: loaded before looking for it)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_threaded_blas():
    """A context manager: BLAS limited to one thread inside it."""
    return _controller().limit(limits=1, user_api="blas")
