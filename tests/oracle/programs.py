"""Draw random straight-line programs over the API gradc shares with torch.

The drawer runs each line on torch as it goes (torch is the oracle, so it may as well answer
what shape a value has): a line that torch rejects ends the program, and the comparison then
checks that gradc rejects it too. Every line is text over ``T`` / ``F`` (see ``harness``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from hypothesis import strategies as st

from tests.oracle.harness import Line, namespace

# float64 values: small numbers, ties (a grid of halves), zeros, and (when asked) nan and inf
GRID = st.integers(-6, 6).map(lambda k: k / 2)
SMOOTH = st.floats(-3, 3, allow_nan=False).map(lambda v: round(v, 3) + 0.0)  # + 0.0: no -0.0
# no -0.0: torch's reductions pick either zero of a signed-zero tie (scalar vs vectorised
# loops), so 1 / max([0.0, -0.0]) has no answer to match
SPECIAL = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -40.0, 30.0, -800.0, 800.0])
SCALARS = st.sampled_from([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 3.0, 2, 3, -1])

# torch APIs gradc lacks: drawn on purpose, counted and listed, never a mismatch. Empty now: the
# first list (var, std, logsumexp, gelu, advanced indexing, ...) gradc gained in issue 11, pad
# in issue 13; a family for an API gradc lacks names it here.
LACKS: set[str] = set()


def _fmt(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
    return repr(v)


def _nested(a: np.ndarray) -> str:
    if a.ndim == 0:
        return _fmt(float(a))
    return "[" + ", ".join(_nested(r) for r in a) + "]"


class Program:
    """The lines drawn so far and a torch namespace that ran them."""

    def __init__(self, draw, special: bool, inplace: bool):
        self.draw, self.special, self.inplace = draw, special, inplace
        self.lines: list[Line] = []
        self.leaves: list[str] = []
        self.ns = namespace("torch")
        self.done = False
        self.n = 0

    def fresh(self, prefix="v") -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def run(self, source: str, op: str) -> bool:
        """Append a line and run it on torch; False (and the program ends) if torch raised."""
        self.lines.append(Line(source, op))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(source, self.ns)
        except Exception:  # noqa: BLE001 - the comparison checks that gradc raises too
            self.done = True
            return False
        return True

    def tensors(self, kind="f", min_ndim=0, max_ndim=9):
        T = self.ns["T"]
        out = []
        for k, v in self.ns.items():
            if isinstance(v, T.Tensor) and min_ndim <= v.ndim <= max_ndim:
                dt = v.dtype
                if (kind == "f") == dt.is_floating_point and (kind != "b" or dt == T.bool):
                    out.append(k)
        return out

    def shape(self, name) -> tuple:
        return tuple(self.ns[name].shape)

    def pick(self, kind="f", min_ndim=0, max_ndim=9):
        names = self.tensors(kind, min_ndim, max_ndim)
        return self.draw(st.sampled_from(names)) if names else None

    # ---- leaves --------------------------------------------------------------------------------
    def values(self, shape, elements=None) -> str:
        draw = self.draw
        if elements is None:
            kinds = [GRID, SMOOTH] + ([SPECIAL] if self.special else [])
            elements = st.one_of(*kinds)
        n = math.prod(shape)
        vals = np.array(draw(st.lists(elements, min_size=n, max_size=n)), dtype=np.float64)
        return _nested(vals.reshape(shape))

    def leaf(self, shape, requires_grad=None, elements=None) -> str:
        name = self.fresh("x")
        if requires_grad is None:
            requires_grad = self.draw(st.integers(0, 4)) > 0
        rg = ", requires_grad=True" if requires_grad else ""
        if math.prod(shape) == 0:
            src = f"{name} = T.zeros({', '.join(map(str, shape))}, dtype=T.float64{rg})"
        else:
            src = f"{name} = T.tensor({self.values(shape, elements)}, dtype=T.float64{rg})"
        self.run(src, "leaf")
        self.leaves.append(name)
        return name

    def ints(self, shape, lo, hi) -> str:
        name = self.fresh("i")
        n = math.prod(shape)
        vals = np.array(self.draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n)))
        body = _nested(vals.reshape(shape)).replace(".0", "") if n else "[]"
        src = f"{name} = T.tensor({body}, dtype=T.int64)"
        if n == 0:
            src = f"{name} = T.zeros({', '.join(map(str, shape))}, dtype=T.int64)"
        self.run(src, "leaf")
        return name

    def any_shape(self, min_ndim=0, max_ndim=3, empty=True):
        side = st.integers(0 if empty and self.draw(st.integers(0, 9)) == 0 else 1, 4)
        return tuple(self.draw(st.lists(side, min_size=min_ndim, max_size=max_ndim)))

    def operand(self, min_ndim=0, max_ndim=3):
        """An existing float tensor, or a new leaf."""
        name = self.pick("f", min_ndim, max_ndim)
        if name is None or self.draw(st.integers(0, 3)) == 0:
            name = self.leaf(self.any_shape(min_ndim, max_ndim))
        return name


def programs(special: bool = True, inplace: bool = False, max_lines: int = 10):
    """A strategy of ``(lines, leaves)``."""
    from tests.oracle import ops_more, ops_nn  # noqa: F401 (register their families)
    from tests.oracle.ops import OPS, WEIGHTS

    @st.composite
    def program(draw):
        p = Program(draw, special=special and draw(st.integers(0, 2)) == 0, inplace=inplace)
        for _ in range(draw(st.integers(1, 2))):
            p.leaf(p.any_shape())
        names = [k for k in OPS if inplace or k != "inplace"]
        weights = [WEIGHTS.get(k, 1) for k in names]
        total = sum(weights)
        for _ in range(draw(st.integers(1, max_lines))):
            if p.done:
                break
            # an op drawn with probability proportional to its weight
            r = draw(st.integers(0, total - 1))
            for name, w in zip(names, weights):
                if r < w:
                    OPS[name](p)
                    break
                r -= w
        return p.lines, p.leaves

    return program()
