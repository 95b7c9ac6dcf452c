"""Backends of ``gradc.compile``: a backend takes a graph and returns a callable with the
interpreter's calling convention (arrays in graph-input order in, a list of arrays out).

``interpret`` runs the graph with the ops' numpy impls (the oracle, like torch.compile's
``aot_eager``); ``numba`` lowers it with the code generator (``gradc.lower``).
"""

from __future__ import annotations

import functools

from gradc.errors import GradcError
from gradc.ir.interpret import interpret

BACKENDS: dict = {}


def register_backend(name: str, make) -> None:
    """``make(graph) -> callable(*arrays) -> list[ndarray]``."""
    BACKENDS[name] = make


def get_backend(name: str):
    if callable(name):
        return name
    make = BACKENDS.get(name)
    if make is None:
        raise GradcError(
            f"unknown backend {name!r}; choose one of {', '.join(sorted(BACKENDS))}",
            op="gradc.compile",
        )
    return make


def _interpret(graph):
    return functools.partial(interpret, graph)


def _numba(graph, donate=None):
    from gradc.lowering import lower  # the code generator's seam: a Program, called like interpret

    return lower(graph, donate=donate)


_numba.donates = True  # writes new values of state in place, and takes ``out=`` arrays


register_backend("interpret", _interpret)
register_backend("numba", _numba)
