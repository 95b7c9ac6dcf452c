"""Shared plumbing for passes: copy a graph node by node into a fresh one, remapping values.

Passes never mutate their input: they build a new graph, so a failed pass leaves the old graph
intact and every stage can be printed and verified on its own.
"""

from __future__ import annotations

from gradc.ir.graph import Graph, Node, Value

_OWN = {
    "name", "inputs", "nodes", "outputs", "output_names", "output_roles", "meta", "_consts",
    "_counter", "capture",
}  # fmt: skip


class Rewriter:
    """A new graph with the same signature as ``old``; ``map`` sends old values to new ones."""

    def __init__(self, old: Graph):
        self.old = old
        self.new = Graph(old.name)
        for k, v in vars(old).items():  # metadata other modules keep on a graph (kept as is)
            if k not in _OWN:
                setattr(self.new, k, v)
        self.map: dict[int, Value] = {}
        for v in old.inputs:
            self.map[id(v)] = self.new.add_input(v.name, v.type, v.role)
        self._pos = 0  # index of the old node being rewritten (see ``walk``)
        self._origin: list[int] = []  # for each new node, the old node it was emitted for

    def walk(self):
        """The old graph's nodes in order; nodes emitted meanwhile are attributed to each."""
        for k, node in enumerate(self.old.nodes):
            self._pos = k
            yield node
        self._pos = len(self.old.nodes)

    def __getitem__(self, v: Value) -> Value:
        return self.map[id(v)]

    def alias(self, old: Value, new: Value) -> None:
        self.map[id(old)] = new

    def emit(self, op, inputs, attrs, type, loc=None, rule=None) -> Value:
        v = self.new.add_node(op, list(inputs), dict(attrs), type, loc)
        v.node.rule = rule
        self._origin.append(self._pos)
        return v

    def copy(self, node: Node) -> Value:
        ins = [self[i] for i in node.inputs]
        v = self.emit(node.op, ins, node.attrs, node.out.type, node.loc, node.rule)
        self.map[id(node.out)] = v
        return v

    def finish(self) -> Graph:
        self.new.outputs = [self[v] for v in self.old.outputs]
        names = self.old.output_names
        self.new.output_names = list(names) if names is not None else None
        roles = self.old.output_roles
        self.new.output_roles = list(roles) if roles is not None else None
        self.new.meta = self._meta(getattr(self.old, "meta", {}))
        return self.new

    def _meta(self, meta: dict) -> dict:
        """Producers' notes with values remapped (dropped if gone); the joint graph's forward
        prefix is recounted from the old nodes the new ones came from (passes keep order)."""
        out = {}
        for k, a in meta.items():
            if isinstance(a, Value):
                if id(a) in self.map:
                    out[k] = self.map[id(a)]
            elif isinstance(a, (list, tuple)) and a and all(isinstance(x, Value) for x in a):
                out[k] = type(a)(self.map[id(x)] for x in a if id(x) in self.map)
            elif not isinstance(a, Node):
                out[k] = a
        n_fwd = meta.get("num_forward_nodes")
        if n_fwd is not None:
            n = sum(1 for k in self._origin if k < n_fwd)
            out["num_forward_nodes"] = n
            if "backward_start" in meta and n < len(self.new.nodes):
                out["backward_start"] = self.new.nodes[n]
        return out


def users(graph: Graph) -> dict[int, list[Node]]:
    """For each value (by id), the nodes that read it, each listed once, in graph order."""
    out: dict[int, list[Node]] = {}
    for node in graph.nodes:
        seen = set()
        for v in node.inputs:
            if id(v) not in seen:
                seen.add(id(v))
                out.setdefault(id(v), []).append(node)
    return out
