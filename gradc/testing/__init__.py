"""Property-test your own gradients the way gradc tests its ops.

>>> from gradc.testing import gradcheck
>>> x = gradc.randn(3, 4, dtype=gradc.float64, requires_grad=True)
>>> gradcheck(lambda x: (x.tanh() * x).sum(1), x)
True

Hypothesis strategies for shapes and tensors live in ``gradc.testing.strategies``.
"""

from gradc.testing.gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]
