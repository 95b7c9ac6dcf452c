"""``gradc.nn.utils``: ``clip_grad_norm_`` and ``clip_grad_value_``."""

from gradc.nn.utils import clip_grad
from gradc.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad", "clip_grad_norm_", "clip_grad_value_"]
