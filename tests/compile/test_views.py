"""Writes through views, compiled: the view x in-place table of tests/core/view_cases.py traced and
run by ``gradc.compile(..., backend="interpret")`` agrees with eager gradc (values, gradients,
write-backs into inputs and closure tensors, or the same error class). Inside a trace a write
through a view is an out-of-place ``copy_slices`` into its base, and every view of that base is
re-derived from the new base (gradc/views.py)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gradc
from gradc.errors import GradcError
from tests.core.op_cases import basic_indices
from tests.core.view_cases import BASE, INPLACE, SCALE, VIEWS, WEIGHTS

F64 = gradc.float64


def t64(a, requires_grad=False):
    return gradc.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def _weights(t):
    return t64(np.linspace(0.5, 2.0, t.numel()).reshape(tuple(t.shape)))


def _flat(out):
    if out is None:
        return []
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _run(fn, args):
    """(outputs, error class): eager gradc or compiled, the same code."""
    try:
        return _flat(fn(*args)), None
    except GradcError as e:
        return None, type(e)


def agree(make, *, dynamic=False):
    """``make()`` -> (function, its arguments, the tensors it reaches): run it eagerly and
    compiled on fresh copies; outputs, ``.grad`` after a backward through every output that
    requires grad, and every argument's and reached tensor's final value must match."""
    fn_e, args_e, state_e = make()
    fn_c, args_c, state_c = make()
    out_e, err_e = _run(fn_e, args_e)
    out_c, err_c = _run(gradc.compile(fn_c, backend="interpret", dynamic=dynamic), args_c)
    assert err_c is err_e, f"eager raised {err_e}, compiled raised {err_c}"
    if err_e is not None:
        return err_e
    assert len(out_c) == len(out_e)
    for a, b in zip(out_c, out_e):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=0)
        assert a.requires_grad == b.requires_grad
    # one backward through the outputs and the written non-leaf tensors' new histories
    for outs, reached in ((out_e, [*args_e, *state_e]), (out_c, [*args_c, *state_c])):
        rebased = [a for a in reached if a.requires_grad and not a.is_leaf]
        loss = [(o * _weights(o)).sum() for o in [*outs, *rebased] if o.requires_grad]
        if loss:
            sum(loss[1:], loss[0]).backward()
    for a, b in zip([*args_c, *state_c], [*args_e, *state_e]):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=0)
        assert (a.grad is None) == (b.grad is None)
        if a.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-12)
    return None


# ---- the table, compiled: every view x every in-place op x mode -------------------------------
def _mode_plain(view, write):  # no autograd; the base and another view read after the write
    def f(x):
        y = x * SCALE
        other = y.reshape(-1)[::2]
        v = view(y)
        write(v)
        return y, v, other

    return lambda: (f, [t64(BASE)], [])


def _mode_input(view, write):  # a write through a view of an argument: written back
    def f(x):
        v = view(x)
        write(v)
        return v, x * 1

    return lambda: (f, [t64(BASE * SCALE)], [])


def _mode_closure(view, write):  # ... and of a tensor the function reaches through a closure
    def make():
        buf = t64(BASE * SCALE)

        def f(x):
            write(view(buf))
            return buf * x

        return f, [t64(2.0)], [buf]

    return make


def _mode_non_leaf_input(view, write):  # the argument's own history is rebased
    def make():
        x = t64(BASE, requires_grad=True)

        def f(a):
            write(view(a))
            return a * 2

        return f, [x * SCALE], [x]

    return make


def _mode_non_leaf_closure(view, write):  # ... and so is a captured non-leaf's
    def make():
        x = t64(BASE, requires_grad=True)
        h = x * SCALE

        def f(k):
            write(view(h))
            return h * k

        return f, [t64(2.0)], [x, h]

    return make


def _mode_grad(view, write):  # a non-leaf base: the gradient flows through copy_slices
    def f(x):
        y = x * SCALE
        other = y.reshape(-1)[::2]
        v = view(y)
        write(v)
        return y, v, other

    return lambda: (f, [t64(BASE, requires_grad=True)], [])


def _mode_step(view, write):  # backward() inside the compiled function (whole-step form)
    def f(x):
        y = x * SCALE
        write(view(y))
        (y * t64(WEIGHTS)).sum().backward()
        return y.detach()

    return lambda: (f, [t64(BASE, requires_grad=True)], [])


def _mode_leaf(view, write):  # a view of a leaf that requires grad: both refuse
    def f(x):
        write(view(x))
        return x * 1

    return lambda: (f, [t64(BASE, requires_grad=True)], [])


def _mode_leaf_no_grad(view, write):  # ... unless under no_grad, as an optimizer writes
    def f(x):
        with gradc.no_grad():
            write(view(x))
        return x * 2

    return lambda: (f, [t64(BASE * SCALE, requires_grad=True)], [])


MODES = {
    "plain": _mode_plain,
    "input": _mode_input,
    "closure": _mode_closure,
    "non_leaf_input": _mode_non_leaf_input,
    "non_leaf_closure": _mode_non_leaf_closure,
    "grad": _mode_grad,
    "step": _mode_step,
    "leaf": _mode_leaf,
    "leaf_no_grad": _mode_leaf_no_grad,
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("op", INPLACE)
@pytest.mark.parametrize("view", VIEWS)
def test_compiled_write_through_a_view_agrees_with_eager(view, op, mode):
    err = agree(MODES[mode](VIEWS[view][0], INPLACE[op][0]))
    assert (err is not None) == (mode == "leaf")


@pytest.mark.parametrize("mode", ["input", "grad"])
@pytest.mark.parametrize("op", INPLACE)
@pytest.mark.parametrize("view", VIEWS)
def test_compiled_write_through_a_view_agrees_with_eager_with_a_symbolic_batch(view, op, mode):
    """The default ``dynamic=True``: dim 0 is N, or the compile specialises where a view's
    shape fits only this size (``view(3, 2)``)."""
    assert agree(MODES[mode](VIEWS[view][0], INPLACE[op][0]), dynamic=True) is None


@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
@pytest.mark.parametrize("view", VIEWS)
def test_compiled_copy_into_a_view_agrees_with_eager(view, grad, dynamic):
    """With ``dynamic``, s: f64[N1] is read only by the forward: the backward still takes it,
    to bind N1 for s.grad."""

    def f(x, s):
        y = x * SCALE
        other = y.reshape(-1)[::2]
        v = VIEWS[view][0](y)
        v.copy_(s[: v.numel()].reshape(tuple(v.shape)) * 10.0)
        return y, v, other

    src = np.arange(6.0) + 1.0
    assert agree(lambda: (f, [t64(BASE, grad), t64(src, grad)], []), dynamic=dynamic) is None


MORE_WRITES = {  # in-place ops beyond the table's, through a view of a non-leaf
    "relu_": lambda v: v.relu_(),
    "pow_": lambda v: v.pow_(2),
    "addcmul_": lambda v: v.addcmul_(v * 1, v * 2, value=0.5),
    "masked_fill_": lambda v: v.masked_fill_(v > 1, 0.0),
    "relu_inplace": lambda v: gradc.nn.functional.relu(v, inplace=True),
    "copy_scalar": lambda v: v.copy_(t64(5.0)),
    "setitem_number": lambda v: v.__setitem__(..., 3.0),
}


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
@pytest.mark.parametrize("write", MORE_WRITES)
def test_more_in_place_ops_through_a_view_compiled_agree_with_eager(write, grad):
    def f(x):
        y = x - 3
        MORE_WRITES[write](y[:, 1:])
        return y

    assert agree(lambda: (f, [t64(BASE, grad)], [])) is None


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_drawn_writes_through_drawn_views_compiled_agree_with_eager(data):
    """hypothesis draws the shape, two basic indices (the written view and another one read
    after the write), the write (an in-place op or item assignment) and whether x requires
    grad; eager gradc is the reference."""
    shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple))
    idx, other = data.draw(basic_indices(shape)), data.draw(basic_indices(shape))
    op = data.draw(st.sampled_from([*INPLACE, "setitem"]))
    grad = data.draw(st.booleans())
    n = int(np.prod(shape))
    x0 = (np.arange(n, dtype=np.float64).reshape(shape) - n / 3) * 0.7 + 0.05

    def f(x):
        y = x * 1.5
        w = y[other]
        if op == "setitem":
            y[idx] = x[idx] * x[idx]
        else:
            INPLACE[op][0](y[idx])
        return y, w

    assert agree(lambda: (f, [t64(x0, grad)], [])) is None


# ---- the issue's own examples, compiled --------------------------------------------------------
def _compiled(fn):
    return gradc.compile(fn, backend="interpret", dynamic=False)


def test_issue_example_a_write_through_a_slice_is_kept_compiled():
    @gradc.compile(backend="interpret")  # dim 0 symbolic: one graph for every length
    def f(x):
        y = x * 3
        y[:2].mul_(2)
        return y

    for _ in range(2):  # traced on the first call, cached on the second
        x = t64([0.5, 1.0, 2.0], requires_grad=True)
        y = f(x)
        np.testing.assert_allclose(y.detach().numpy(), [3.0, 6.0, 6.0])
        y.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0, 3.0])
    assert f.compiles == 1


def test_item_assignment_compiled_is_copy_slices():
    @_compiled
    def f(x, v):
        y = x * 1
        y[1:3] = v
        return y

    x, v = t64([1.0, 2.0, 3.0], requires_grad=True), t64([10.0, 20.0], requires_grad=True)
    y = f(x, v)
    (y * t64([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), [1.0, 10.0, 20.0])
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(v.grad.numpy(), [2.0, 3.0])


def test_other_views_and_the_base_see_a_write_compiled():
    @_compiled
    def f(x):
        y = x * 2
        a, b = y[:2], y[1:]
        a.mul_(3)  # b overlaps a at y[1]
        v = y[:2]
        y.add_(1)  # ... and a view taken before a write to the base follows it
        return b, v

    x = t64([1.0, 2.0, 3.0], requires_grad=True)
    b, v = f(x)
    np.testing.assert_allclose(b.detach().numpy(), [13.0, 7.0])
    np.testing.assert_allclose(v.detach().numpy(), [7.0, 13.0])
    ((b * t64([1.0, 10.0])).sum() + v.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0, 20.0])


def test_writes_through_views_of_arguments_and_closures_are_written_back():
    buf = gradc.zeros(2, 3, dtype=F64)
    x = t64([1.0, 2.0, 3.0])

    @_compiled
    def f(x, k):
        x[1:].add_(k)
        buf[1].copy_(x)
        buf.t()[0].fill_(-1.0)
        return x.sum()

    seen = buf[1]  # an eager view of buf: the write-back reaches it
    for _ in range(2):
        f(x, t64(1.0))
    np.testing.assert_allclose(x.numpy(), [1.0, 4.0, 5.0])
    np.testing.assert_allclose(buf.numpy(), [[-1.0, 0.0, 0.0], [-1.0, 4.0, 5.0]])
    np.testing.assert_allclose(seen.numpy(), [-1.0, 4.0, 5.0])
    assert f.compiles == 1


def test_an_eager_view_passed_in_writes_into_its_base():
    base = gradc.zeros(2, 3, dtype=F64)
    f = _compiled(lambda v: v.add_(1.0) * 2)
    f(base[1])
    f(base[:, 0])
    np.testing.assert_allclose(base.numpy(), [[1.0, 0.0, 0.0], [2.0, 1.0, 1.0]])


@pytest.mark.parametrize(
    "write, error",
    [
        (lambda x: x.exp()[:2].mul_(2), None),  # nothing reads exp's output: fine
        (lambda x: gradc.zeros(1, 3, dtype=F64).expand(2, 3).add_(1), GradcError),
        (lambda x: x[:2].mul_(2), gradc.AutogradError),  # a view of a leaf that requires grad
        (lambda x: (x * 1)[1:].add_((x * 1)[:2]), None),  # two bases: no overlap
        (lambda x: (lambda y: y[1:].add_(y[:2]))(x * 1), GradcError),  # partial overlap
        (lambda x: (lambda y: y[1:].copy_(y[:2].clone()))(x * 1), None),
    ],
)
def test_compiled_writes_refuse_what_eager_refuses(write, error):
    def f(x):
        write(x)
        return x * 1

    x = t64([1.0, 2.0, 3.0], requires_grad=True)
    if error is None:
        f(x)
        _compiled(f)(x)
        return
    with pytest.raises(error):
        f(x)
    with pytest.raises(error):
        _compiled(f)(x)


def test_backward_through_a_saved_output_written_through_a_view_raises_in_a_compiled_step():
    def f(x):
        y = x.exp()
        y[:2].mul_(2)
        y.sum().backward()
        return y.detach()

    with pytest.raises(gradc.AutogradError, match="its output"):
        f(t64([1.0, 2.0, 3.0], requires_grad=True))
    with pytest.raises(gradc.AutogradError, match="its output"):
        _compiled(f)(t64([1.0, 2.0, 3.0], requires_grad=True))


def test_a_reshape_that_must_copy_is_no_view_compiled():
    @_compiled
    def f(x):
        y = x * 1
        y.t().reshape(6).add_(1)  # a copy, as eagerly: y keeps its values
        y.reshape(6)[:2].add_(1)  # a view
        return y

    np.testing.assert_allclose(f(t64(BASE)).numpy(), BASE + [[1, 1, 0], [0, 0, 0]])


def test_backward_through_a_saved_output_written_through_a_view_raises_for_a_compiled_result():
    @_compiled
    def f(x):
        y = x.exp()  # exp's rule reads its output
        y[:2].mul_(2)
        return y

    with pytest.raises(gradc.AutogradError, match="its output"):
        f(t64([1.0, 2.0, 3.0], requires_grad=True)).sum().backward()

    @_compiled
    def g(x):
        y = x * 2  # mul's rule reads no output: no error
        y[:2].mul_(2)
        return y

    g(t64([1.0, 2.0, 3.0], requires_grad=True)).sum().backward()


def test_a_module_that_rescales_a_weight_column_under_no_grad_in_forward_tracks_eager():
    class Net(gradc.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = gradc.nn.Linear(3, 2).double()

        def forward(self, x):
            with gradc.no_grad():
                self.lin.weight[:, 0].mul_(0.5)  # not idempotent: the backward needs this call's
            return self.lin(x).tanh()

    gradc.manual_seed(0)
    nets = [Net(), Net()]
    nets[1].load_state_dict(nets[0].state_dict())
    models = [nets[0], gradc.compile(nets[1], backend="interpret")]
    for _ in range(2):
        xs = [t64(np.linspace(-1.0, 1.0, 12).reshape(4, 3), requires_grad=True) for _ in models]
        for m, x in zip(models, xs):
            m(x).sum().backward()
        a, b = nets
        np.testing.assert_allclose(b.lin.weight.detach().numpy(), a.lin.weight.detach().numpy())
        np.testing.assert_allclose(b.lin.weight.grad.numpy(), a.lin.weight.grad.numpy(), atol=1e-12)
        np.testing.assert_allclose(xs[1].grad.numpy(), xs[0].grad.numpy(), atol=1e-12)


def test_a_view_that_fits_only_this_batch_size_specialises_the_compile(capsys, monkeypatch):
    monkeypatch.setenv("GRADC_LOG", "recompiles")

    @gradc.compile(backend="interpret")  # dynamic: dim 0 is N, but view(3, 2) needs N == 2
    def f(x):
        y = x * 1
        y.view(3, 2)[1:].mul_(10)
        return y

    np.testing.assert_allclose(f(t64(BASE)).numpy(), [[1, 2, 30], [40, 50, 60]])
    assert not f.dynamic and "shapes that hold only for this batch size" in capsys.readouterr().err
    with pytest.raises(gradc.ShapeError):
        f(t64(np.ones((3, 3))))  # a new batch size: traced again, static, and view(3, 2) refuses


def test_a_view_read_through_detach_after_its_base_was_written_sees_the_write():
    @_compiled
    def f(x):
        y = x * 1
        v = y[:2]
        y.mul_(2)
        return v.detach() + 0, v.data + 0

    for out in f(t64([1.0, 2.0, 3.0])):
        np.testing.assert_allclose(out.numpy(), [2.0, 4.0])


def test_a_training_step_that_writes_through_views_of_grads_and_params_tracks_eager():
    import copy

    import gradc.nn.functional as F

    gradc.manual_seed(0)
    net = gradc.nn.Sequential(
        gradc.nn.Linear(4, 8), gradc.nn.Tanh(), gradc.nn.Linear(8, 3)
    ).double()
    ref = copy.deepcopy(net)

    def make(net):
        opt = gradc.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

        def step(x, y):
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            with gradc.no_grad():
                net[0].weight.grad[:, 0].mul_(0.5)  # through a view of .grad
            opt.step()
            with gradc.no_grad():
                net[2].bias[1:] = net[2].bias[1:].clamp(-0.1, 0.1)  # into a parameter
            return net[2].bias.detach().sum()

        return step

    step, eager = gradc.compile(make(net), backend="interpret"), make(ref)
    for b in (5, 5, 3):
        x, y = gradc.randn(b, 4, dtype=F64), gradc.randint(0, 3, (b,))
        np.testing.assert_allclose(step(x, y).numpy(), eager(x, y).numpy(), atol=1e-12)
        for p, q in zip(net.parameters(), ref.parameters()):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), atol=1e-12)
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-12)
    assert step.compiles == 2  # the first call makes the momentum buffers
