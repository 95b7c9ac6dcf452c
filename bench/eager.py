"""Eager-mode speed of gradc next to PyTorch eager, measured in the same process.

    python bench/eager.py            # needs torch==2.13.0 (pip install -e ".[oracle]")

Prints median milliseconds per call and the ratio gradc/torch for: dispatch overhead on a tiny
tensor, a pointwise chain with backward on 1M floats, a 256x256 matmul with backward, and the
LeNet training step (zero_grad + forward + MSE loss + backward + SGD) at several batch sizes.
gradc's eager path is the numpy reference; the compiled path is where speed is won.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def median_ms(fn, repeat: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def cases(lib, nn, F, optim):
    """The same workloads written once against a torch-like module ``lib``."""
    lib.manual_seed(0)
    tiny = lib.ones(4)
    big = lib.randn(1_000_000, requires_grad=True)
    a = lib.randn(256, 256, requires_grad=True)
    b = lib.randn(256, 256, requires_grad=True)

    def chain():
        big.grad = None
        (lib.tanh(big * 2.0 + 1.0) * lib.sigmoid(big)).sum().backward()

    def mm():
        a.grad = b.grad = None
        (a @ b).relu().sum().backward()

    out = {
        "dispatch: tiny add": (lambda: tiny + tiny, 2000),
        "pointwise chain fwd+bwd, 1M": (chain, 30),
        "matmul 256 fwd+bwd": (mm, 50),
    }

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
            x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.view(-1, 400)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    net = LeNet()
    opt = optim.SGD(net.parameters(), lr=0.01)
    loss_fn = nn.MSELoss()
    for batch in (1, 64, 256):
        x, y = lib.randn(batch, 1, 32, 32), lib.randn(batch, 10)

        def step(x=x, y=y):
            opt.zero_grad()
            loss_fn(net(x), y).backward()
            opt.step()

        out[f"LeNet train step B={batch}"] = (step, 20 if batch < 256 else 10)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    args = ap.parse_args()
    import torch

    import gradc

    torch.set_num_threads(args.threads)
    ours = cases(gradc, gradc.nn, gradc.nn.functional, gradc.optim)
    theirs = cases(torch, torch.nn, torch.nn.functional, torch.optim)
    print(f"{'workload':34s} {'gradc ms':>10s} {'torch ms':>10s} {'gradc/torch':>12s}")
    for name, (fn, repeat) in ours.items():
        g = median_ms(fn, repeat)
        t = median_ms(theirs[name][0], repeat)
        print(f"{name:34s} {g:10.3f} {t:10.3f} {g / t:12.2f}")


if __name__ == "__main__":
    main()
