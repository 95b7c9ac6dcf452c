"""Wrong calls raise a GradcError subclass naming the op, the input types and the caller's line.

Each case is ``(error class, call, what the message must name)``; the call is a lambda written on
the table's own line, so the line the error must point at is the line of that lambda.
"""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

import gradc

HERE = os.path.basename(__file__)


def x23():
    return gradc.randn(2, 3)


def leaf3():
    return gradc.randn(3, requires_grad=True)


def _inplace_on_leaf():
    x = leaf3()
    x += 1


E = gradc
CASES = [
    (E.ShapeError, lambda: x23() + gradc.randn(3, 2), ["add(f32[2,3], f32[3,2])", "broadcast"]),
    (E.ShapeError, lambda: x23() @ x23(), ["matmul(f32[2,3], f32[2,3])", "3 != 2"]),
    (E.ShapeError, lambda: gradc.tensor(1.0) @ x23(), ["matmul(f32[], f32[2,3])", "1-D"]),
    (E.ShapeError, lambda: x23().reshape(4, 2), ["reshape(f32[2,3])", "[4,2]"]),
    (E.ShapeError, lambda: x23().view(-1, -1), ["reshape(f32[2,3])", "only one dimension"]),
    (E.ShapeError, lambda: x23().sum(2), ["sum(f32[2,3])", "dim 2 is out of range"]),
    (E.ShapeError, lambda: x23().sum((0, -2)), ["sum(f32[2,3])", "repeats"]),
    (E.ShapeError, lambda: x23().unsqueeze(4), ["unsqueeze(f32[2,3])", "out of range"]),
    (E.ShapeError, lambda: x23().transpose(0, 5), ["transpose(f32[2,3])", "dim 5"]),
    (E.ShapeError, lambda: x23().permute(0, 0), ["permute(f32[2,3])", "permutation"]),
    (E.ShapeError, lambda: x23().size(2), ["size(f32[2,3])", "out of range"]),
    (E.ShapeError, lambda: x23().flatten(1, 0), ["flatten(f32[2,3])", "start_dim"]),
    (E.ShapeError, lambda: gradc.randn(2, 2, 2).t(), ["t(f32[2,2,2])", "<= 2 dims"]),
    (E.DTypeError, lambda: x23() @ gradc.randn(3, 2).double(), ["matmul(f32[2,3], f64[3,2])"]),
    (E.DTypeError, lambda: gradc.where(x23(), x23(), 0.0), ["where(f32[2,3], f32[2,3]", "bool"]),
    (E.DTypeError, lambda: gradc.tensor([True]) - gradc.tensor([True]), ["sub(b8[1], b8[1])"]),
    (E.DTypeError, lambda: -gradc.tensor([True]), ["neg(b8[1])"]),
    (E.DTypeError, lambda: gradc.tensor([1, 2]).mean(), ["mean(i64[2])", "floating"]),
    (E.DTypeError, lambda: gradc.tensor([1, 2]).requires_grad_(), ["requires_grad_(i64[2])"]),
    (
        E.DTypeError,
        lambda: gradc.tensor([1, 2], requires_grad=True),
        ["requires_grad_(i64[2])", "int64"],
    ),
    (E.DTypeError, lambda: gradc.zeros(2, dtype="float8"), ["zeros(2, dtype='float8')"]),
    (E.DeviceError, lambda: x23().to("tpu"), ["to(f32[2,3])", "unknown device 'tpu'"]),
    (E.GradcError, lambda: gradc.tensor([1, 2]) ** -1, ["pow(i64[2], i64[])", "negative"]),
    (
        E.GradcError,
        lambda: gradc.tensor([[1, 2], [3]]),
        ["tensor([[1, 2], [3]])", "could not make"],
    ),
    (E.GradcError, lambda: x23() + "a", ["add(f32[2,3])", "str"]),
    (E.GradcError, lambda: x23().clamp(), ["clamp(f32[2,3])", "min and max"]),
    (E.AutogradError, lambda: (leaf3() * 2).backward(), ["backward(f32[3])", "scalar"]),
    (E.AutogradError, lambda: x23().sum().backward(), ["backward(f32[])", "does not require"]),
    (E.AutogradError, _inplace_on_leaf, ["add_(f32[3])", "leaf"]),
    (E.AutogradError, lambda: (leaf3() * 1).requires_grad_(False), ["requires_grad_(f32[3])"]),
    (E.AutogradError, lambda: x23().retain_grad(), ["retain_grad(f32[2,3])"]),
    (E.AutogradError, lambda: leaf3().numpy(), ["numpy(f32[3])", "detach"]),
    (E.ShapeError, lambda: (leaf3() * 2).backward(gradc.ones(4)), ["backward(f32[3])", "[4]"]),
    (E.ShapeError, lambda: x23().expand(4, 3), ["expand(f32[2,3])", "[4,3]"]),
    (E.ShapeError, lambda: gradc.cat([x23(), gradc.randn(3, 2)]), ["cat(f32[2,3], f32[3,2])"]),
    (E.ShapeError, lambda: gradc.cat([x23(), x23()], 2), ["cat(f32[2,3], f32[2,3])", "dim 2"]),
    (E.ShapeError, lambda: gradc.stack([x23(), gradc.randn(3)]), ["stack(f32[2,3], f32[3])"]),
    (E.ShapeError, lambda: x23()[2], ["getitem(f32[2,3])", "out of bounds"]),
    (E.ShapeError, lambda: x23()[:, -4], ["getitem(f32[2,3])", "index -4"]),
    (E.ShapeError, lambda: x23()[0, 0, 0], ["getitem(f32[2,3])", "too many indices"]),
    (E.IndexRangeError, lambda: x23()[gradc.tensor([2])], ["getitem(f32[2,3], i64[1])", "size 2"]),
    (E.IndexRangeError, lambda: x23()[[0, 5]], ["getitem(f32[2,3])", "index 5 is out of"]),
    (E.IndexRangeError, lambda: x23()[gradc.ones(2, 3) > 0, 0], ["getitem(f32[2,3]", "too many"]),
    (E.GradcError, lambda: x23()[::-1], ["getitem(f32[2,3])", "step"]),
    (E.GradcError, lambda: x23()[..., ...], ["getitem(f32[2,3])", "ellipsis"]),
    (E.ShapeError, lambda: x23().item(), ["item(f32[2,3])", "6 elements"]),
    (E.ShapeError, lambda: bool(x23()), ["bool(f32[2,3])", "ambiguous"]),
    (E.ShapeError, lambda: gradc.zeros(0).amax(), ["amax(f32[0])", "size 0"]),
    (E.DeviceError, lambda: x23().cuda(), ["cuda(f32[2,3])", "CUDA support arrives"]),
    (E.DeviceError, lambda: gradc.ones(2, device="cuda"), ["ones(2, device='cuda')", "CUDA"]),
]


def _error_line(call) -> int:
    """Where the error must point: a lambda's own line, or the ``+=`` line of the helper."""
    if call.__name__ == "<lambda>":
        return call.__code__.co_firstlineno
    src, start = inspect.getsourcelines(call)
    return start + next(i for i, s in enumerate(src) if "+=" in s)


def test_there_are_at_least_15_distinct_wrong_calls():
    assert len(CASES) >= 15
    assert len({_error_line(call) for _, call, _ in CASES}) == len(CASES)
    assert len({tuple(needles) for _, _, needles in CASES}) == len(CASES)


@pytest.mark.parametrize("k", range(len(CASES)), ids=[c[2][0].split("(")[0] for c in CASES])
def test_wrong_call_names_op_types_and_line(k):
    cls, call, needles = CASES[k]
    with pytest.raises(cls) as info:
        call()
    err = info.value
    assert isinstance(err, gradc.GradcError)
    msg = str(err)
    for needle in needles:
        assert needle in msg, f"{needle!r} not in {msg!r}"
    line = _error_line(call)
    assert f"{HERE}:{line}" in msg, f"{HERE}:{line} not in {msg!r}"


def _line_here():
    """The line number of the caller's current line."""
    return inspect.currentframe().f_back.f_lineno


def test_error_names_the_line_of_a_direct_call():
    x = gradc.zeros(2, 3)
    with pytest.raises(gradc.ShapeError) as info:
        line = _line_here(); x.reshape(5)  # noqa: E702  # fmt: skip
    assert f"{HERE}:{line}: " in str(info.value)
    assert "x.reshape(5)" in str(info.value)  # the source text too


def test_no_raw_numpy_errors_leak():
    """Calls that numpy itself would reject surface as GradcErrors, never ValueError etc."""
    calls = [
        lambda: gradc.tensor([1, 2]) ** gradc.tensor([-1, 2]),
        lambda: gradc.tensor([True]) - True,
        lambda: gradc.tensor(np.array(["a"])),
        lambda: gradc.zeros(2, 3).reshape(-1, 4),
        lambda: gradc.zeros(2).expand(-1, 2),
    ]
    for call in calls:
        with pytest.raises(gradc.GradcError):
            call()
