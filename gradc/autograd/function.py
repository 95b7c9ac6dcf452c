"""Tape nodes: what ``tensor.grad_fn`` is. One ``BackwardNode`` per recorded op application."""

from __future__ import annotations

from gradc.autograd import grad_mode
from gradc.autograd.saved import OUT, reads
from gradc.errors import AutogradError

_node_classes: dict[str, type] = {}
# grad_fn class names that are not ``<Op>Backward0``, as torch spells them
NODE_NAMES = {"copy_slices": "CopySlices"}


def _camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


class Node:
    """Base of tape nodes; ``next_functions`` lists ``(node, input_nr)`` like PyTorch."""

    def name(self) -> str:
        return type(self).__name__

    @property
    def next_functions(self) -> tuple:
        return ()

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"


class AccumulateGrad(Node):
    """The node at a leaf that requires grad: adds the incoming gradient into ``.grad``."""

    def __init__(self, variable):
        self.variable = variable


class BackwardNode(Node):
    """Saved inputs, output and attrs of one op application; runs that op's vjp rules."""

    def __init__(self, op, inputs, attrs, out, needs):
        self.op, self.attrs, self.needs = op, attrs, needs
        self.saved = list(inputs)
        self.versions = [t._vc[0] for t in inputs]
        self.out, self.out_version = out, out._vc[0]
        self._next = tuple(edge_of(t) if n else (None, 0) for t, n in zip(inputs, needs))
        self.released = False

    @property
    def next_functions(self) -> tuple:
        return self._next

    def apply(self, ct):
        """Gradients for each input (None where not needed), from the op table's vjp rules."""
        if self.released:
            raise AutogradError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Pass retain_graph=True to the "
                "first backward() or autograd.grad() call if you need to backward twice",
                op=self.name(),
            )
        self._check_versions()
        out = self._saved_out()
        grads = []
        for i, need in enumerate(self.needs):
            if not need:
                grads.append(None)
                continue
            rule = self.op.vjp_rule(i)
            grads.append(rule(ct, *self.saved, out=out, **self.attrs))
        return grads

    def _saved_out(self):
        """The forward result; under ``create_graph`` it is this node's output again, so a
        rule written with it (exp's ``ct * out``) differentiates back through this node."""
        if not grad_mode.is_grad_enabled():
            return self.out
        out = self.out.detach()
        out._grad_fn, out._requires_grad = self, True
        return out

    def _check_versions(self) -> None:
        """Only what the needed rules read: torch raises for what it saved, nothing else."""
        read = {r for i, n in enumerate(self.needs) if n for r in reads(self.op, i)}
        if getattr(self, "saves_out", False):  # see saved.saves_output
            read.add(OUT)
        for r in read:
            if r == OUT:
                t, v, what = self.out, self.out_version, "its output"
            elif r < len(self.saved):
                t, v, what = self.saved[r], self.versions[r], f"its input {r}"
            else:
                continue
            if t._version != v:
                raise AutogradError(
                    f"one of the tensors needed for gradient computation has been modified by an "
                    f"in-place operation: {what}, {t.type}, is at version {t._version}; expected "
                    f"version {v}. Compute the in-place op out of place (y = y * 2), or clone() "
                    f"the tensor before writing to it",
                    op=self.name(),
                )

    def release(self) -> None:
        self.saved, self.out, self.released = None, None, True


def edge_of(t):
    if t.grad_fn is not None:
        return (t.grad_fn, 0)
    if t.requires_grad:
        if t._accumulator is None:
            t._accumulator = AccumulateGrad(t)
        return (t._accumulator, 0)
    return (None, 0)


def make_node(op, inputs, attrs, out, needs) -> BackwardNode:
    """A node whose class is named after the op (``MulBackward0``), so names read like torch."""
    cls = _node_classes.get(op.name)
    if cls is None:
        name = NODE_NAMES.get(op.name, f"{_camel(op.name)}Backward0")
        cls = type(name, (BackwardNode,), {})
        _node_classes[op.name] = cls
    return cls(op, inputs, attrs, out, needs)
