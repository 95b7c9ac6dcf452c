"""Golden files for `gradc dump`: the table of cases, and the one command that rewrites them.

    python -m tests.golden.regen        # from the repository root; then review `git diff`

Never edit the .txt files by hand: change the code, regenerate, and read the diff.
tests/core/test_cli.py compares `gradc dump` with these files.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LENET = str(ROOT / "examples" / "lenet.py") + ":LeNet"
MLP = str(HERE / "mlp.py") + ":MLP"

# file name -> the `gradc dump` arguments it holds the output of
CASES = {
    "lenet_graph.txt": ["dump", LENET, "--input", "Nx1x32x32", "--stage", "graph"],
    "lenet_grad_train.txt": ["dump", LENET, "--input", "Nx1x32x32", "--stage", "grad", "--train"],
    # the whole Adam training step after the passes: the text the code generator consumes
    "lenet_train_adam_optimized.txt": [
        "dump", LENET, "--input", "Nx1x32x32", "--train", "--optimizer", "adam",
        "--stage", "optimized",
    ],
}  # fmt: skip
# generated numba source: checked by tests/cpu/test_dump.py (tests/core never imports numba)
CPU_CASES = {
    "mlp_cpu_train.txt": [
        *("dump", MLP, "--input", "Nx4", "--stage", "cpu", "--train", "--loss", "cross_entropy"),
    ],
}


def render(argv: list[str]) -> str:
    """What `gradc ARGV` prints, run in this process."""
    from gradc.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    if status != 0:
        raise RuntimeError(f"gradc {' '.join(argv)} failed ({status}): {err.getvalue()}")
    return out.getvalue()


def main() -> None:
    # --stage cpu prints the cached module: a private cache, so an older entry's comments
    # (the cache key ignores source lines) never leak into the golden text
    os.environ.setdefault("GRADC_CACHE_DIR", tempfile.mkdtemp(prefix="gradc-golden-"))
    for name, argv in {**CASES, **CPU_CASES}.items():
        (HERE / name).write_text(render(argv))
        print(f"wrote {HERE.relative_to(ROOT) / name}")


if __name__ == "__main__":
    main()
