"""Runtime: loads, caches and runs generated programs. It imports nothing from gradc or codegen:
it takes source text and a key, hands back an imported module, and runs it (``Runner``)."""

from runtime.cache import (
    CacheWarning,
    body,
    cache_dir,
    load,
    load_manifest,
    load_stored,
    store,
    store_manifest,
)
from runtime.program import Runner
from runtime.threads import single_threaded_blas

__all__ = [
    "CacheWarning",
    "Runner",
    "body",
    "cache_dir",
    "load",
    "load_manifest",
    "load_stored",
    "single_threaded_blas",
    "store",
    "store_manifest",
]
