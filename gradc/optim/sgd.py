"""``optim.SGD``: stochastic gradient descent with momentum, dampening, Nesterov, weight decay."""

from __future__ import annotations

from gradc import functions as fn
from gradc.optim.optimizer import Optimizer, _fail, as_param_dtype


class SGD(Optimizer):
    """torch's update, per parameter ``p`` with gradient ``g``::

        g = g + weight_decay * p
        buf = g (first step) | momentum * buf + (1 - dampening) * g
        g = g + momentum * buf (nesterov) | buf
        p -= lr * g

    >>> opt = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    >>> opt.zero_grad(); loss.backward(); opt.step()
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ):
        for name, v in [
            ("learning rate", lr),
            ("momentum", momentum),
            ("weight_decay", weight_decay),
        ]:
            if v < 0:
                _fail(f"Invalid {name}: {v}", "SGD")
        if nesterov and (momentum <= 0 or dampening != 0):
            _fail("Nesterov momentum requires a momentum and zero dampening", "SGD")
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def update(self, p, g, group, state):
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.detach().clone()
            else:
                buf.mul_(momentum).add_(g, alpha=1 - group["dampening"])
            g = g + momentum * buf if group["nesterov"] else buf
        p.sub_(fn.mul(g, as_param_dtype(group["lr"], p)))
