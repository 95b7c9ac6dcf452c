"""The backward pass: a topological walk of the tape, calling each node's vjp rules once."""

from __future__ import annotations

from gradc.autograd import grad_mode
from gradc.autograd.function import AccumulateGrad, BackwardNode, edge_of
from gradc.errors import AutogradError, ShapeError


def _root_grads(outputs, grad_outputs):
    from gradc import functions as fn

    cts = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if not t.requires_grad:
            raise AutogradError(
                f"element {i} of tensors does not require grad and does not have a grad_fn",
                op=f"backward({t.type})",
            )
        if g is None:
            if t.numel() != 1:
                raise AutogradError(
                    f"grad can be implicitly created only for scalar outputs; this output has "
                    f"shape {list(t.shape)}: pass gradient= (a tensor of that shape)",
                    op=f"backward({t.type})",
                )
            g = fn.ones_like(t)
        else:
            g = fn.as_tensor(g, dtype=t.dtype)
            if tuple(g.shape) != tuple(t.shape):
                raise ShapeError(
                    f"gradient has shape {list(g.shape)} but the output has shape {list(t.shape)}",
                    op=f"backward({t.type})",
                )
        cts.append(g)
    return cts


def _dependencies(roots):
    deps, seen, stack = {}, set(), list(dict.fromkeys(n for n in roots if n is not None))
    for n in stack:
        seen.add(n)
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return deps


def stale_saved(root):
    """The error that a backward from the node ``root`` would raise because a tensor it saved
    was modified in place since, found without running a rule (a trace's tape: the compiled
    backward runs the graph, and must refuse what eager backward refuses)."""
    seen, stack = set(), [root] if root is not None else []
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if isinstance(node, BackwardNode) and not node.released:
            try:
                node._check_versions()
            except AutogradError as e:
                return e
        stack.extend(n for n, _ in node.next_functions if n is not None)
    return None


def _add(a, b):
    return b if a is None else a + b


def run_backward(outputs, grad_outputs, *, retain_graph, create_graph, inputs=None):
    """Propagate cotangents from ``outputs``.

    With ``inputs=None`` gradients accumulate into leaves' ``.grad`` (``Tensor.backward``);
    otherwise the gradients w.r.t. ``inputs`` are returned and no ``.grad`` changes
    (``autograd.grad``).
    """
    cts = _root_grads(outputs, grad_outputs)
    with grad_mode.set_grad_enabled(create_graph):
        return _walk(outputs, cts, retain_graph, create_graph, inputs)


def _walk(outputs, cts, retain_graph, create_graph, inputs):
    buffers = {}
    roots = []
    for t, g in zip(outputs, cts):
        node, _ = edge_of(t)
        roots.append(node)
        buffers[node] = _add(buffers.get(node), g)
    targets = None
    if inputs is not None:
        targets = {}
        for t in inputs:
            node, _ = edge_of(t) if t.requires_grad else (None, 0)
            targets.setdefault(node, None)
    deps = _dependencies(roots)
    ready = [n for n in dict.fromkeys(roots) if deps.get(n, 0) == 0]
    while ready:
        node = ready.pop()
        ct = buffers.pop(node, None)
        if targets is not None and node in targets:
            targets[node] = _add(targets[node], ct)
        if isinstance(node, AccumulateGrad):
            if targets is None and ct is not None:
                _accumulate(node.variable, ct, create_graph)
            continue
        grads = [None] * len(node.next_functions)
        if ct is not None:
            for t in getattr(node, "retained", ()):
                t.grad = _add(t.grad, ct if create_graph else ct.detach())
            grads = node.apply(ct)
            if not retain_graph:
                node.release()
        for (nxt, _), g in zip(node.next_functions, grads):
            if nxt is None:
                continue
            if g is not None:
                buffers[nxt] = _add(buffers.get(nxt), g)
            deps[nxt] -= 1
            if deps[nxt] == 0:
                ready.append(nxt)
    if targets is None:
        return None
    return [targets.get(edge_of(t)[0]) if t.requires_grad else None for t in inputs]


def _accumulate(leaf, g, create_graph):
    if not create_graph:
        g = own(g)
    leaf.grad = g if leaf.grad is None else leaf.grad + g


def own(g):
    """``g`` detached, in storage of its own: a vjp may hand the same array (or an expanded
    view) to several inputs, and ``.grad`` is written in place by optimizers."""
    from gradc._tensor import Tensor

    return Tensor._wrap(g._data.copy()) if not g.is_traced else g.detach()


__all__ = ["run_backward", "BackwardNode"]
