"""Making tensors: ``tensor``, ``zeros``, ``arange``, ``rand``..., and the global RNG."""

from __future__ import annotations

import numpy as np

from gradc import dtypes
from gradc.device import as_device
from gradc.errors import DTypeError, GradcError, argument_values, with_op_context

_state: dict = {"rng": np.random.default_rng(), "philox": None}


def _rng() -> np.random.Generator:
    return _state["rng"]


def manual_seed(seed: int):
    """Seed gradc's random numbers (``rand``, ``randn``, init of nn layers, dropout)."""
    _state["rng"] = np.random.default_rng(int(seed))
    _state["philox"] = _philox_state(int(seed))
    return _state["rng"]


def _philox_state(seed: int):
    from gradc._tensor import Tensor

    return Tensor._wrap(np.array([np.uint64(seed % 2**64).astype(np.int64), 0], dtype=np.int64))


def rng_state():
    """The counter-based generator's state, an int64 ``[2]`` tensor ``(seed, offset)``: what
    ``rand`` and dropout draw from (inside a trace, the graph's RNG-state input)."""
    if _state["philox"] is None:
        _state["philox"] = _philox_state(int(np.random.SeedSequence().entropy % 2**63))
    return _state["philox"]


def set_rng_state(state) -> None:
    _state["philox"] = state


def draw(shape, dtype):
    """Uniform samples in [0, 1): one ``rand`` op on the generator's state, which then moves
    past them. Eager mode and a traced function run the same two ops."""
    from gradc.dispatch import apply
    from gradc.shapes import prod

    state = rng_state()
    out = apply("rand", state, shape=tuple(shape), dtype=dtype)
    set_rng_state(apply("rng_skip", state, count=prod(tuple(shape))))
    return out


seed = manual_seed


def _to_array(data, dtype=None) -> np.ndarray:
    from gradc._tensor import Tensor

    if isinstance(data, Tensor):
        a = np.array(data._concrete("tensor(tensor)"))
    else:
        try:
            a = np.array(data)
        except ValueError as e:
            raise GradcError(f"could not make a tensor from {type(data).__name__}: {e}") from None
        if a.dtype == object:
            raise GradcError(
                "could not make a tensor: the nested sequences are ragged or hold non-numbers"
            )
    if dtype is not None:
        return a.astype(dtypes.as_dtype(dtype).np)
    if a.dtype.kind == "f" and not isinstance(data, np.ndarray):
        return a.astype(dtypes.get_default_dtype().np)  # Python floats: the default dtype
    if a.dtype.kind in "fiub":
        return a.astype(dtypes.as_dtype(a.dtype).np, copy=False)
    raise DTypeError(f"unsupported element type {a.dtype}")


def _new(data: np.ndarray, requires_grad: bool, device):
    from gradc._tensor import Tensor

    if device is not None:
        as_device(device)
    from gradc.dispatch import note_born

    t = Tensor._wrap(data)
    note_born(t)  # made by the function being traced, if any: a constant there
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (nested lists, numbers or an array).

    >>> gradc.tensor([[1.0, 2.0]], requires_grad=True)
    tensor([[1., 2.]], requires_grad=True)
    """
    return _new(np.array(_to_array(data, dtype)), requires_grad, device)


def from_numpy(a: np.ndarray):
    """A tensor sharing memory with ``a`` (float16 and int32 are converted, not shared)."""
    if isinstance(a, np.ndarray) and a.dtype in (d.np for d in dtypes.ALL):
        return _new(a, False, None)  # _to_array would copy
    return _new(_to_array(a), False, None)


def _shape(shape, symbolic: bool = False):
    """Sizes as ints; with ``symbolic``, sympy dims (a traced batch size) stay symbolic."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if symbolic:
        from gradc.shapes import canon

        return tuple(canon(s) for s in shape)
    return tuple(int(s) for s in shape)


def _dtype(dtype):
    return dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = dtypes.weak_scalar_dtype(fill_value, None)
    return _new(np.full(_shape((size,)), fill_value, _dtype(dtype).np), requires_grad, device)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _new(np.zeros(_shape(size), _dtype(dtype).np), requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _new(np.ones(_shape(size), _dtype(dtype).np), requires_grad, device)


empty = zeros


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Like torch.arange: int64 for integer arguments, the default float dtype otherwise."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = dtypes.int64 if is_int else dtypes.get_default_dtype()
    return _new(np.arange(start, end, step).astype(_dtype(dtype).np), requires_grad, device)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    return _new(np.linspace(start, end, steps).astype(_dtype(dtype).np), requires_grad, device)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    return _new(np.eye(n, m).astype(_dtype(dtype).np), requires_grad, device)


def rand(*size, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1), from the counter-based generator (``gradc.manual_seed``)."""
    if device is not None:
        as_device(device)
    out = draw(_shape(size, symbolic=True), _dtype(dtype))
    return out.requires_grad_(True) if requires_grad else out


def randn(*size, dtype=None, device=None, requires_grad=False):
    """Standard normal: Box-Muller on two counter-based uniform draws (in float64), so a
    compiled function draws fresh noise on every call, from the same stream as eager mode."""
    if device is not None:
        as_device(device)
    out = normal(_shape(size, symbolic=True), _dtype(dtype))
    return out.requires_grad_(True) if requires_grad else out


def normal(shape, dtype):
    import math

    from gradc import functions as fn

    u1, u2 = draw(shape, dtypes.float64), draw(shape, dtypes.float64)
    radius = fn.sqrt(fn.mul(fn.log(fn.sub(1.0, u1)), -2.0))  # 1 - u1 is in (0, 1]: no log(0)
    return fn.cast(fn.mul(radius, fn.cos(fn.mul(u2, 2.0 * math.pi))), dtype)


def _numpy_draw(what: str) -> None:
    """``randint``/``randperm`` draw from numpy's generator: inside a traced function they would
    run once and be baked in as constants, so they refuse rather than silently repeat."""
    from gradc.dispatch import current_graph
    from gradc.errors import TraceError

    graph = current_graph()
    if graph is not None and graph.capture is not None:
        raise TraceError(
            f"{what} inside a traced or compiled function would be drawn once and baked in as "
            "a constant; draw it outside and pass it as an argument (gradc.rand and gradc.randn "
            "are traced draws)",
            op=what,
        )


def randint(low, high=None, size=(), *, dtype=None, device=None):
    _numpy_draw("randint")
    if high is None:
        low, high = 0, low
    data = _rng().integers(low, high, size=_shape((size,)))
    return _new(data.astype(dtypes.as_dtype(dtype or dtypes.int64).np), False, device)


def randperm(n, *, dtype=None, device=None):
    _numpy_draw("randperm")
    return _new(
        _rng().permutation(n).astype(dtypes.as_dtype(dtype or dtypes.int64).np), False, device
    )


def _like(fn):
    def like(x, *, dtype=None, device=None, requires_grad=False):
        return fn(*x.shape, dtype=dtype or x.dtype, device=device, requires_grad=requires_grad)

    like.__name__ = fn.__name__ + "_like"
    return like


rand_like, randn_like, empty_like = map(_like, [rand, randn, zeros])


for _name in [
    "tensor", "from_numpy", "full", "zeros", "ones", "arange", "linspace", "eye", "rand", "randn",
    "randint", "randperm", "rand_like", "randn_like", "empty_like",
]:  # fmt: skip
    globals()[_name] = with_op_context(globals()[_name], argument_values)
empty = zeros
