"""Cold and warm lowering times of LeNet's joint graph (forward + loss + backward).

    python bench/lower_lenet.py            # cold: a fresh cache dir; warm: a second process

Each measurement runs in its own process: trace + passes + codegen + import + numba compile
(cold) or load from numba's cache (warm), up to the first call's result at batch 8. Then the
median B=64 step time of the program and of the interpreter (for scale, not a target yet: the
lowerings are plain serial loops).
Targets on 2 cores (issue 9): cold under 20 s, warm under 1.5 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, time
t0 = time.perf_counter()
import gradc
from bench.lenet_joint import build, inputs
ti = time.perf_counter()
net, joint = build("cross_entropy")
t1 = time.perf_counter()
prog = gradc.lower(joint)
t2 = time.perf_counter()
args, params = inputs(net, "cross_entropy", 8)
prog(*args, **params)
t3 = time.perf_counter()
from gradc.ir import interpret
args, params = inputs(net, "cross_entropy", 64)
def best(f, k):
    ts = []
    for _ in range(k):
        t = time.perf_counter(); f(*args, **params); ts.append(time.perf_counter() - t)
    return sorted(ts)[len(ts) // 2] * 1e3
print(json.dumps({"import": ti - t0, "trace": t1 - ti, "lower": t2 - t1, "first_call": t3 - t2,
                  "total": t3 - t0,
                  "kernels": len(prog.plan.kernels), "step_ms": best(prog, 15),
                  "interp_ms": best(lambda *a, **k: interpret(joint, *a, **k), 5)}))
"""


def run(cache: str) -> dict:
    env = dict(os.environ, GRADC_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gradc-bench-") as cache:
        t = time.perf_counter()
        cold = run(cache)
        cold["process"] = time.perf_counter() - t
        t = time.perf_counter()
        warm = run(cache)
        warm["process"] = time.perf_counter() - t
    for name, r in (("cold", cold), ("warm", warm)):
        print(
            f"{name}: {r['total']:.2f} s in-process (import gradc {r['import']:.2f}, trace "
            f"{r['trace']:.2f}, passes+codegen+import "
            f"{r['lower']:.2f}, numba compile/load + first call {r['first_call']:.2f}; "
            f"{r['kernels']} kernels), {r['process']:.2f} s with interpreter start-up"
        )
    print(
        f"B=64 joint step (forward + loss + backward, median): program {warm['step_ms']:.2f} ms, "
        f"interpreter {warm['interp_ms']:.2f} ms"
    )


if __name__ == "__main__":
    main()
