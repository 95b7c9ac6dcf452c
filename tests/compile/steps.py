"""The training step the compile tests write: zero_grad, forward, loss, backward, step."""

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
