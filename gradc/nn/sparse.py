"""``nn.Embedding``: a table of ``num_embeddings`` vectors looked up by int64 indices."""

from __future__ import annotations

from gradc.autograd.grad_mode import no_grad
from gradc.creation import randn
from gradc.errors import GradcError
from gradc.nn import functional as F
from gradc.nn.module import Module
from gradc.nn.parameter import Parameter


class Embedding(Module):
    """Rows of ``weight`` (``[num_embeddings, embedding_dim]``, drawn from N(0, 1) as torch's)
    picked by the indices; the ``padding_idx`` row starts at zero and gets no gradient.

    >>> emb = nn.Embedding(10, 3, padding_idx=0)
    >>> emb(gradc.tensor([[1, 2], [0, 9]])).shape
    gradc.Size([2, 2, 3])
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm=None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight=None,
        _freeze: bool = False,
        dtype=None,
    ):
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise GradcError(
                    "Padding_idx must be within num_embeddings", op="Embedding"
                ).with_context()
            padding_idx %= num_embeddings
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise GradcError(
                "Embedding supports max_norm=None, scale_grad_by_freq=False and sparse=False",
                op="Embedding",
            ).with_context()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(randn(num_embeddings, embedding_dim, dtype=dtype))
            self._fill_padding_idx_with_zero()
        else:
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None, **kwargs):
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, _weight=embeddings, _freeze=freeze, **kwargs)

    def reset_parameters(self) -> None:
        with no_grad():
            self.weight.copy_(randn(*self.weight.shape, dtype=self.weight.dtype))
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self) -> None:
        if self.padding_idx is not None:
            self.weight._data[self.padding_idx] = 0

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
