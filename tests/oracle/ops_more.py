"""The fuzzer's families for APIs gradc gained after the first vocabulary (issue 11): the
reductions beyond sum/mean/max and the activations beyond relu, compared like the rest."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.oracle.ops import _dim, _dims, assign, op
from tests.oracle.programs import Program


@op("stats", 3)
def stats(p: Program):
    """var/std (dims, keepdim, unbiased or correction), logsumexp, norm, prod, cumsum."""
    x = p.operand()
    nd = len(p.shape(x))
    f = p.draw(st.sampled_from(["var", "std", "logsumexp", "norm", "prod", "cumsum"]))
    keep = ", keepdim=True" if p.draw(st.booleans()) else ""
    if f in ("var", "std"):
        # known, left out: torch's backward counts N = 1 for dim=() (its value reduces every
        # dim, so its gradient is +-inf; tests/core/test_reduction_conventions.py pins gradc's);
        # and var(unbiased=..., keepdim=...) without a dim is no overload of torch's
        dims = _dims(p, nd)
        dims = "" if dims in ("dim=()", "dim=[]") else dims
        how = p.draw(st.sampled_from(["", "", "unbiased=False", "correction=0", "correction=2"]))
        args = ", ".join(a for a in [dims, how] if a)
        expr = f"{x}.{f}({args}{keep if dims else ''})"
    elif f == "logsumexp":
        expr = f"T.logsumexp({x}, {_dim(p, nd)}{keep})"
    elif f == "norm":
        order = p.draw(st.sampled_from(["", "", "p=1", "p=3", "p=inf", "p=-inf", "p=0"]))
        dims = _dims(p, nd)
        args = ", ".join(a for a in [order, dims] if a)
        # known, left out: torch's p=0 norm of a tensor that requires grad requires grad but
        # sends no gradient (the leaf's .grad stays None); gradc's count does not require grad
        src = f"{x}.detach()" if order == "p=0" else x
        expr = f"{src}.norm({args}{keep if dims else ''})"
    elif f == "prod":
        expr = f"{x}.prod()" if p.draw(st.booleans()) else f"{x}.prod({_dim(p, nd)}{keep})"
    else:
        expr = f"{x}.cumsum({_dim(p, nd)})"
    assign(p, expr, f)


@op("activation", 3)
def activation(p: Program):
    x = p.operand()
    f = p.draw(st.sampled_from(["gelu", "leaky_relu", "softplus"]))
    if f == "gelu":
        arg = p.draw(st.sampled_from(["", ", approximate='tanh'", ", approximate='none'"]))
    elif f == "leaky_relu":
        arg = p.draw(st.sampled_from(["", ", 0.2", ", negative_slope=-0.5"]))
    else:
        arg = p.draw(st.sampled_from(["", ", beta=2", ", beta=0.5, threshold=5"]))
    assign(p, f"F.{f}({x}{arg})", f)
