"""Hypothesis profiles: ``ci`` (small, used when CI is set), ``dev`` (default), ``thorough``.

Pick one with ``HYPOTHESIS_PROFILE=thorough pytest ...``.
"""

import os
import tempfile

# Two pytest workers on two cores: a multithreaded BLAS inside each oversubscribes the machine and
# makes small matmuls 100x slower. Set before any test imports numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Compiled code (tests/cpu, and tests/compile on the numba backend): numba at -O0 (correctness is
# what tests check, and LLVM time is most of a compile), into a disk cache private to the session.
os.environ.setdefault("NUMBA_OPT", "0")  # read when numba first compiles; gradc never imports it
os.environ.setdefault("GRADC_CACHE_DIR", tempfile.mkdtemp(prefix="gradc-test-cache-"))
# Kernels compile in the test's own process: two pytest workers already use both cores, and a
# compile worker costs ~0.5 s to start (tests/cpu/test_precompile.py sets it where it tests it).
os.environ.setdefault("GRADC_COMPILE_JOBS", "1")

from hypothesis import HealthCheck, settings

_common = dict(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile("ci", max_examples=20, derandomize=True, print_blob=True, **_common)
settings.register_profile("dev", max_examples=40, **_common)
settings.register_profile("thorough", max_examples=500, **_common)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)
