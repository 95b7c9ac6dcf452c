"""The new ops and layers trace: a traced graph (symbolic batch) run by the interpreter equals
eager mode, its backward graph equals eager autograd, and the passes keep both (the rounding
functions and ``Mod`` are sympy classes of their own, so the simplifier must handle them)."""

from __future__ import annotations

import numpy as np

import gradc
import gradc.nn as nn
from gradc.ir import interpret, verify
from gradc.passes import optimize


class Mixed(nn.Module):
    """One of almost everything issue 11 added (selection and indexing too), on a [N, 3, 4, 4]
    input, in eval mode."""

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(3)
        self.ln = nn.LayerNorm(4)
        self.pool = nn.AdaptiveAvgPool2d((2, 3))
        self.emb = nn.Embedding(5, 6)
        self.act = nn.ModuleList([nn.GELU(), nn.SiLU(), nn.ELU(), nn.LeakyReLU(0.1)])

    def forward(self, x):
        x = self.ln(self.bn(x))
        for act in self.act:
            x = act(x)
        y = self.pool(x).flatten(1)  # [N, 18]
        e = self.emb(gradc.tensor([1, 3, 3])).sum(0)
        y = y + gradc.cat([e, e, e])
        z = gradc.atan(y) + y.floor() * 0.1 + gradc.fmod(y, 0.7) + y % 0.3 + gradc.erf(y)
        z = z + gradc.expm1(y.clamp(max=1)) + gradc.log1p(y.abs()) + (y * y + 1).rsqrt()
        z = z + y.sign() * gradc.lerp(y, y.cosh(), 0.25) + y.round() + (y // 0.5)
        pick = gradc.tensor([[1, 17, 17]]).expand(z.shape[0], 3)
        s = z.sort(1, descending=True).values[:, :3] + z.topk(3, 1).values + z[:, [0, 5, 5]]
        s = s + z.flip(1)[:, :3] + z.unfold(1, 3, 5)[:, :3, 1] + z.gather(1, pick)
        s = s + z.reshape(-1, 3, 6).diagonal(0, 1, 2) + (z > 0).int().bitwise_xor(3).double()[:, :3]
        z = (z * 0.3).prod(1) + z.cumsum(1).sum(1) + z.logsumexp(1) + z.var(1) + z.norm(dim=1)
        return z + s.sum(1)


def _setup():
    gradc.manual_seed(0)
    net = Mixed().double()
    net.train()
    net(gradc.randn(4, 3, 4, 4, dtype=gradc.float64))  # move the running statistics
    net.eval()
    x = np.random.default_rng(1).normal(size=(5, 3, 4, 4))
    return net, x


def test_forward_traces_with_a_symbolic_batch_and_interprets_as_eager():
    net, x = _setup()
    n = gradc.Dim("N")
    g = gradc.trace(net, gradc.TensorSpec((n, 3, 4, 4), gradc.float64))
    verify(g)
    text = str(g)
    ops = ["floor", "fmod", "remainder", "erf", "prod", "cumsum", "embedding", "rsqrt", "flip"]
    for op in [*ops, "argsort", "gather", "bitwise_xor"]:
        assert f"= {op}(" in text, op
    params = {k: p.detach().numpy() for k, p in net.named_parameters()}
    buffers = {k: b.numpy() for k, b in net.named_buffers()}
    want = net(gradc.tensor(x)).detach().numpy()
    names = {v.name.lstrip("%") for v in g.inputs}
    args = {k: v for k, v in {**params, **buffers}.items() if k in names}
    (got,) = interpret(g, x, **args)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    opt, _ = optimize(g)
    verify(opt)
    (got,) = interpret(opt, x, **args)
    np.testing.assert_allclose(got, want, rtol=1e-10)


class Summed(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x).sum()


def test_backward_graph_matches_eager_autograd():
    net, x = _setup()
    net = Summed(net)
    g = gradc.trace(net, gradc.tensor(x))
    joint = gradc.joint_graph(g)
    verify(joint)
    inputs = {v.name.lstrip("%") for v in joint.inputs}
    params = dict(net.named_parameters())
    args = {k: p.detach().numpy() for k, p in params.items() if k in inputs}
    args.update({k: b.numpy() for k, b in net.named_buffers() if k in inputs})
    if "tangents_1" in inputs:
        args["tangents_1"] = np.array(1.0)
    outs = dict(zip(joint.output_names, interpret(joint, x, **args)))
    net.zero_grad()
    net(gradc.tensor(x)).sum().backward()
    for name, p in params.items():
        if f"{name}.grad" in outs:
            np.testing.assert_allclose(outs[f"{name}.grad"], p.grad.numpy(), rtol=1e-9, atol=1e-12)
    assert {"net.emb.weight.grad", "net.bn.weight.grad", "net.ln.bias.grad"} <= set(outs)
