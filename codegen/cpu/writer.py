"""``Writer``: indented source lines plus the helpers every lowering uses (names, dims, loops,
dtype conversion, broadcasting loads)."""

from __future__ import annotations

import contextlib

from codegen.exprs import CodegenError, int_code, shape_code

NP_DTYPES = {
    "float32": "np.float32",
    "float64": "np.float64",
    "int64": "np.int64",
    "int32": "np.int32",
    "uint8": "np.uint8",
    "bool": "np.bool_",
}  # float16 is missing: numba has no CPU float16 (``check_dtypes`` says so)
NB_TYPES = {k: "nt." + {"bool": "boolean"}.get(k, k) for k in NP_DTYPES}  # for signatures


def check_dtypes(graph) -> None:
    """Raise ``CodegenError`` naming the first value whose dtype numba cannot compute in."""
    for n in [None, *graph.nodes]:
        for v in graph.inputs if n is None else (*n.inputs, n.out):
            if v.type.dtype.name not in NP_DTYPES:
                where = "an input" if n is None else f"op {n.op.name}"
                raise CodegenError(
                    f"dtype {v.type.dtype.name} of {v.type} ({where}) has no numba CPU "
                    f"type; cast to float32 or float64 first (lowerable: {', '.join(NP_DTYPES)})"
                )


class Writer:
    """``names``: Value -> variable name; ``prealloc``: the names that are arrays handed in
    (a kernel's outputs): a lowering fills those instead of making new ones.

    ``hoist``: arrays a lowering needs for itself (``buffer``) become parameters, listed in
    ``scratch`` as ``(name, dims, dtype name)``, for the program's workspace to make once: a
    steady training loop then allocates nothing, in the kernels either."""

    def __init__(self, names: dict, indent: int = 1, prealloc=frozenset(), hoist=False):
        self.names = names
        self.prealloc = set(prealloc)
        self.hoist = hoist
        self.scratch: list[tuple[str, tuple, str]] = []
        self.reassociate = False  # a lowering's sums may be reordered (fastmath reassoc, contract)
        self.lines: list[str] = []
        self.depth = indent
        self._fresh = 0

    # ---- text ---------------------------------------------------------------------------
    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    @contextlib.contextmanager
    def block(self, header: str):
        self.line(header)
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def fresh(self, stem: str) -> str:
        self._fresh += 1
        return f"{stem}{self._fresh}"

    # ---- values, dims, dtypes -----------------------------------------------------------
    def name(self, v) -> str:
        return self.names[v]

    @staticmethod
    def dim(e) -> str:
        return int_code(e)

    @staticmethod
    def shape(v) -> str:
        return shape_code(v.type.shape)

    @staticmethod
    def dtype(v) -> str:
        return NP_DTYPES[v.type.dtype.name]

    @staticmethod
    def convert(code: str, dtype_name: str) -> str:
        """``code`` converted as numpy's ``astype`` would (bool: nonzero)."""
        if dtype_name == "bool":
            return f"(({code}) != 0)"
        return f"{NP_DTYPES[dtype_name]}({code})"

    def buffer(self, name: str, dims: tuple, dtype: str) -> None:
        """``name``: an array of ``dims`` (sympy dims over the shape symbols) and dtype name
        ``dtype``, contents undefined: a scratch parameter when hoisting, else made here."""
        if self.hoist:
            if all(name != n for n, _, _ in self.scratch):
                self.scratch.append((name, tuple(dims), dtype))
        else:
            self.line(f"{name} = np.empty({shape_code(dims)}, {NP_DTYPES[dtype]})")

    def empty(self, out: str, v) -> None:
        """``out`` as an array of ``v``'s shape (contents undefined)."""
        if out not in self.prealloc:
            self.buffer(out, v.type.shape, v.type.dtype.name)

    def zeros(self, out: str, v) -> None:
        self.empty(out, v)
        self.line(f"{out}[...] = 0")

    def copy(self, out: str, v, src: str) -> None:
        """``out`` (of ``v``'s type) a copy of the array ``src``, to update in place after;
        element by element (numba takes seconds to compile ``out[...] = src``)."""
        self.empty(out, v)
        with self.loops([self.dim(d) for d in v.type.shape]) as idx:
            at = self.index(idx)
            self.line(f"{out}{at} = {src}{at}")

    def assign(self, out: str, code: str) -> None:
        """``out`` holds the array ``code`` computes: a copy into a handed-in array, else the
        new array itself (no copy)."""
        if out in self.prealloc:
            self.line(f"{out}[...] = {code}")
        else:
            self.line(f"{out} = {code}")

    def dot(self, out: str, a: str, b: str) -> None:
        """``out = a @ b`` for 2-D float arrays through BLAS, into ``out`` if it is handed in."""
        if out in self.prealloc:
            self.line(f"np.dot({a}, {b}, {out})")
        else:
            self.line(f"{out} = np.dot({a}, {b})")

    # ---- loops and indexing -------------------------------------------------------------
    @contextlib.contextmanager
    def loops(self, dims: list[str], stem: str = "i"):
        """Nested ``for`` loops over ``dims`` (code strings); yields the index names."""
        idx = [self.fresh(stem) for _ in dims]
        depth = self.depth
        for i, d in zip(idx, dims):
            self.line(f"for {i} in range({d}):")
            self.depth += 1
        try:
            yield idx
        finally:
            self.depth = depth

    @staticmethod
    def index(idx: list[str]) -> str:
        """``[i, j]``, or ``[()]`` for a scalar."""
        return "[" + ", ".join(idx) + "]" if idx else "[()]"

    @staticmethod
    def broadcast_index(shape, out_shape, idx: list[str]) -> list[str]:
        """Indices into an operand of ``shape`` broadcast against a loop over ``out_shape``."""
        lead = len(out_shape) - len(shape)
        out = []
        for k, d in enumerate(shape):
            o = out_shape[lead + k]
            out.append("0" if (d == 1 and o != 1) else idx[lead + k])
        return out
