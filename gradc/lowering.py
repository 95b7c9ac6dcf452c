"""The compiler driver: ``gradc.lower(graph, device="cpu") -> Program`` (``gradc/lowering.py``).

It joins the two sides that never import each other: the passes and ``codegen`` turn the graph
into module text, ``runtime`` writes that text into the on-disk cache and imports it. A
``Program`` is called like the interpreter (``interpret(graph, *args, **named)``) and returns the
list of outputs.

>>> N = gradc.Dim("N")
>>> g = gradc.trace(net, gradc.TensorSpec((N, 4)))
>>> prog = gradc.lower(g)             # doctest: +SKIP
>>> (y,) = prog(x, **params)          # any batch size, one compile
>>> print(prog.source)                # the module as numba compiled it; prog.path is its file
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path

import numpy as np

from gradc.errors import DeviceError, GradcError, IndexRangeError, ShapeError

TARGET = "cpu"


@functools.cache
def _versions() -> str:
    import numba

    import gradc

    return f"gradc {gradc.__version__}, numba {numba.__version__}, numpy {np.__version__}"


@functools.cache
def _codegen_digest() -> str:
    """A hash of the code generator's own source: a new generator never reuses old modules."""
    import codegen

    h = hashlib.sha256()
    root = Path(codegen.__file__).parent
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    h.update(Path(__file__).read_bytes())
    h.update((Path(__file__).parent / "passes" / "plan.py").read_bytes())
    return h.hexdigest()


def graph_text(graph) -> str:
    """The graph's printed text without source locations (comments): what the cache keys on."""
    from gradc.ir.printer import format_graph

    return "\n".join(re.sub(r"\s+#.*$", "", line) for line in format_graph(graph).split("\n"))


def cache_key(graph, target: str = TARGET) -> tuple[str, str]:
    """``(key, graph_hash)``: the full hash of graph text, pointwise op definitions, target,
    versions and code generator; and a short hash of the graph alone for the header."""
    text = graph_text(graph)
    exprs = sorted({f"{n.op.name}={n.op.expr}" for n in graph.nodes if n.op.kind == "pointwise"})
    h = hashlib.sha256()
    for part in (text, *exprs, target, _versions(), _codegen_digest()):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest(), hashlib.sha256(text.encode()).hexdigest()[:16]


_LOADED: dict = {}  # key -> (module, path, content): one import per process


class Program:
    """A lowered graph: call it like the interpreter; ``.source`` and ``.path`` show the module.

    ``.graph`` is the optimized graph it was generated from, ``.signatures`` the numba
    specialisations of its entry function (one, whatever the batch size)."""

    def __init__(self, graph, plan, fn, source: str, path: Path, key: str):
        self.graph, self.plan, self.fn = graph, plan, fn
        self.source, self.path, self.key = source, path, key
        # np.array, not np.ascontiguousarray: that one turns a 0-d constant into shape (1,)
        self._consts = [np.array(n.attrs["value"], order="C") for n in plan.constants]
        self._blas = "np.dot(" in source  # only then limit BLAS threads around a call

    @property
    def signatures(self) -> list:
        return list(self.fn.signatures)

    def __call__(self, *args, **named) -> list[np.ndarray]:
        from gradc.ir.interpret import _bind_inputs

        arrays = _bind_inputs(self.graph, args, named)
        for k, (v, a) in enumerate(zip(self.graph.inputs, arrays)):
            if a.ndim != v.type.ndim:
                raise ShapeError(
                    f"input {v.name} has {a.ndim} dims {list(a.shape)}, but the program expects "
                    f"{v.type.ndim}: {v.type}"
                )
            if not a.flags.c_contiguous or not a.flags.writeable:
                arrays[k] = np.array(a, order="C")
        params = arrays + self._consts
        try:
            if self._blas:
                import runtime

                with runtime.single_threaded_blas():
                    outs = self.fn(*params)
            else:
                outs = self.fn(*params)
        except ValueError as e:
            got = ", ".join(f"{v.name}: {list(a.shape)}" for v, a in zip(self.graph.inputs, arrays))
            raise ShapeError(f"{e} (got {got})") from None
        except IndexError as e:  # a generated bounds check (embedding's indices)
            raise IndexRangeError(f"{e} (program for graph {self.graph.name})") from None
        return list(outs)

    def __repr__(self) -> str:
        return f"<Program {self.graph.name}: {len(self.plan.kernels)} kernels, {self.path}>"


def lower(graph, device: str = "cpu", *, optimize: bool = True) -> Program:
    """Compile ``graph`` to a numba program for ``device`` (only ``"cpu"`` for now).

    The passes run first (``optimize=False`` skips all but fusion grouping); the module is
    written to (or found in) the disk cache and imported. numba compiles on the first call."""
    from codegen.cpu.module import generate
    from codegen.exprs import CodegenError
    from gradc.passes import fuse
    from gradc.passes import optimize as run_passes
    from gradc.passes.plan import plan as make_plan

    if device != "cpu":
        raise DeviceError(f"gradc.lower supports device='cpu' only, not {device!r}")
    graph, groups = run_passes(graph) if optimize else fuse(graph)
    key, graph_hash = cache_key(graph)
    p = make_plan(graph, groups)
    hit = _LOADED.get(key)
    if hit is None:
        try:
            src = generate(p, graph_hash=graph_hash)
        except CodegenError as e:
            raise GradcError(f"cannot lower graph {graph.name}: {e}") from None
        import runtime

        module, path, content = runtime.load(key, src.text)
        hit = _LOADED[key] = (module, path, content, src.entry)
    module, path, content, entry = hit
    if int(os.environ.get("GRADC_DEBUG", "0") or 0) >= 4:
        print(content)
    return Program(graph, p, getattr(module, entry), content, path, key)
