"""Shape predicates on symbolic dims in traced code (gradc/ir/symbols.py): decided when sympy
can, a TraceError naming the user's line when it cannot, never a silently frozen branch."""

from __future__ import annotations

import operator

import numpy as np
import pytest
import sympy

import gradc
from gradc.ir import interpret
from gradc.ir.symbols import set_guard_hook

OPS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@pytest.mark.parametrize("sign", OPS)
def test_an_undecidable_predicate_on_a_symbolic_dim_raises(sign):
    def f(x):
        if OPS[sign](x.shape[0], 2):
            return x * 2
        return x + 1

    with pytest.raises(gradc.TraceError) as e:
        gradc.trace(f, gradc.randn(4, 3), dynamic=True)
    msg = str(e.value)
    assert f"N {sign} 2" in msg and "test_symbols.py" in msg and "static" in msg


@pytest.mark.parametrize("sign", OPS)
def test_the_reflected_predicate_raises_too(sign):
    def f(x):
        return x * 2 if OPS[sign](2, x.shape[0]) else x

    with pytest.raises(gradc.TraceError, match="symbolic dimension N"):
        gradc.trace(f, gradc.TensorSpec((gradc.Dim("N"), 3)))


def test_a_whole_shape_compared_with_a_tuple_raises():
    with pytest.raises(gradc.TraceError, match="N == 2"):
        gradc.trace(lambda x: x * (2 if x.shape == (2, 3) else 1), gradc.randn(4, 3), dynamic=True)


def test_decidable_predicates_are_decided():
    seen = []

    def f(x, y):
        n = x.shape[0]
        seen.extend([n >= 1, n < 1, n == 0, n != -1, n > 0, n <= 0, n == n, x.shape == y.shape])
        seen.append(x.shape[1] == 3)  # a static dim is an int
        return x + y

    N = gradc.Dim("N")
    gradc.trace(f, gradc.TensorSpec((N, 3)), gradc.TensorSpec((N, 3)))
    assert seen == [True, False, False, True, True, False, True, True, True]


def test_outside_a_trace_symbols_compare_as_sympy_does():
    N = gradc.Dim("N")
    assert (N == 2) is False and (N != 2) is True and N == gradc.Dim("N")
    assert isinstance(N < 2, sympy.core.relational.Relational)
    assert {N: 1}[gradc.Dim("N")] == 1


def _branchy(x):
    if x.shape[0] == 2:
        return x * 10
    return x + 1


def test_static_traces_take_the_branch_of_their_own_size():
    for n, want in [(2, lambda a: a * 10), (3, lambda a: a + 1)]:
        x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
        g = gradc.trace(_branchy, gradc.tensor(x))
        (y,) = interpret(g, x)
        np.testing.assert_allclose(y, want(x))


def test_a_guard_hook_specialises_and_a_flipped_guard_retraces():
    """What the compile front end can do with ``set_guard_hook``: decide the predicate for the
    example's size, remember it as a guard, and trace again when a call flips it."""
    cache = {}

    def compiled(x):
        for guards, g in cache.items():
            if all(bool(rel.subs(sym, x.shape[0])) == want for rel, sym, want in guards):
                return interpret(g, x)[0]
        guards = []

        def hook(rel):
            (sym,) = rel.free_symbols
            want = bool(rel.subs(sym, x.shape[0]))
            guards.append((rel, sym, want))
            return want

        prev = set_guard_hook(hook)
        try:
            g = gradc.trace(_branchy, gradc.tensor(x), dynamic=True)
        finally:
            set_guard_hook(prev)
        cache[tuple(guards)] = g
        return interpret(g, x)[0]

    for n in (2, 5, 2, 7):
        x = np.ones((n, 3), dtype=np.float32)
        np.testing.assert_allclose(compiled(x), x * 10 if n == 2 else x + 1)
    assert len(cache) == 2  # one graph for N == 2, one for every other N
