"""``nn.AdaptiveAvgPool2d``: average pooling to a fixed output size, whatever the input's."""

from __future__ import annotations

from gradc.nn import functional as F
from gradc.nn.module import Module


class AdaptiveAvgPool2d(Module):
    """>>> nn.AdaptiveAvgPool2d((5, 7))
    AdaptiveAvgPool2d(output_size=(5, 7))"""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
