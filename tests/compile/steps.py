"""What the compile tests write again and again: the training step (zero_grad, forward, loss,
backward, step), and a scalar function run eagerly and then compiled."""

import gradc
import gradc.nn.functional as F


def train_step(model, opt, loss_fn=F.cross_entropy):
    """``step(x, y)`` for ``model`` and ``opt``: the eager loop body, compiled or not."""

    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def eager_then_compiled(f, x, backend="numba"):
    """``[(value, grad), (value, grad)]``: ``f(x).item()`` and ``x.grad`` after its backward,
    run eagerly, then through ``gradc.compile``."""
    runs = []
    for fn in (f, gradc.compile(f, backend=backend)):
        x.grad = None
        out = fn(x)
        out.backward()
        runs.append((out.item(), x.grad.numpy().copy()))
    return runs
