"""The graph IR: SSA values typed by dtype + symbolic shape; nodes in topological order.

Every graph input and output has a ``Role`` saying what it means to the caller (a user input,
a parameter, optimizer state, the new value of a parameter, a saved activation...), so passes,
the printer and the compile driver never guess from names.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradc.errors import TraceError
from gradc.ops.table import Op
from gradc.shapes import TensorType

# What a graph input can be, and what a graph output can be (AOTAutograd's primals/tangents,
# plus the state a whole training step reads and writes).
INPUT_ROLES = ("input", "param", "buffer", "grad", "opt_state", "hyper", "rng", "tangent", "saved")
OUTPUT_ROLES = ("result", "grad", "saved", "new")


@dataclass(frozen=True)
class Role:
    """``kind`` from INPUT_ROLES / OUTPUT_ROLES; ``of`` names the state it is about
    (``grad`` of ``fc.weight``, ``new`` value of ``opt.state.fc.weight.exp_avg``); ``frozen``
    marks a parameter with ``requires_grad=False`` (it gets no gradient)."""

    kind: str
    of: str | None = None
    frozen: bool = False

    def __str__(self) -> str:
        text = f"{self.kind}({self.of})" if self.of is not None else self.kind
        return text + " frozen" if self.frozen else text


INPUT, RESULT = Role("input"), Role("result")


class Value:
    """One SSA value: a graph input (``node is None``) or the result of one node."""

    __slots__ = ("graph", "type", "name", "node", "role")

    def __init__(
        self,
        graph: Graph,
        type: TensorType,
        name: str,
        node: Node | None = None,
        role: Role | None = None,
    ):
        self.graph, self.type, self.name, self.node = graph, type, name, node
        self.role = role if role is not None or node is not None else INPUT

    def __repr__(self) -> str:
        return f"{self.name}: {self.type}"


class Node:
    """``out = op(*inputs, **attrs)``, with the user's ``file:line`` that created it."""

    __slots__ = ("op", "inputs", "attrs", "out", "loc", "rule")

    def __init__(
        self,
        op: Op,
        inputs: list,
        attrs: dict,
        out: Value | None,
        loc: str | None,
        rule: str | None = None,
    ):
        self.op, self.inputs, self.attrs, self.out, self.loc = (
            op,
            list(inputs),
            dict(attrs),
            out,
            loc,
        )
        self.rule = rule  # for backward nodes: the forward op whose vjp rule made this node

    def __repr__(self) -> str:
        return f"<node {self.out.name} = {self.op.name}(...)>"


class Graph:
    """A function in SSA form: ``inputs``, ``nodes`` (topologically ordered), ``outputs``."""

    def __init__(self, name: str = "forward"):
        self.name = name
        self.inputs: list[Value] = []
        self.nodes: list[Node] = []
        self.outputs: list[Value] = []
        self.output_names: list[str] | None = None
        self.output_roles: list[Role] | None = None  # None: every output is a result
        self.meta: dict = {}  # producers' notes, e.g. the joint graph's "saved"
        self._consts: dict[int, Value] = {}
        self._counter = 0
        self.capture = None  # while tracing: what turns outside tensors into inputs

    def add_input(self, name: str, type: TensorType, role: Role | None = None) -> Value:
        if not name.startswith("%"):
            name = "%" + name
        v = Value(self, type, name, None, role or INPUT)
        self.inputs.append(v)
        return v

    def roles(self) -> list[Role]:
        """One role per output (``result`` where none was given)."""
        return (
            list(self.output_roles)
            if self.output_roles is not None
            else [RESULT] * len(self.outputs)
        )

    def set_outputs(self, values, names=None, roles=None) -> None:
        self.outputs = list(values)
        self.output_names = list(names) if names is not None else None
        self.output_roles = list(roles) if roles is not None else None

    def inputs_of(self, *kinds: str) -> list[Value]:
        return [v for v in self.inputs if v.role.kind in kinds]

    def fresh_name(self) -> str:
        name = f"%{self._counter}"
        self._counter += 1
        return name

    def add_node(self, op: Op, inputs, attrs, type: TensorType, loc: str | None = None) -> Value:
        for v in inputs:
            if v.graph is not self:
                raise TraceError(f"{v.name} belongs to another graph", op=op.name)
        node = Node(op, inputs, attrs, None, loc)
        node.out = Value(self, type, self.fresh_name(), node)
        self.nodes.append(node)
        return node.out

    def lift(self, tensor, *, const: bool = False) -> Value:
        """The graph value of a Tensor: its own value; for a concrete array, an input if the
        trace's capture says it is outside state, else a constant (what the function made)."""
        if tensor.is_traced:
            if tensor._data.graph is not self:
                raise TraceError(
                    "a tensor from another trace was used here; pass it as an input instead"
                ).with_context()
            return tensor._data
        if self.capture is not None and not const:
            v = self.capture.outside(tensor)
            if v is not None:
                return v
        key = id(tensor._data)
        v = self._consts.get(key)
        if v is None or v.node.attrs["value"] is not tensor._data:
            from gradc.errors import location_of, user_frame
            from gradc.ops.table import get_op

            op = get_op("constant")
            v = self.add_node(
                op,
                [],
                {"value": tensor._data},
                op.infer(value=tensor._data),
                location_of(user_frame()),
            )
            self._consts[key] = v
        return v

    def __str__(self) -> str:
        from gradc.ir.printer import format_graph

        return format_graph(self)

    def __repr__(self) -> str:
        return f"<graph {self.name}: {len(self.inputs)} inputs, {len(self.nodes)} nodes>"
