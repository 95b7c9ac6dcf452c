"""LeNet's joint graph (forward + cross-entropy + backward) for codegen tests and the compile
bench: ``build(loss)`` returns ``(net, joint_graph)`` with a symbolic batch ``N``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

import gradc
import gradc.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent


def lenet_class():
    spec = importlib.util.spec_from_file_location("lenet_example", ROOT / "examples" / "lenet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.LeNet


def build(loss: str = "cross_entropy", dtype=gradc.float32):
    """``(net, joint)``: the joint graph of ``loss(net(x), target)`` over the net's parameters."""
    gradc.manual_seed(0)
    net = lenet_class()().to(dtype)
    N = gradc.Dim("N")
    if loss == "cross_entropy":
        target = gradc.TensorSpec((N,), gradc.int64)

        def step(x, t):
            return F.cross_entropy(net(x), t)
    else:
        target = gradc.TensorSpec((N, 10), dtype)

        def step(x, t):
            return F.mse_loss(net(x), t)

    g = gradc.trace(step, gradc.TensorSpec((N, 1, 32, 32), dtype), target, params=net)
    return net, gradc.joint_graph(g)


def inputs(net, loss: str, n: int, seed: int = 0, dtype=np.float32) -> tuple[list, dict]:
    """``(args, named)``: an image batch, targets, the parameters and a seed gradient of 1."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, 32, 32)).astype(dtype)
    if loss == "cross_entropy":
        t = rng.integers(0, 10, n).astype(np.int64)
    else:
        t = rng.standard_normal((n, 10)).astype(dtype)
    params = {k: p.detach().numpy() for k, p in net.named_parameters()}
    params["tangents_1"] = np.ones((), dtype)  # d loss / d loss
    return [x, t], params
