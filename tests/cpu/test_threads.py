"""Programs run BLAS single-threaded and leave the caller's BLAS threads as they were."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

import gradc
import runtime


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_blas_is_single_threaded_inside_and_restored_after():
    import scipy.linalg.cython_blas  # noqa: F401  (the BLAS numba's np.dot calls)

    with threadpool_limits(2, "blas"):  # the caller's setting (tests run with 1 by default)
        before = _blas_threads()
        assert set(before) == {2}
        with runtime.single_threaded_blas():
            assert set(_blas_threads()) == {1}
        assert _blas_threads() == before
        _program_call()
        assert _blas_threads() == before


def _program_call():
    g = gradc.trace(
        lambda a, b: a @ b,
        gradc.TensorSpec((gradc.Dim("N"), 3), gradc.float64),
        gradc.TensorSpec((3, 2), gradc.float64),
    )
    prog = gradc.lower(g)
    assert "np.dot(" in prog.source
    x, w = np.ones((4, 3)), np.ones((3, 2))
    np.testing.assert_allclose(prog(x, w)[0], x @ w)
