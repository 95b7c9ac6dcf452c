"""Errors users see: each names the op, its input types and the user's own source line."""

from __future__ import annotations

import functools
import linecache
import os
import reprlib
import sys
import sysconfig

_PKG_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class GradcError(RuntimeError):
    """Base of every error gradc raises on bad input.

    A RuntimeError, as nearly every error torch raises is, so code written for torch
    (``except RuntimeError``) catches gradc's; subclasses add the builtin torch raises where it
    raises another (IndexError for dims and indices out of range, TypeError, ValueError)."""

    def __init__(self, msg: str = "", *, op: str | None = None, where: str | None = None):
        self.msg, self.op, self.where = msg, op, where
        super().__init__(self._text())

    def _text(self) -> str:
        text = f"{self.op}: {self.msg}" if self.op else self.msg
        return f"{text}\n  at {self.where}" if self.where else text

    def with_context(self, op: str | None = None, where: str | None = None) -> GradcError:
        """Fill in the op and the user's line if an inner layer did not know them."""
        self.op = self.op or op
        self.where = self.where or where or user_location()
        self.args = (self._text(),)
        return self

    def __str__(self) -> str:
        return self._text()


class ShapeError(GradcError, ValueError):
    """Shapes that do not fit the op (broadcast, matmul inner dims, reshape size, dim range)."""


class IndexRangeError(ShapeError, IndexError):
    """A dim or an index out of range (torch raises IndexError for these)."""


class ArgumentError(GradcError, ValueError):
    """An argument value the function does not accept (a reduction name, a probability out of
    range, a negative slice step): torch raises ValueError for these."""


class DTypeError(GradcError, TypeError):
    """A dtype the op does not accept, or a mix it does not allow."""


class DeviceError(GradcError, RuntimeError):
    """A device this build cannot run on, or tensors on different devices."""


class AutogradError(GradcError, RuntimeError):
    """Misuse of autograd: backward twice, non-scalar backward, in-place on a leaf."""


class TraceError(GradcError, RuntimeError):
    """Something a graph cannot express, such as control flow on tensor values."""


_ENTRY_POINTS: set = set()  # code of gradc's own programs (``gradc dump``): no user code above
_LIBRARY_DIRS = tuple(
    {os.path.join(os.path.realpath(p), "") for k, p in sysconfig.get_paths().items() if "lib" in k}
)


def entry_point(fn):
    """Mark ``fn`` as a program's entry point: frames above it are the interpreter's start-up
    (``runpy``, a console script), never the user's code, so a model built only of gradc's own
    modules gets no location rather than ``<frozen runpy>:88``."""
    _ENTRY_POINTS.add(fn.__code__)
    return fn


def user_frame():
    """The innermost stack frame outside the gradc package: the user's call site (None when
    gradc's own entry point called gradc code with no user code in between)."""
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
        if f.f_code in _ENTRY_POINTS:
            return None
        f = f.f_back
    return f


def is_user_file(filename: str) -> bool:
    """Neither gradc, the standard library, installed packages nor a ``<frozen ...>`` module."""
    if filename.startswith("<") or filename.startswith(_PKG_DIR):
        return False
    return not os.path.realpath(filename).startswith(_LIBRARY_DIRS)


def traceback_location(tb) -> str | None:
    """``file:line: source`` of the innermost user frame in a traceback: where a foreign error
    (a TypeError from sympy or the stdlib) entered from the user's code."""
    where = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if is_user_file(filename):
            src = linecache.getline(filename, tb.tb_lineno).strip()
            where = f"{filename}:{tb.tb_lineno}" + (f": {src}" if src else "")
        tb = tb.tb_next
    return where


def location_of(frame) -> str | None:
    if frame is None:
        return None
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def user_location() -> str | None:
    """``file:line: source`` of the user's call site, for error messages."""
    f = user_frame()
    if f is None:
        return None
    src = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
    loc = location_of(f)
    return f"{loc}: {src}" if src else loc


def tensor_types(args, kwargs) -> str:
    """``f32[2,3], f32[4]``: the types of the tensors among ``args`` (lists included)."""
    from gradc._tensor import Tensor

    flat = [b for a in args for b in (a if isinstance(a, (list, tuple)) else (a,))]
    return ", ".join(str(a.type) for a in flat if isinstance(a, Tensor))


def argument_values(args, kwargs) -> str:
    """The arguments themselves, shortened: for functions that take no tensors."""
    shown = [reprlib.repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return ", ".join(shown)


def with_op_context(fn, describe=tensor_types):
    """Wrap a public function so a GradcError raised inside names the function, its inputs
    (``describe(args, kwargs)``) and the user's line."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GradcError as e:
            raise e.with_context(op=f"{fn.__name__}({describe(args, kwargs)})") from None

    return wrapper
