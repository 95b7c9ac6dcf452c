"""``gradc dump --train --optimizer``: the whole training step, traced as one graph.

The step is ``zero_grad``, forward, loss, ``backward()`` and the optimizer's step, traced after
one eager step made the optimizer's state, so the dump is the steady-state step every later
call runs: parameters, their ``.grad``, optimizer state and the learning rate are inputs with
roles, their new values outputs.
"""

from __future__ import annotations

import inspect

from gradc.cli import input_names


def _whole_step(model, loss: str, optimizer: str, names: list[str]):
    """``zero_grad``, forward, loss, ``backward()`` and the optimizer's step, as one function
    (code named ``<train step>``, as ``_train_step``), and its optimizer."""
    import gradc
    from gradc.nn import functional as F

    loss_fn = {"mse": F.mse_loss, "cross_entropy": F.cross_entropy}[loss]
    params = list(model.parameters())
    if optimizer == "sgd":
        opt = gradc.optim.SGD(params, lr=0.01, momentum=0.9)
    else:
        opt = gradc.optim.Adam(params, lr=1e-3)

    def step(*args):
        opt.zero_grad()
        out = loss_fn(model(*args[:-1]), args[-1])
        out.backward()
        opt.step()
        return out

    step.__code__ = step.__code__.replace(co_filename="<train step>", co_firstlineno=1)
    target = "target" if "target" not in names else "target_"
    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_ONLY) for n in (*names, target)]
    step.__signature__ = inspect.Signature(params)
    return step, opt


def _example(spec, n: int = 2):
    """A concrete tensor of ``spec`` with every symbolic dim set to ``n`` (zeros)."""
    import gradc

    shape = [d if isinstance(d, int) else n for d in spec.shape]
    return gradc.zeros(*shape, dtype=spec.dtype)


def render_step(model, specs, target, args) -> str:
    """The whole training step, traced after one eager step made the optimizer's state, so
    the graph is the steady-state step every later call runs."""
    from gradc.ir import format_graph
    from gradc.passes import optimize
    from gradc.passes.show import format_dot, format_optimized
    from gradc.trace import trace

    step, opt = _whole_step(model, args.loss, args.optimizer, input_names(model, len(specs)))
    step(*[_example(s) for s in (*specs, target)])
    graph = trace(step, *specs, target, params=model, name="train_step")
    if args.stage == "graph":
        return format_graph(graph)
    optimized, groups = optimize(graph)
    if args.stage == "dot":
        return format_dot(optimized, groups)
    views = sum(1 for g in groups if g.kind == "view")
    summary = (
        f"# {len(optimized.nodes)} nodes in {len(groups) - views} kernels and {views} views; "
        f"{len(graph.nodes)} nodes before the passes"
    )
    return format_optimized(optimized, groups) + "\n" + summary
