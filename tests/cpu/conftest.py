"""CPU codegen tests: numba compiles at -O0 (correctness is what these tests check, and LLVM
time is most of a compile), into a disk cache private to the test session."""

import os
import tempfile

os.environ.setdefault("NUMBA_OPT", "0")  # read when numba first compiles; gradc never imports it
os.environ.setdefault("GRADC_CACHE_DIR", tempfile.mkdtemp(prefix="gradc-test-cache-"))
