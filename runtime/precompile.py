"""New kernel modules compiled in worker processes, in parallel, before the program imports them.

numba compiles one function at a time under a process-wide lock, ~0.5 s per kernel at -O3, and
LeNet's training step has ~46 kernels. ``precompile`` hands parts of the modules just written
to ``jobs() - 1`` worker processes while it imports them itself; a worker's import compiles its
modules and writes numba's cache beside them, so the caller's imports of those only load machine
code. A worker that fails changes nothing: the caller compiles that module itself
(and reports its error).

``GRADC_COMPILE_JOBS`` sets the number of processes compiling at once (default: the cores this
process may use; 1 compiles everything in the caller).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from runtime.parallel import cores

MIN_MODULES = 6  # fewer new modules compile in the caller: a worker costs ~0.5 s to start

_CHILD = """
import sys
from pathlib import Path

from runtime.cache import _import

for path in sys.argv[1:]:
    try:
        _import(Path(path))
    except Exception:
        pass  # the caller compiles it again and raises
"""


def jobs() -> int:
    return cores("GRADC_COMPILE_JOBS")


def precompile(paths: list[Path], load) -> None:
    """Import every module in ``paths`` with ``load(path)``, compiling parts of them in worker
    processes at the same time when there are enough of them.

    The caller imports all of them in order; worker ``k`` compiles the ``k``-th of ``jobs()``
    contiguous parts from its end backwards. The caller finds a worker's modules compiled, or
    compiles those it reaches first: the two meet once in each part, however long its kernels
    take to compile."""
    n = min(jobs(), len(paths) // max(1, MIN_MODULES // 2))
    workers = []
    if n >= 2 and len(paths) >= MIN_MODULES:
        import numba

        env = dict(os.environ, NUMBA_OPT=str(int(numba.config.OPT)))
        bounds = [len(paths) * k // n for k in range(n + 1)]
        for k in range(1, n):
            part = paths[bounds[k] : bounds[k + 1]][::-1]
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-c", _CHILD, *map(str, part)],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
    try:
        for p in paths:
            load(p)
    except BaseException:  # numba writes its cache files whole (a temporary, then a rename)
        for w in workers:
            w.kill()
        raise
    finally:
        for w in workers:
            w.wait()
