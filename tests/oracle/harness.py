"""Run one straight-line program on gradc and on torch, and say where they disagree.

A program is a list of ``Line``s of Python source over the names ``T`` (``gradc`` or ``torch``)
and ``F`` (their ``nn.functional``), so one text runs on both and prints as a regression test.
After the last line, every float tensor that requires grad is weighted by a fixed array and
summed into one loss whose ``backward()`` fills the leaves' ``.grad``: the cotangent of each
result is its weight, whatever its value (a nan result does not poison the gradients).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np

RTOL, ATOL = 1e-6, 1e-9


@dataclass(frozen=True)
class Line:
    """One statement; ``op`` names what it exercises (for counts and for ``LACKS``)."""

    source: str
    op: str


@dataclass
class Outcome:
    """What a backend did with a program: where it raised, its tensors, the leaves' grads."""

    raised: tuple | None = None  # (line index or "backward", exception type name, message)
    values: dict = field(default_factory=dict)  # name -> snapshot
    grads: dict = field(default_factory=dict)  # leaf name -> snapshot or None
    backward_raised: bool = False  # also after a line raised (the backward still runs)


def namespace(backend: str) -> dict:
    if backend == "torch":
        import torch as T
        import torch.nn.functional as F
    else:
        import gradc as T
        import gradc.nn.functional as F
    return {"T": T, "F": F, "nan": math.nan, "inf": math.inf}


def snapshot(v):
    """A backend-free picture of a tensor: shape, dtype name, requires_grad, values."""
    a = v.detach().numpy()
    return (tuple(a.shape), str(v.dtype).split(".")[-1], bool(v.requires_grad), np.array(a))


def weights(shape, k: int) -> np.ndarray:
    """The fixed cotangent of the ``k``-th output: distinct, signed, never 0."""
    n = math.prod(shape)
    return (np.cos(0.7 * np.arange(n) + 0.3 * k) + 1.5).reshape(shape)


def _is_tensor(v, T) -> bool:
    return isinstance(v, T.Tensor)


def execute(lines, backend: str, leaves=()) -> Outcome:
    """Run ``lines`` one by one on ``backend``; stop at the first exception."""
    ns = namespace(backend)
    T, out = ns["T"], Outcome()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, line in enumerate(lines):
            try:
                exec(line.source, ns)
            except Exception as e:  # noqa: BLE001 - raising is an outcome to compare
                out.raised = (i, type(e).__name__, str(e).splitlines()[0][:200])
                break
        names = [k for k, v in ns.items() if _is_tensor(v, T)]
        outs = [k for k in names if ns[k].requires_grad and ns[k].dtype.is_floating_point]
        try:
            if outs:
                loss = sum(
                    (ns[k] * T.tensor(weights(tuple(ns[k].shape), j))).sum()
                    for j, k in enumerate(outs)
                )
                loss.backward()
        except Exception as e:  # noqa: BLE001
            out.backward_raised = True
            if out.raised is None:
                out.raised = ("backward", type(e).__name__, str(e).splitlines()[0][:200])
        out.values = {k: snapshot(ns[k]) for k in names}
        out.grads = {
            k: None if ns[k].grad is None else snapshot(ns[k].grad)
            for k in leaves
            if k in ns and _is_tensor(ns[k], T)
        }
    return out


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        return bool(np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True))
    return bool(np.array_equal(a, b))


def _diff(what: str, t, g) -> str | None:
    if t is None or g is None:
        return None if t is None and g is None else f"{what}: torch {t!r:.80} vs gradc {g!r:.80}"
    (ts, td, tr, tv), (gs, gd, gr, gv) = t, g
    if ts != gs:
        return f"{what}: shape torch {list(ts)} vs gradc {list(gs)}"
    if td != gd:
        return f"{what}: dtype torch {td} vs gradc {gd}"
    if tr != gr:
        return f"{what}: requires_grad torch {tr} vs gradc {gr}"
    if not _same_values(tv, gv):
        return f"{what}: values differ\n  torch {tv.tolist()}\n  gradc {gv.tolist()}"
    return None


def compare(t: Outcome, g: Outcome) -> list[str]:
    """Every disagreement between torch's outcome ``t`` and gradc's ``g``."""
    problems = []
    if (t.raised is None) != (g.raised is None) or (t.raised and t.raised[0] != g.raised[0]):
        problems.append(f"raise: torch {t.raised} vs gradc {g.raised}")
        return problems
    for k in sorted(set(t.values) | set(g.values)):
        d = _diff(k, t.values.get(k), g.values.get(k))
        if d:
            problems.append(d)
    if t.backward_raised and g.backward_raised:
        # both refused the backward: which .grad each engine accumulated before it reached the
        # refusing node depends on the order it runs nodes in, not on semantics
        return problems
    for k in sorted(set(t.grads) | set(g.grads)):
        d = _diff(f"{k}.grad", t.grads.get(k), g.grads.get(k))
        if d:
            problems.append(d)
    return problems


def render(lines, problems, torch_outcome: Outcome) -> str:
    """The program as a pytest function to paste into the suite, torch's answers asserted."""
    body = [ln.source for ln in lines]
    body.append("# the harness: a fixed weight per output that requires grad, one backward")
    body.append("outs = [v for v in list(locals().values()) if isinstance(v, T.Tensor)")
    body.append("        and v.requires_grad and v.dtype.is_floating_point]")
    body.append("if outs:")
    body.append("    sum((v * T.tensor(weights(tuple(v.shape), j))).sum()")
    body.append("        for j, v in enumerate(outs)).backward()")
    text = "\n".join("    " + b for b in body)
    notes = "\n".join("    # " + ln for p in problems for ln in p.splitlines())
    return (
        "from tests.oracle.harness import weights\n\n\n"
        "def test_fuzz_regression():\n"
        "    import math\n\n"
        "    import gradc as T\n"
        "    import gradc.nn.functional as F\n\n"
        "    nan, inf = math.nan, math.inf\n"
        f"{text}\n"
        "    # torch 2.13 disagrees here (assert torch's answer):\n"
        f"{notes}\n"
    )
