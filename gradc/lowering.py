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
import sys
from pathlib import Path

import numpy as np

from gradc.errors import DeviceError, GradcError, IndexRangeError, ShapeError

TARGET = "cpu"


@functools.cache
def _versions() -> str:
    import numba

    import gradc

    return f"gradc {gradc.__version__}, numba {numba.__version__}, numpy {np.__version__}"


def _directory():
    """The cache folder of this code generator, these versions and numba's optimisation level
    (numba's own cache key ignores it: code compiled at -O0, as in the tests, must not be loaded
    at -O3). Kernel modules inside are named by their text alone."""
    import numba

    import runtime

    tag = hashlib.sha256(f"{_versions()}\0{_codegen_digest()}".encode()).hexdigest()[:12]
    return runtime.cache_dir(f"numba-O{int(numba.config.OPT)}-{tag}")


@functools.cache
def _codegen_digest() -> str:
    """A hash of the code generator's own source: a new generator never reuses old modules."""
    import codegen

    h = hashlib.sha256()
    _hash_tree(h, Path(codegen.__file__).parent)
    h.update(Path(__file__).read_bytes())
    h.update((Path(__file__).parent / "passes" / "plan.py").read_bytes())
    return h.hexdigest()


@functools.cache
def _compiler_digest() -> str:
    """A hash of all of gradc's source (ops, passes, plan) and the code generator's: a program
    found by the graph the user traced was made from that graph by this very compiler."""
    h = hashlib.sha256(_codegen_digest().encode())
    _hash_tree(h, Path(__file__).parent)
    return h.hexdigest()


def _hash_tree(h, root: Path) -> None:
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())


def graph_text(graph) -> str:
    """The graph's printed text without source locations (comments): what the cache keys on."""
    from gradc.ir.printer import format_graph

    return "\n".join(re.sub(r"\s+#.*$", "", line) for line in format_graph(graph).split("\n"))


def cache_key(graph, target: str = TARGET, donate: dict | None = None) -> tuple[str, str]:
    """``(key, graph_hash)``: the full hash of graph text, pointwise op definitions, target,
    donated outputs, versions and code generator; and a short hash of the graph alone for the
    header."""
    text = graph_text(graph)
    extra = repr(sorted((donate or {}).items()))
    h = _hashed(text, *_pointwise(graph), target, extra, _versions(), _codegen_digest())
    return h.hexdigest(), hashlib.sha256(text.encode()).hexdigest()[:16]


def traced_key(graph, target: str = TARGET, donate: dict | None = None, optimize=True) -> str:
    """The key of a program by the graph before the passes (its manifest's name): the graph's
    text, its pointwise definitions and every array attribute in full (the printer abbreviates
    big constants), the lowering's options, versions and the whole compiler's source."""
    extra = repr((sorted((donate or {}).items()), bool(optimize)))
    parts = (graph_text(graph), *_pointwise(graph), target, extra, _versions(), _compiler_digest())
    h = _hashed(*parts)
    for n in graph.nodes:
        for k, a in n.attrs.items():
            if isinstance(a, np.ndarray | np.generic):
                h.update(f"{k}{a.dtype.str}{a.shape}".encode())
                h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _pointwise(graph) -> list[str]:
    """The definitions of the graph's pointwise ops (a user's op of an old name may change)."""
    return sorted({f"{n.op.name}={n.op.expr}" for n in graph.nodes if n.op.kind == "pointwise"})


def _hashed(*parts: str):
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h


def kernel_module_name(text: str) -> str:
    """A kernel module's name: a hash of its text (the folder it lives in names the code
    generator and versions, see ``_directory``)."""
    return "gradc_k_" + hashlib.sha256(text.encode()).hexdigest()[:40]


_LOADED: dict = {}  # key -> (module, path, content, {kernel module: text}): one import per process
_FOUND: dict = {}  # traced key -> (manifest meta, constants): manifests read by this process


class Program:
    """A lowered graph: call it like the interpreter; ``.source`` and ``.path`` show the module.

    ``.graph`` is the optimized graph it was generated from and ``.plan`` its plan; ``.kernels``
    the numba functions it calls (``.signatures``: each one's compiled specialisations, one
    whatever the batch size). ``prog(*inputs, out=[...])`` writes outputs into arrays the caller
    hands in (None: any). A program found by its manifest (a warm start) runs no pass unless
    ``.graph`` or ``.plan`` is asked for."""

    def __init__(self, traced, options, module, source, path, key, kernels, found, made=None):
        """``traced``: the graph as lowered, with ``options`` ``(optimize, donate)``; ``found``:
        ``(constants, donated outputs)``; ``made``: ``(graph, plan)`` when the passes ran."""
        import runtime

        self.module, self.source, self.path, self.key = module, source, path, key
        self.kernels, self.name = kernels, traced.name
        self._traced, self._options, self._made = traced, options, made
        consts, self._donated = found
        self._spec = [(v.type.dtype.np, v.type.ndim) for v in traced.inputs]  # passes keep inputs
        timings = int(os.environ.get("GRADC_DEBUG", "0") or 0) >= 1
        self.runner = runtime.Runner(
            module, consts, blas="np.dot(" in source, timings=timings, name=traced.name
        )

    @property
    def graph(self):
        return self._optimized()[0]

    @property
    def plan(self):
        return self._optimized()[1]

    def _optimized(self) -> tuple:
        if self._made is None:
            optimize, donate = self._options
            graph, plan, _, _ = generate(self._traced, optimize=optimize, donate=donate)
            self._made = (graph, plan)
        return self._made

    def __deepcopy__(self, memo):
        """Shared, not copied: machine code never changes, and state comes in as arguments (a
        deep copy of a compiled module keeps its programs, as the interpreter keeps its graph)."""
        return self

    @property
    def signatures(self) -> list:
        return [list(k.signatures) for k in self.kernels]

    def __call__(self, *args, out=None, **named) -> list[np.ndarray]:
        arrays = None if named else self._ready(args)
        if arrays is None:
            arrays = self._bind(args, named)
        if self._donated:
            _unshare(arrays, self._donated)
        try:
            return self.runner(arrays, out)
        except ValueError as e:
            ins = self._traced.inputs
            got = ", ".join(f"{v.name}: {list(a.shape)}" for v, a in zip(ins, arrays))
            raise ShapeError(f"{e} (got {got})") from None
        except IndexError as e:  # a generated bounds check (embedding's indices)
            raise IndexRangeError(f"{e} (program for graph {self.name})") from None

    def _ready(self, args) -> list | None:
        """``args`` as they are when each is already what the program takes (a contiguous,
        writeable ndarray of the input's dtype and rank: a compiled step's every call), else
        None. ~40 us less per LeNet step than binding them one by one."""
        spec = self._spec
        if len(args) != len(spec):
            return None
        for a, (dt, nd) in zip(args, spec):
            if type(a) is not np.ndarray or a.dtype != dt or a.ndim != nd:
                return None
            f = a.flags
            if not (f.c_contiguous and f.writeable):
                return None
        return list(args)

    def _bind(self, args, named) -> list:
        from gradc.ir.interpret import _bind_inputs

        arrays = _bind_inputs(self._traced, args, named)
        for k, (v, a) in enumerate(zip(self._traced.inputs, arrays)):
            if a.ndim != v.type.ndim:
                raise ShapeError(
                    f"input {v.name} has {a.ndim} dims {list(a.shape)}, but the program expects "
                    f"{v.type.ndim}: {v.type}"
                )
            if not a.flags.c_contiguous or not a.flags.writeable:
                arrays[k] = np.array(a, order="C")
        return arrays

    def __repr__(self) -> str:
        return f"<Program {self.name}: {len(self.kernels)} kernels, {self.path}>"


def _unshare(arrays: list, donated: list[int]) -> None:
    """A donated input is overwritten in place: if another input is the same memory (the same
    array, or views of one base), the program gets a copy of it instead."""
    roots = [id(a) if a.base is None else id(a.base) for a in arrays]  # numpy's base is the owner
    if len(set(roots)) == len(roots):
        return  # every input its own memory: the usual case, checked at C speed
    seen: dict = {}
    for a in arrays:
        for key in {id(a), id(a.base) if a.base is not None else id(a)}:
            seen[key] = seen.get(key, 0) + 1
    for k in donated:
        a = arrays[k]
        if seen[id(a)] > 1 or (a.base is not None and seen[id(a.base)] > 1):
            arrays[k] = a.copy()


def generate(graph, *, optimize: bool = True, donate: dict | None = None):
    """``(graph, plan, source, key)``: the passes, the plan and the generated text, without
    loading anything (``gradc dump --stage cpu``)."""
    from codegen.cpu.module import generate as generate_module
    from codegen.exprs import CodegenError
    from gradc.passes import fuse
    from gradc.passes import optimize as run_passes
    from gradc.passes.plan import plan as make_plan

    graph, groups = run_passes(graph) if optimize else fuse(graph)
    key, graph_hash = cache_key(graph, donate=donate)
    p = make_plan(graph, groups, donate)
    try:
        src = generate_module(p, graph_hash=graph_hash, module_name=kernel_module_name)
    except CodegenError as e:
        raise GradcError(f"cannot lower graph {graph.name}: {e}") from None
    # and the text itself: the plan's passes (memory, parallel) shape it beyond the digest
    return graph, p, src, _hashed(key, src.text).hexdigest()


def full_text(src) -> str:
    """The program module followed by the kernel modules it imports, each under its name."""
    return _joined(src.text, {name: ks.text for name, ks in src.kernels.items()})


def _joined(text: str, kernels: dict) -> str:
    parts = [text]
    for name, ktext in kernels.items():
        parts.append(f"# ---- {name}.py\n{ktext}")
    return "\n\n".join(parts)


def lower(graph, device: str = "cpu", *, optimize: bool = True, donate=None) -> Program:
    """Compile ``graph`` to a numba program for ``device`` (only ``"cpu"`` for now).

    The passes run first (``optimize=False`` skips all but fusion grouping); the modules are
    written to (or found in) the disk cache and imported, which compiles each kernel (or loads
    its machine code). ``donate`` (output index -> input index) lets the program write new values
    of state into the input arrays they replace. A graph lowered before (by any process sharing
    the cache) is found by its manifest: no pass and no code generation run again."""
    if device != "cpu":
        raise DeviceError(f"gradc.lower supports device='cpu' only, not {device!r}")
    options = (optimize, donate)
    pre = traced_key(graph, donate=donate, optimize=optimize)
    prog = _found(graph, options, pre)
    if prog is not None:
        return prog
    opt, p, src, key = generate(graph, optimize=optimize, donate=donate)
    if key not in _LOADED:
        import runtime

        deps = {name.removeprefix("gradc_"): ks.text for name, ks in src.kernels.items()}
        module, path, content = runtime.load(key, src.text, _directory(), deps=deps)
        _LOADED[key] = (module, path, content, {n: ks.text for n, ks in src.kernels.items()})
    # np.array, not np.ascontiguousarray: that one turns a 0-d constant into shape (1,)
    consts = [np.array(n.attrs["value"], order="C") for n in p.constants]
    mem = p.memory
    donated = sorted({mem.of(v).index for v in opt.outputs if mem.of(v).kind == "donated"})
    _remember(pre, key, list(src.kernels), consts, donated)
    return _program(graph, options, key, (consts, donated), (opt, p))


def _program(traced, options, key, found, made=None) -> Program:
    import runtime

    module, path, content, texts = _LOADED[key]
    text = _joined(runtime.body(content), texts)
    if int(os.environ.get("GRADC_DEBUG", "0") or 0) >= 4:
        print(text, file=sys.stderr)
    kernels = [sys.modules[name].kernel for name in texts]
    return Program(traced, options, module, text, path, key, kernels, found, made)


def _remember(pre: str, key: str, names: list, consts: list, donated: list) -> None:
    """Write the manifest that finds this program by its traced graph (not when a constant
    cannot be stored without pickling: that program is generated again next time)."""
    import runtime

    meta = {"key": key, "kernels": names, "donated": donated}
    _FOUND[pre] = (meta, consts)
    if all(c.dtype.kind in "biufc" for c in consts):
        runtime.store_manifest(pre, meta, consts, _directory())


def _found(traced, options, pre: str) -> Program | None:
    """The program a manifest names, with its modules imported; None if any part is missing or
    fails its checksum (then it is generated, and its files rewritten)."""
    import runtime

    hit = _FOUND.get(pre) or runtime.load_manifest(pre, _directory())
    if hit is None:
        return None
    meta, consts = hit
    key, names = meta["key"], meta["kernels"]
    if key not in _LOADED:
        deps = [name.removeprefix("gradc_") for name in names]
        stored = runtime.load_stored(key, deps, _directory())
        if stored is None:
            return None
        module, path, content, dep_contents = stored
        _LOADED[key] = (module, path, content, dict(zip(names, map(runtime.body, dep_contents))))
    _FOUND[pre] = hit
    return _program(traced, options, key, (consts, meta["donated"]))
