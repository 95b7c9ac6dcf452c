"""``optim.Adam``: adaptive moments (Kingma & Ba), with torch's bias correction and options."""

from __future__ import annotations

from gradc import functions as fn
from gradc.creation import tensor
from gradc.dtypes import float64
from gradc.optim.optimizer import Optimizer, _fail, as_param_dtype


class Adam(Optimizer):
    """torch's update, per parameter ``p`` with gradient ``g`` at step ``t``::

    g = g + weight_decay * p
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g          (amsgrad: vmax = max(vmax, v), use vmax)
    p -= lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ):
        if lr < 0:
            _fail(f"Invalid learning rate: {lr}", "Adam")
        if eps < 0:
            _fail(f"Invalid epsilon value: {eps}", "Adam")
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                _fail(f"Invalid beta parameter at index {i}: {b}", "Adam")
        if weight_decay < 0:
            _fail(f"Invalid weight_decay value: {weight_decay}", "Adam")
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def update(self, p, g, group, state):
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        if not state:
            state["step"] = tensor(0.0)
            state["exp_avg"] = fn.zeros_like(p)
            state["exp_avg_sq"] = fn.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = fn.zeros_like(p)
        state["step"].add_(1)
        # bias corrections in float64 from the step tensor (no .item(): a traced step reads
        # the step count as a value), rounded to the parameter's dtype once, as Python floats are
        t = fn.cast(state["step"], float64)
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.mul_(beta1).add_(g, alpha=1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        if group["amsgrad"]:
            state["max_exp_avg_sq"].copy_(fn.maximum(state["max_exp_avg_sq"], exp_avg_sq))
            exp_avg_sq = state["max_exp_avg_sq"]
        bias2 = fn.cast(fn.sqrt(1 - fn.pow(beta2, t)), p.dtype)
        step_size = fn.cast(fn.div(as_param_dtype(lr, None), 1 - fn.pow(beta1, t)), p.dtype)
        denom = fn.sqrt(exp_avg_sq) / bias2 + eps
        p.sub_(fn.mul(fn.div(exp_avg, denom), step_size))
