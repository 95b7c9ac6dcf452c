"""``optim.RMSprop``: divide the gradient by a running root mean square (Hinton's lecture 6e)."""

from __future__ import annotations

from gradc import functions as fn
from gradc.creation import tensor
from gradc.optim.optimizer import Optimizer, _fail


class RMSprop(Optimizer):
    """torch's update, per parameter ``p`` with gradient ``g``::

    g = g + weight_decay * p
    v = alpha * v + (1 - alpha) * g * g
    avg = sqrt(v - m * m) + eps, with m = alpha * m + (1 - alpha) * g   (centered)
        | sqrt(v) + eps
    buf = momentum * buf + g / avg; p -= lr * buf                      (momentum > 0)
        | p -= lr * g / avg
    """

    def __init__(
        self,
        params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ):
        for name, v in [
            ("learning rate", lr),
            ("epsilon value", eps),
            ("momentum value", momentum),
            ("weight_decay value", weight_decay),
            ("alpha value", alpha),
        ]:
            if v < 0:
                _fail(f"Invalid {name}: {v}", "RMSprop")
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def update(self, p, g, group, state):
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state["step"] = tensor(0.0)
            state["square_avg"] = fn.zeros_like(p)
            if momentum > 0:
                state["momentum_buffer"] = fn.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = fn.zeros_like(p)
        state["step"].add_(1)
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        square_avg = state["square_avg"].mul_(alpha).addcmul_(g, g, value=1 - alpha)
        if group["centered"]:
            grad_avg = state["grad_avg"].mul_(alpha).add_(g, alpha=1 - alpha)
            avg = fn.sqrt(square_avg - grad_avg * grad_avg) + group["eps"]
        else:
            avg = fn.sqrt(square_avg) + group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"].mul_(momentum).addcdiv_(g, avg)
            p.add_(buf, alpha=-group["lr"])
        else:
            p.addcdiv_(g, avg, value=-group["lr"])
