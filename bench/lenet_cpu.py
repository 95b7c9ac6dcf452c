"""The LeNet training step on the CPU: gradc eager and compiled next to PyTorch and JAX.

    pip install -e ".[bench]" && python bench/lenet_cpu.py      # --batches 1,64,256 --repeat 1

One step is zero_grad + forward + cross-entropy + backward + SGD with momentum 0.9, float32,
on random 32x32 images. Each implementation runs in a process of its own (in one process
their thread pools slow each other down), with the threads the machine gives it:
- ``gradc eager``: the numpy reference implementation;
- ``gradc module``: ``gradc.compile(net)`` (one program for forward, one for backward), loss
  and optimizer eager;
- ``gradc step``: ``gradc.compile(step)``, the whole step as one program;
- ``torch eager``, ``torch.compile`` (default inductor) and ``jax.jit`` of the same step, where
  installed.
Prints the median step time (min..max over the timed steps), the ratio to torch eager, the
first two steps' time (the compiles: the first step also creates the momentum buffers), and
the process's peak RSS. gradc's compiled forms run twice: with an empty kernel cache (cold)
and again with the cache the first run filled (warm).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEAT = {1: 300, 64: 60, 256: 20}  # timed steps per batch size (x --repeat)


def _timed(step, batches, make, repeat):
    rows = []
    for b in batches:
        x, y = make(b)
        t = time.perf_counter()
        step(x, y)
        step(x, y)
        first = time.perf_counter() - t
        for _ in range(3):
            step(x, y)
        times = []
        for _ in range(REPEAT.get(b, 20) * repeat):
            t = time.perf_counter()
            step(x, y)
            times.append(time.perf_counter() - t)
        times.sort()
        ms = [1e3 * times[len(times) // 2], 1e3 * times[0], 1e3 * times[-1]]
        rows.append({"batch": b, "first_s": first, "ms": ms})
    return rows


def _gradc(kind, batches, repeat):
    sys.path.insert(0, str(ROOT / "examples"))
    from lenet import LeNet, make_step  # the example's own training step

    import gradc

    gradc.manual_seed(0)
    net = LeNet()
    model = gradc.compile(net) if kind == "module" else net
    opt = gradc.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    step = make_step(model, opt, compiled=kind == "step")

    def make(b):
        return gradc.randn(b, 1, 32, 32), gradc.randint(0, 10, (b,))

    return _timed(step, batches, make, repeat)


def _torch(kind, batches, repeat):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
            self.fc1, self.fc2, self.fc3 = (
                nn.Linear(400, 120),
                nn.Linear(120, 84),
                nn.Linear(84, 10),
            )

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.view(-1, 400)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    torch.manual_seed(0)
    net = LeNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss

    step = torch.compile(step) if kind == "compile" else step

    def make(b):
        return torch.randn(b, 1, 32, 32), torch.randint(0, 10, (b,))

    return _timed(step, batches, make, repeat)


def _jax(batches, repeat):
    import jax
    import jax.numpy as jnp

    def conv(x, w, b):
        dims = ("NCHW", "OIHW", "NCHW")
        y = jax.lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=dims)
        return y + b[None, :, None, None]

    def pool(x):
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss_fn(p, x, y):
        x = pool(jax.nn.relu(conv(x, p["c1w"], p["c1b"])))
        x = pool(jax.nn.relu(conv(x, p["c2w"], p["c2b"]))).reshape(x.shape[0], 400)
        x = jax.nn.relu(x @ p["f1w"].T + p["f1b"])
        x = jax.nn.relu(x @ p["f2w"].T + p["f2b"])
        logits = x @ p["f3w"].T + p["f3b"]
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    @jax.jit
    def train(p, m, x, y):
        loss, g = jax.value_and_grad(loss_fn)(p, x, y)
        m = jax.tree_util.tree_map(lambda a, b: 0.9 * a + b, m, g)
        p = jax.tree_util.tree_map(lambda a, b: a - 0.01 * b, p, m)
        return p, m, loss

    shapes = {
        "c1w": (6, 1, 5, 5), "c1b": (6,), "c2w": (16, 6, 5, 5), "c2b": (16,),
        "f1w": (120, 400), "f1b": (120,), "f2w": (84, 120), "f2b": (84,),
        "f3w": (10, 84), "f3b": (10,),
    }  # fmt: skip
    keys = jax.random.split(jax.random.PRNGKey(0), len(shapes) + 2)
    state = {"p": {k: 0.1 * jax.random.normal(kk, s) for (k, s), kk in zip(shapes.items(), keys)}}
    state["m"] = jax.tree_util.tree_map(jnp.zeros_like, state["p"])

    def step(x, y):
        state["p"], state["m"], loss = train(state["p"], state["m"], x, y)
        return loss.block_until_ready()

    def make(b):
        return jax.random.normal(keys[-1], (b, 1, 32, 32)), jax.random.randint(
            keys[-2], (b,), 0, 10
        )

    return _timed(step, batches, make, repeat)


def _worker(impl, batches, repeat):
    kind = impl.split()[-1]
    if impl.startswith("gradc"):
        rows = _gradc(kind, batches, repeat)
    elif impl == "jax.jit":
        rows = _jax(batches, repeat)
    else:
        rows = _torch("compile" if impl == "torch.compile" else "eager", batches, repeat)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "rss_mb": rss}))


def _run(impl, batches, repeat, env=None):
    cmd = [sys.executable, __file__, "--worker", impl, "--batches", ",".join(map(str, batches))]
    cmd += ["--repeat", str(repeat)]
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["?"])[-1]
        return None, tail
    return json.loads(p.stdout.strip().splitlines()[-1]), None


def _installed(module) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", default="1,64,256")
    ap.add_argument("--repeat", type=int, default=1, help="multiply the timed steps")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    if args.worker:
        return _worker(args.worker, batches, args.repeat)

    results = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, GRADC_CACHE_DIR=cache)
        for impl in ("gradc eager", "gradc module", "gradc step"):
            for temp in ("cold", "warm") if impl != "gradc eager" else ("",):
                results[f"{impl} {temp}".strip()] = _run(impl, batches, args.repeat, env)
    peers = [("torch eager", "torch"), ("torch.compile", "torch"), ("jax.jit", "jax")]
    for impl, module in peers:
        results[impl] = (
            _run(impl, batches, args.repeat) if _installed(module) else (None, "not installed")
        )

    base = results.get("torch eager", (None,))[0]
    print(f"LeNet training step (SGD momentum, float32), {os.cpu_count()} cores; ms per step")
    head = f"{'':<20}" + "".join(f"{'B=' + str(b):>24}" for b in batches)
    print(head + f"{'first 2 steps (s)':>20}{'peak RSS':>10}")
    for impl, (res, why) in results.items():
        if res is None:
            print(f"{impl:<20}  ({why})")
            continue
        cells = []
        for k, row in enumerate(res["rows"]):
            med, lo, hi = row["ms"]
            ratio = ""
            if base is not None and impl != "torch eager":
                ratio = f" {base['rows'][k]['ms'][0] / med:.2f}x"
            cells.append(f"{med:8.3f} ({lo:.2f}..{hi:.2f}){ratio:>6}")
        firsts = "/".join(f"{row['first_s']:.1f}" for row in res["rows"])
        print(
            f"{impl:<20}"
            + "".join(f"{c:>24}" for c in cells)
            + f"{firsts:>20}"
            + f"{res['rss_mb']:8.0f} MB"
        )
    print("ratio: torch eager's median / this row's median (above 1: faster than torch eager)")
    print("first 2 steps: per batch size; the first batch's includes tracing and compiling")


if __name__ == "__main__":
    main()
