"""Whether ops record the autograd tape: ``no_grad``, ``enable_grad``, ``set_grad_enabled``."""

from __future__ import annotations

import functools
import threading

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


def _set(enabled: bool) -> None:
    _state.enabled = enabled


class _GradMode:
    """Context manager and decorator, as in PyTorch."""

    _mode = True

    def __new__(cls, *args):
        if cls is not set_grad_enabled and len(args) == 1 and callable(args[0]):
            return cls()(args[0])  # bare ``@no_grad`` (torch >= 2.0), not only ``@no_grad()``
        return super().__new__(cls)

    def __init__(self):
        self._prev = []

    def __enter__(self):
        self._prev.append(is_grad_enabled())
        _set(self._mode)
        return self

    def __exit__(self, *exc):
        _set(self._prev.pop())
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """``with gradc.no_grad():`` or ``@gradc.no_grad()``: ops inside record no gradients."""

    _mode = False


class enable_grad(_GradMode):
    """Turn recording back on inside a ``no_grad`` block."""

    _mode = True


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)`` acts at once (like torch) and also works as a context manager."""

    def __init__(self, mode: bool):
        super().__init__()
        self._mode = bool(mode)
        self._prev.append(is_grad_enabled())
        _set(self._mode)

    def __enter__(self):
        return self

    def __call__(self, fn):
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper
