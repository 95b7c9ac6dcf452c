"""Runtime: loads, caches and runs generated programs. It imports nothing from gradc or codegen:
it takes source text and a key, hands back an imported module, and runs it (``Runner``)."""

from runtime.cache import CacheWarning, cache_dir, load, store
from runtime.program import Runner
from runtime.threads import single_threaded_blas

__all__ = ["CacheWarning", "Runner", "cache_dir", "load", "single_threaded_blas", "store"]
