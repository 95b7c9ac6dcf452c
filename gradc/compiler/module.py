"""``CompiledModule``: what ``gradc.compile(module)`` returns.

It is the module for everything but calling: parameters, ``state_dict``, ``load_state_dict``,
``train()``/``eval()``, attributes and ``print`` all go to the wrapped module (so checkpoints
keep their keys), while a call runs the compiled forward graph, whose outputs carry a
``grad_fn`` running the compiled backward graph.
"""

from __future__ import annotations

from gradc.compiler.function import CompiledFunction


class CompiledModule:
    """``gradc.compile(net)``; the original module is ``._orig_mod`` (as in torch)."""

    def __init__(self, module, backend, *, dynamic: bool = True):
        object.__setattr__(self, "_orig_mod", module)
        compiled = CompiledFunction(
            module, backend, dynamic=dynamic, module=module, name=type(module).__name__
        )
        object.__setattr__(self, "_compiled", compiled)

    def __call__(self, *args, **kwargs):
        return self._compiled(*args, **kwargs)

    forward = __call__

    @property
    def compiles(self) -> int:
        """How many times this module was traced and compiled (one per guard set)."""
        return self._compiled.compiles

    def train(self, mode: bool = True):
        self._orig_mod.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def __getattr__(self, name):
        if name in ("_orig_mod", "_compiled"):  # not set yet (copy, unpickling): no recursion
            raise AttributeError(name)
        attr = getattr(self._orig_mod, name)
        if callable(attr) and getattr(attr, "__self__", None) is self._orig_mod:

            def method(*args, **kwargs):  # ``c.double()`` returns c, as ``net.double()`` is net
                out = attr(*args, **kwargs)
                return self if out is self._orig_mod else out

            return method
        return attr

    def __setattr__(self, name, value) -> None:
        setattr(self._orig_mod, name, value)

    def __getitem__(self, k):
        return self._orig_mod[k]

    def __len__(self) -> int:
        return len(self._orig_mod)

    def __iter__(self):
        return iter(self._orig_mod)

    def __repr__(self) -> str:
        return repr(self._orig_mod)

    def __dir__(self):
        return sorted(set(dir(self._orig_mod)) | {"_orig_mod", "compiles"})
