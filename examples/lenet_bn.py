"""LeNet with batch normalisation and dropout, trained on scikit-learn's digits with AdamW, a
cosine learning-rate schedule and gradient clipping: the layers PyTorch users add next.

    python examples/lenet_bn.py --epochs 4 [--compile]

Prints the held-out accuracy in eval mode (running statistics, no dropout) and saves the
``state_dict`` (BatchNorm's buffers included) with ``gradc.save`` when ``--out`` is given.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

import gradc
import gradc.nn as nn
import gradc.nn.functional as F
import gradc.optim as optim


class LeNetBN(nn.Module):
    def __init__(self, p_drop: float = 0.25):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, bias=False),
            nn.BatchNorm2d(6),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5, bias=False),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            nn.BatchNorm1d(120),
            nn.ReLU(),
            nn.Dropout(p_drop),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Dropout(p_drop),
            nn.Linear(84, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def train(
    net,
    x,
    y,
    epochs: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    compiled: bool = False,
):
    """AdamW + CosineAnnealingLR + clip_grad_norm_; returns the per-step losses. ``compiled``:
    the step (forward, loss, backward, clipping, update) through ``gradc.compile``."""
    rng = np.random.default_rng(seed)
    opt = optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = (len(x) + batch_size - 1) // batch_size
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps)

    def step(inputs, target):
        loss = F.cross_entropy(net(inputs), target)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), max_norm=5.0)
        opt.step()
        return loss

    if compiled:
        step = gradc.compile(step)
    losses = []
    net.train()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for k in range(steps):
            idx = order[k * batch_size : (k + 1) * batch_size]
            if len(idx) < 2:  # BatchNorm needs two samples per channel in training
                continue
            losses.append(step(gradc.from_numpy(x[idx]), gradc.from_numpy(y[idx])).item())
            sched.step()  # the learning rate is an input of the compiled step: no recompile
    return losses


@gradc.no_grad()
def accuracy(net, x, y) -> float:
    net.eval()
    pred = net(gradc.from_numpy(x)).argmax(1).numpy()
    net.train()
    return float((pred == y).mean())


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="folder for lenet_bn.gradc (the state_dict)")
    parser.add_argument("--compile", action="store_true", help="train with gradc.compile")
    args = parser.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import data
    from lenet import one_blas_thread  # small matrices: BLAS threads cost more than they save

    gradc.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = data.load_digits()
    net = LeNetBN()
    with one_blas_thread():
        train(net, x_train, y_train, args.epochs, seed=args.seed, compiled=args.compile)
        acc = accuracy(net, x_test, y_test)
    print(f"held-out accuracy (eval mode): {acc:.2%}")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        gradc.save(net.state_dict(), os.path.join(args.out, "lenet_bn.gradc"))
    return acc


if __name__ == "__main__":
    main()
