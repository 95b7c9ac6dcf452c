"""Randomness is an input: a compiled step draws the eager stream, a new mask every call."""

import numpy as np

import gradc
import gradc.nn as nn
from gradc.ops.random import philox4x32, uniform
from tests.compile.steps import train_step

f64 = gradc.float64


def test_philox_matches_the_random123_known_answer():
    words = philox4x32(np.array([0]), 0)
    assert [int(w[0]) for w in words] == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]


def test_uniform_is_counter_based_and_in_range():
    a = uniform(7, 0, 1000, np.float64)
    assert np.array_equal(uniform(7, 500, 500, np.float64), a[500:])  # any slice alone
    assert 0.0 <= a.min() and a.max() < 1.0 and abs(a.mean() - 0.5) < 0.05
    b = uniform(7, 0, 1000, np.float32)
    assert b.dtype == np.float32 and b.max() < 1.0


def _model(p):
    gradc.manual_seed(3)
    return nn.Sequential(nn.Linear(6, 16), nn.Dropout(p), nn.Linear(16, 2)).double()


def test_a_compiled_model_draws_the_eager_stream_and_a_new_mask_each_call(backend):
    net = _model(0.5)
    c = gradc.compile(net, backend=backend)
    x = gradc.randn(4, 6, dtype=f64)
    gradc.manual_seed(11)
    compiled = [c(x).detach().numpy() for _ in range(3)]
    after = gradc.creation.rng_state().numpy().copy()
    gradc.manual_seed(11)
    eager = [net(x).detach().numpy() for _ in range(3)]
    for a, b in zip(compiled, eager):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(compiled[0], compiled[1])
    np.testing.assert_array_equal(after, gradc.creation.rng_state().numpy())
    assert c.compiles == 1


def test_a_compiled_training_step_with_dropout_tracks_eager(backend):
    import copy

    import gradc.nn.functional as F

    net = _model(0.3)
    ref = copy.deepcopy(net)
    opts = [gradc.optim.SGD(m.parameters(), lr=0.1) for m in (net, ref)]

    step = gradc.compile(train_step(net, opts[0], F.mse_loss), backend=backend)
    eager = train_step(ref, opts[1], F.mse_loss)
    x, y = gradc.randn(5, 6, dtype=f64), gradc.randn(5, 2, dtype=f64)
    for seed in (1, 2, 3):
        gradc.manual_seed(seed)
        a = step(x, y).item()
        gradc.manual_seed(seed)
        b = eager(x, y).item()
        assert abs(a - b) < 1e-12
    for p, q in zip(net.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), atol=1e-12)


def test_p_zero_and_eval_are_no_dropout(backend):
    x = gradc.randn(4, 6, dtype=f64)
    plain = _model(0.0)
    for p, mode in ((0.0, "train"), (0.7, "eval")):
        net = _model(p)
        getattr(net, mode)()
        c = gradc.compile(net, backend=backend)
        np.testing.assert_array_equal(c(x).detach().numpy(), plain(x).detach().numpy())
        assert c._compiled.entries[0].traced.graph.inputs_of("rng") == []


def test_randn_in_a_compiled_function_is_fresh_noise_from_the_eager_stream(backend):
    def noisy(x):
        return x + gradc.randn(*x.shape, dtype=f64)

    c = gradc.compile(noisy, backend=backend)
    x = gradc.zeros(3, 4, dtype=f64)
    gradc.manual_seed(5)
    a, b = c(x).numpy(), c(x).numpy()
    gradc.manual_seed(5)
    # the same uniform bits; numba's log and cos may round the Box-Muller transform 1 ulp apart
    np.testing.assert_allclose(a, noisy(x).numpy(), rtol=1e-15, atol=0)
    np.testing.assert_allclose(b, noisy(x).numpy(), rtol=1e-15, atol=0)
    assert not np.array_equal(a, b)
    gradc.manual_seed(0)
    z = gradc.randn(20000, dtype=f64).numpy()
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03


def test_numpy_drawn_randint_refuses_to_be_baked_into_a_graph(backend):
    import pytest

    def f(x):
        return x + gradc.randint(0, 3, (4,)).double()

    with pytest.raises(gradc.TraceError, match="baked in as a constant"):
        gradc.compile(f, backend=backend)(gradc.zeros(4, dtype=f64))
    assert gradc.randint(0, 3, (4,)).shape == (4,)  # eager is unchanged
