"""``nn.Sequential``: modules applied in order, named ``0``, ``1``... (or by an OrderedDict)."""

from __future__ import annotations

from collections import OrderedDict

from gradc.errors import GradcError
from gradc.nn.module import Module


class SequentialIndexError(GradcError, IndexError):
    """An index past the end of a Sequential."""


class Sequential(Module):
    """``Sequential(nn.Linear(4, 8), nn.ReLU())`` or ``Sequential(OrderedDict(fc=..., act=...))``.

    >>> nn.Sequential(nn.Linear(4, 8), nn.ReLU())
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): ReLU()
    )
    """

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def forward(self, input):
        for m in self:
            input = m(input)
        return input

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __getitem__(self, idx):
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(items[idx]))
        if not -len(items) <= idx < len(items):
            raise SequentialIndexError(
                f"index {idx} is out of range for a Sequential of {len(items)}", op="Sequential"
            ).with_context()
        return items[idx][1]

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self
