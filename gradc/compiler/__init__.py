"""``gradc.compile``: trace, differentiate and hand the graphs to a backend.

>>> net = gradc.compile(LeNet(), backend="interpret")   # a module: forward + backward graphs
>>> loss = F.cross_entropy(net(x), y); loss.backward()  # .grad filled by the compiled backward
>>> @gradc.compile(backend="interpret")
... def step(x, y):                                     # a whole training step: one graph
...     opt.zero_grad(); loss = F.cross_entropy(net(x), y); loss.backward(); opt.step()
...     return loss
"""

from __future__ import annotations

from gradc.compiler.backends import BACKENDS, get_backend, register_backend
from gradc.compiler.function import COUNTERS, CompiledFunction
from gradc.compiler.module import CompiledModule


def compile(fn=None, *, backend="numba", dynamic: bool = True):
    """A compiled version of ``fn`` (a function or an ``nn.Module``).

    ``backend``: ``"interpret"`` (the reference interpreter, for debugging and as the oracle),
    ``"numba"`` (generated code; the default) or a callable ``graph -> callable``.
    ``dynamic=True`` makes the first dim of every tensor argument symbolic, so a new batch size
    does not recompile. Used bare or as a decorator (``@gradc.compile(backend=...)``).
    """
    if fn is None:
        return lambda f: compile(f, backend=backend, dynamic=dynamic)
    make = get_backend(backend)
    if hasattr(fn, "named_parameters") and hasattr(fn, "forward"):
        return CompiledModule(fn, make, dynamic=dynamic)
    return CompiledFunction(fn, make, dynamic=dynamic)


__all__ = [
    "compile",
    "CompiledFunction",
    "CompiledModule",
    "BACKENDS",
    "COUNTERS",
    "register_backend",
]
