"""The graph IR: SSA values typed by dtype + symbolic shape; nodes in topological order."""

from __future__ import annotations

from gradc.errors import TraceError
from gradc.ops.table import Op
from gradc.shapes import TensorType


class Value:
    """One SSA value: a graph input (``node is None``) or the result of one node."""

    __slots__ = ("graph", "type", "name", "node")

    def __init__(self, graph: Graph, type: TensorType, name: str, node: Node | None = None):
        self.graph, self.type, self.name, self.node = graph, type, name, node

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
        self.meta: dict = {}  # producers' notes, e.g. trace's "params", joint's "saved"
        self._consts: dict[int, Value] = {}
        self._counter = 0

    def add_input(self, name: str, type: TensorType) -> Value:
        if not name.startswith("%"):
            name = "%" + name
        v = Value(self, type, name)
        self.inputs.append(v)
        return v

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

    def lift(self, tensor) -> Value:
        """The graph value of a Tensor: its own value, or a constant for a concrete array."""
        if tensor.is_traced:
            if tensor._data.graph is not self:
                raise TraceError(
                    "a tensor from another trace was used here; pass it as an input instead"
                ).with_context()
            return tensor._data
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
