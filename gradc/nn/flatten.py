"""``nn.Flatten``: merge dims ``start_dim..end_dim`` (the batch dim stays by default)."""

from __future__ import annotations

from gradc.nn import functional as F
from gradc.nn.module import Module


class Flatten(Module):
    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return F.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
