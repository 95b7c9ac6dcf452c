"""``optim.AdamW``: Adam with decoupled weight decay (Loshchilov & Hutter)."""

from __future__ import annotations

from gradc.optim.adam import Adam


class AdamW(Adam):
    """torch's update: ``p *= 1 - lr * weight_decay``, then Adam's step with no L2 term.

    The default ``weight_decay`` is 0.01 (Adam's is 0).

    >>> opt = optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.01)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)

    def update(self, p, g, group, state):
        if group["weight_decay"] != 0:
            p.mul_(1 - group["lr"] * group["weight_decay"])
        super().update(p, g, {**group, "weight_decay": 0}, state)
