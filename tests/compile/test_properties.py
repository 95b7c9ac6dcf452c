"""Property: random models mixing detach(), .data, no_grad(), frozen parameters, buffers,
closure tensors and in-place ops get the eager gradients from gradc.compile, in module form and
whole-step form."""

import copy

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import gradc
import gradc.nn as nn

f64 = gradc.float64
WIDTH = 3
BLOCKS = ("linear", "frozen", "detach", "data", "no_grad", "buffer", "closure", "tanh", "inplace")


def _apply(block, mod, h, w):
    """One block of the model. Activations stay small (bounded factors, tanh of a quarter):
    tanh's gradient is computed from its output, as torch's, and ``1 - t**2`` of a saturated
    ``t`` turns numpy's and numba's one-ulp differences in tanh into 1e-8 relative ones."""
    if block in ("linear", "frozen"):
        return mod(h)
    if block == "detach":
        return h * h.detach().tanh() + h
    if block == "data":
        return h.sin() + h.data * 0.5
    if block == "no_grad":
        with gradc.no_grad():
            scale = (h * h).mean() + 1.0
        return h / scale
    if block == "buffer":
        return h * mod.scale + h
    if block == "closure":
        return h * w  # a tensor the model reaches through a closure, not an attribute
    if block == "inplace":  # in-place ops on activations: functionalised while tracing
        h = (h * 0.25).tanh() * 1.5  # tanh saves its output: (as torch) write to a product
        h.mul_(2.0)
        h += h.detach()
        return h
    return (h * 0.25).tanh() * 4.0


def _make(recipe, seed):
    gradc.manual_seed(seed)
    w = gradc.randn(WIDTH, dtype=f64, requires_grad=True)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            for i, b in enumerate(recipe):
                self.add_module(f"m{i}", self._block(b))

        @staticmethod
        def _block(b):
            if b in ("linear", "frozen"):
                lin = nn.Linear(WIDTH, WIDTH).double()
                lin.weight.requires_grad_(b == "linear")
                return lin
            m = nn.Module()
            if b == "buffer":
                m.register_buffer("scale", gradc.randn(WIDTH, dtype=f64))
            return m

        def forward(self, x):
            h = x
            for i, b in enumerate(recipe):
                h = _apply(b, getattr(self, f"m{i}"), h, w)
            return h

    return Model(), w


def _grads(net, w):
    out = [p.grad for p in net.parameters()] + [w.grad]
    return [None if g is None else g.numpy() for g in out]


def _close(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert (x is None) == (y is None)
        if x is not None:
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)


# a trainable layer first, so that the output always requires grad
recipes = st.lists(st.sampled_from(BLOCKS), min_size=1, max_size=5).map(lambda r: ["linear", *r])


@given(recipes, st.integers(0, 2**16), st.integers(1, 4))
def test_module_form_and_whole_step_form_give_eager_gradients(backend, recipe, seed, batch):
    net, w = _make(recipe, seed)
    x = gradc.randn(batch, WIDTH, dtype=f64)

    (net(x) ** 2).sum().backward()  # eager
    expected = _grads(net, w)

    net2 = copy.deepcopy(net)  # module form: deepcopy keeps the closure tensor shared
    w.grad = None
    for p in net2.parameters():
        p.grad = None
    compiled = gradc.compile(net2, backend=backend)
    (compiled(x) ** 2).sum().backward()
    _close(_grads(net2, w), expected)

    net3 = copy.deepcopy(net)

    def step(x):
        net3.zero_grad()
        w.grad = None
        loss = (net3(x) ** 2).sum()
        loss.backward()
        return loss

    w.grad = None
    whole = gradc.compile(step, backend=backend)
    for b in (batch, batch + 1):
        xb = gradc.randn(b, WIDTH, dtype=f64)
        whole(xb)
        got = _grads(net3, w)
        net.zero_grad()
        w.grad = None
        (net(xb) ** 2).sum().backward()
        _close(got, _grads(net, w))
    assert compiled.compiles == 1 and whole.compiles <= 2
