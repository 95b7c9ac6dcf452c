"""``nn.Dropout``: random zeroing while training, identity in ``eval()``."""

from __future__ import annotations

from gradc.errors import ArgumentError
from gradc.nn import functional as F
from gradc.nn.module import Module


class Dropout(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ArgumentError(
                f"dropout probability has to be between 0 and 1, but got {p}", op="Dropout"
            ).with_context()
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
