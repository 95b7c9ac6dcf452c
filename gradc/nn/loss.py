"""Loss layers: ``MSELoss``, ``CrossEntropyLoss``, ``NLLLoss`` (``reduction`` as in torch)."""

from __future__ import annotations

from gradc.errors import GradcError
from gradc.nn import functional as F
from gradc.nn.module import Module


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise GradcError(
                f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}",
                op=type(self).__name__,
            ).with_context()
        self.reduction = reduction


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index


class MSELoss(_Loss):
    """Squared error, averaged (``'mean'``), summed (``'sum'``) or per element (``'none'``)."""

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of int64 class targets under log-probabilities."""

    def forward(self, input, target):
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """``log_softmax`` + ``nll_loss`` on raw scores (logits)."""

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction)
