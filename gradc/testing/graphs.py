"""``graphs()``: a hypothesis strategy for random valid models built from the op table.

Each draw is ``(graph, inputs)``: a traced graph (a DAG of pointwise ops, a user sympy op,
broadcasting, reductions, reshapes, permutes, slices, matmul, conv2d, pooling and cat, with
every shape derived by the ops' ``infer``) and float arrays for its inputs. Use it to fuzz a
backend or your own ops against the interpreter:

>>> from hypothesis import given
>>> from gradc.testing.strategies import graphs
>>> @given(graphs())
... def test_backend(case):
...     graph, inputs = case
...     assert all(np.allclose(a, b) for a, b in
...                zip(gradc.lower(graph)(*inputs), interpret(graph, *inputs)))
"""

from __future__ import annotations

import numpy as np
import sympy
from hypothesis import strategies as st

import gradc
import gradc.nn.functional as F

USER_OP = "testing_softclip"


def user_op():
    """A pointwise op registered from a sympy expression, as a user would (once per process)."""
    from gradc.ops import OPS

    if USER_OP not in OPS:
        x = sympy.Symbol("x", real=True)
        gradc.elementwise(
            USER_OP, lambda x: sympy.Piecewise((x / (1 + sympy.Abs(x)), x > -1), (x / 2, True))
        )
        del x
    op = OPS[USER_OP]
    return lambda t: gradc.dispatch.apply(op, t)


def _broadcast_partner(draw, shape):
    """A shape that broadcasts against ``shape`` (dims dropped from the front or set to 1)."""
    k = draw(st.integers(0, len(shape)))
    return tuple(1 if draw(st.booleans()) else d for d in shape[len(shape) - k :])


class _Builder:
    """Applies drawn ops to a pool of traced values; each rule returns a new value or None."""

    def __init__(self, draw, rng, dtype):
        self.draw, self.rng, self.dtype = draw, rng, dtype

    def const(self, shape):
        return gradc.tensor(self.rng.uniform(-1, 1, shape), dtype=self.dtype)

    def pick(self, pool, pred=lambda t: True):
        cands = [t for t in pool if pred(t)]
        return self.draw(st.sampled_from(cands)) if cands else None

    # -- rules ---------------------------------------------------------------------------
    def unary(self, pool):
        x = self.pick(pool)
        fn = self.draw(
            st.sampled_from(
                [
                    gradc.relu,
                    gradc.tanh,
                    gradc.sigmoid,
                    gradc.abs,
                    gradc.neg,
                    lambda t: gradc.exp(gradc.tanh(t)),
                    lambda t: gradc.log(gradc.abs(t) + 0.5),
                    lambda t: gradc.sqrt(t * t + 1),
                    lambda t: gradc.sin(t) * gradc.cos(t),
                    lambda t: t * 3.0 - 1,
                    user_op(),
                ]
            )
        )
        return fn(x)

    def binary(self, pool):
        a = self.pick(pool)
        others = [t for t in pool if _broadcasts(t.shape, a.shape)]
        b = self.draw(st.sampled_from(others)) if others and self.draw(st.booleans()) else None
        if b is None:
            b = self.const(_broadcast_partner(self.draw, tuple(a.shape)))
        fn = self.draw(
            st.sampled_from(
                [
                    gradc.add,
                    gradc.sub,
                    gradc.mul,
                    gradc.maximum,
                    gradc.minimum,
                    lambda p, q: p / (q * q + 1),
                    lambda p, q: gradc.where(p > q, p, q * 2),
                ]
            )
        )
        return fn(a, b)

    def reduce(self, pool):
        x = self.pick(pool, lambda t: t.ndim >= 1)
        if x is None:
            return None
        dims = self.draw(st.lists(st.integers(0, x.ndim - 1), min_size=1, unique=True))
        keep = self.draw(st.booleans())
        fn = self.draw(st.sampled_from([gradc.sum, gradc.amax, gradc.amin, gradc.mean]))
        return fn(x, tuple(sorted(dims)), keepdim=keep)

    def reshape(self, pool):
        x = self.pick(pool, lambda t: t.ndim >= 1)
        if x is None:
            return None
        kind = self.draw(st.sampled_from(["flatten", "permute", "slice", "unsqueeze", "expand"]))
        if kind == "flatten":
            return x.reshape(-1) if x.ndim < 3 else x.reshape(*x.shape[:-2], -1)
        if kind == "permute":
            return x.permute(*self.draw(st.permutations(range(x.ndim))))
        if kind == "unsqueeze":
            return x.unsqueeze(self.draw(st.integers(0, x.ndim)))
        if kind == "expand":
            return x.unsqueeze(0).expand(2, *x.shape)
        d = self.draw(st.integers(0, x.ndim - 1))
        size = x.shape[d]
        start = self.draw(st.integers(0, size - 1))
        step = self.draw(st.integers(1, 2))
        idx = (slice(None),) * d + (slice(start, size, step),)
        return x[idx]

    def matmul(self, pool):
        a = self.pick(pool, lambda t: t.ndim >= 2)
        if a is None:
            return None
        b = self.pick(pool, lambda t: t.ndim == 2 and t.shape[0] == a.shape[-1])
        if b is None or self.draw(st.booleans()):
            b = self.const((a.shape[-1], self.draw(st.integers(1, 4))))
        return gradc.matmul(a, b)

    def window(self, pool):
        x = self.pick(pool, lambda t: t.ndim == 4 and t.shape[2] >= 2 and t.shape[3] >= 2)
        if x is None:
            return None
        kind = self.draw(st.sampled_from(["conv", "max", "avg"]))
        if kind == "conv":
            c = x.shape[1]
            o = self.draw(st.integers(1, 3))
            k = (self.draw(st.integers(1, 2)), self.draw(st.integers(1, 2)))
            w = self.const((o, c, *k))
            b = self.const((o,)) if self.draw(st.booleans()) else None
            return F.conv2d(
                x, w, b, stride=self.draw(st.integers(1, 2)), padding=self.draw(st.integers(0, 1))
            )
        k = self.draw(st.integers(1, 2))
        if kind == "max":
            return F.max_pool2d(x, k, padding=self.draw(st.integers(0, k // 2)))
        return F.avg_pool2d(x, k)

    def cat(self, pool):
        a = self.pick(pool, lambda t: t.ndim >= 1)
        if a is None:
            return None
        d = self.draw(st.integers(0, a.ndim - 1))
        b = self.pick(
            pool,
            lambda t: (
                t.ndim == a.ndim and all(t.shape[k] == a.shape[k] for k in range(a.ndim) if k != d)
            ),
        )
        return gradc.cat([a, b if b is not None else a * 2], d)


def _broadcasts(s, t) -> bool:
    return all(a == b or a == 1 or b == 1 for a, b in zip(reversed(s), reversed(t)))


RULES = ("unary", "binary", "reduce", "reshape", "matmul", "window", "cat")


@st.composite
def graphs(draw, max_ops: int = 6, dtype=gradc.float64, rules=RULES, models: int = 1):
    """``(graph, inputs)``: a random model of up to ``max_ops`` drawn ops and its inputs.

    ``models > 1`` puts that many independent models (each on its own inputs, with its own
    outputs) into one graph: one compile then checks them all."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    plans = []
    for _ in range(models):
        n_in = draw(st.integers(1, 2))
        shapes = []
        for i in range(n_in):
            nd = draw(st.sampled_from([1, 2, 3, 4, 4])) if i == 0 else draw(st.integers(0, 3))
            shapes.append(tuple(draw(st.integers(1, 5 if nd == 4 else 4)) for _ in range(nd)))
        plans.append((shapes, draw(st.integers(1, max_ops))))

    def one(xs, n_ops):
        b = _Builder(draw, rng, dtype)
        pool = list(xs)
        for _ in range(n_ops):
            rule = draw(st.sampled_from(rules))
            out = getattr(b, rule)(pool)
            if out is not None:
                pool.append(out)
        outs = pool[len(xs) :] or [pool[0] * 1.0]
        return [outs[-1]] + ([outs[0]] if len(outs) > 1 and draw(st.booleans()) else [])

    def model(*xs):
        outs, k = [], 0
        for shapes, n_ops in plans:
            outs += one(xs[k : k + len(shapes)], n_ops)
            k += len(shapes)
        return outs

    shapes = [s for ss, _ in plans for s in ss]
    specs = [gradc.TensorSpec(s, dtype) for s in shapes]
    graph = gradc.trace(model, *specs, name="random_model")
    inputs = [rng.uniform(-2, 2, s).astype(dtype.np) for s in shapes]
    return graph, inputs
