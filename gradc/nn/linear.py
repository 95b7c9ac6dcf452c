"""``nn.Linear``: ``y = x W^T + b``."""

from __future__ import annotations

from gradc.creation import empty
from gradc.nn import functional as F
from gradc.nn import init
from gradc.nn.module import Module
from gradc.nn.parameter import Parameter


class Linear(Module):
    """Affine map from ``in_features`` to ``out_features``; torch's default initialisation
    (``kaiming_uniform_(a=sqrt(5))`` for the weight, ``U(±1/sqrt(in_features))`` for the bias).

    >>> nn.Linear(400, 120)
    Linear(in_features=400, out_features=120, bias=True)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(empty(out_features, in_features, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_(self.weight, self.bias)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
