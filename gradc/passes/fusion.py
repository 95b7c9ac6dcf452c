"""Fusion grouping: which nodes become one kernel. The result is data for the code generator.

Rules, in order (numba compiles each function slowly, so fewer, fused kernels pay twice):
1. epilogues: a matmul/conv/reduction anchor takes the chain of pointwise nodes of its own type
   that follows it (bias add + relu ride on the conv's output loop, the mean's division on the
   sum's), except a large sum over a symbolic batch (a weight or bias gradient), so that its
   kernel can run split over the batch (``gradc.passes.parallel``);
2. prologues: walking backwards, a pointwise node joins the group holding its readers if those
   readers are pointwise, or are the group's reduction/pool (computed inside its loop), or are
   views and the node is a single element;
3. views (reshape, expand, permute, getitem) join the group holding all their readers: a kernel
   reads them as index arithmetic, not as copies;
4. everything else is a kernel of its own. Constants belong to no group (literals or buffers).
A value read outside its group (or returned) is stored by its kernel, so it must cover the
kernel's whole loop; a merge that would make two groups depend on each other is refused.

``fuse`` returns the graph reordered so that each group's nodes are contiguous (a schedule), and
the groups, each with a name like ``fused_relu_add_conv2d_0``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from gradc.ir.graph import Graph, Node, Value
from gradc.passes.parallel import sums_over_batch
from gradc.passes.rewrite import Rewriter, users
from gradc.shapes import same_dim

ANCHORS = frozenset({"matmul", "conv", "reduce"})  # op kinds that take pointwise epilogues
REDUCERS = frozenset({"reduce", "pool"})  # op kinds that take pointwise prologues


@dataclass
class Group:
    """One future kernel: its nodes in schedule order and the values crossing its boundary."""

    name: str
    kind: str  # pointwise | matmul | conv | reduce | pool | view | another op kind
    nodes: list[Node]
    anchor: Node | None = None
    inputs: list[Value] = field(default_factory=list)
    outputs: list[Value] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"<group {self.name}: {len(self.nodes)} nodes>"


def is_view(node: Node) -> bool:
    return node.op.view


def _parts(node: Node) -> tuple:
    return tuple(node.op.meta.get("parts", (node.op.name,)))


def _name(nodes: list[Node], anchor: Node | None, index: int) -> str:
    """``fused_relu_add_conv2d_0``: the ops, last first, and always the anchor."""
    compute = [n for n in nodes if not is_view(n)] or nodes
    parts = [p for n in reversed(compute) for p in _parts(n)]
    names = list(dict.fromkeys(parts))
    if len(names) > 4:
        names = names[:3] + [anchor.op.name if anchor is not None else names[-1]]
    if len(parts) > 1:
        return "fused_" + "_".join(names) + f"_{index}"
    return f"{names[0]}_{index}"


class _Grouping:
    """Greedy assignment of nodes to groups; a merge is refused if it would make groups cyclic."""

    def __init__(self, graph: Graph):
        self.uses = users(graph)
        self.outs = {id(v) for v in graph.outputs}
        self.groups: list[dict] = []
        self.owner: dict[int, dict] = {}

    def readers(self, node) -> list:
        return self.uses.get(id(node.out), [])

    def new(self, node, kind, anchor=None, loop=None) -> dict:
        loop = loop if loop is not None else node.out.type.shape
        g = {"kind": kind, "anchor": anchor, "nodes": [node], "loop": loop}
        self.groups.append(g)
        self.owner[id(node)] = g
        return g

    def join(self, node, g) -> None:
        g["nodes"].append(node)
        self.owner[id(node)] = g

    def cycles(self, node, g) -> bool:
        """Would ``g`` plus ``node`` reach itself through nodes outside it?"""
        members = {id(n) for n in g["nodes"]} | {id(node)}
        stack = [r for n in (*g["nodes"], node) for r in self.readers(n) if id(r) not in members]
        seen = set()
        while stack:
            x = stack.pop()
            if id(x) in seen:
                continue
            seen.add(id(x))
            if id(x) in members:
                return True
            h = self.owner.get(id(x))
            nxt = list(self.readers(x)) + (list(h["nodes"]) if h is not None else [])
            stack.extend(n for n in nxt if id(n) not in seen)
        return False

    def epilogues(self, graph: Graph) -> None:
        for node in graph.nodes:
            if node.op.kind not in ANCHORS:
                continue
            loop = node.inputs[0].type.shape if node.op.kind in REDUCERS else None
            g, cur = self.new(node, node.op.kind, node, loop), node
            while not sums_over_batch(node):
                nxt = next(
                    (
                        r
                        for r in self.readers(cur)
                        if r.op.kind == "pointwise"
                        and id(r) not in self.owner
                        and r.out.type == node.out.type
                        and not self.cycles(r, g)
                    ),
                    None,
                )
                if nxt is None:
                    break
                self.join(nxt, g)
                cur = nxt

    def rest(self, graph: Graph) -> None:
        for node in reversed(graph.nodes):
            if id(node) in self.owner or node.op.kind == "const":
                continue
            g = self.target(node)
            if g is not None:
                self.join(node, g)
                continue
            kind = "view" if is_view(node) else node.op.kind
            if kind in REDUCERS:
                self.new(node, kind, node, node.inputs[0].type.shape if node.inputs else None)
            else:
                self.new(node, kind)

    def target(self, node):
        """The group ``node`` joins, if any (see the module docstring for the rules)."""
        readers = self.readers(node)
        by_group: dict[int, tuple] = {}
        for r in readers:
            g = self.owner[id(r)]
            by_group.setdefault(id(g), (g, []))[1].append(r)
        if is_view(node):  # a view joins only a group that holds all its readers
            if len(by_group) == 1 and id(node.out) not in self.outs:
                ((g, _),) = by_group.values()
                return g if not self.cycles(node, g) else None
            return None
        if node.op.kind != "pointwise":
            return None
        # prefer the group holding most readers, then the earliest; a one-element value may
        # reach its readers through views (a broadcast scalar, e.g. a loss's seed gradient)
        scalar = all(isinstance(d, int) and d == 1 for d in node.out.type.shape)
        for g, rs in sorted(by_group.values(), key=lambda e: -len(e[1])):
            if not all(
                (r.op.kind == "pointwise" and r is not g["anchor"])
                or (r is g["anchor"] and g["kind"] in REDUCERS)
                or (is_view(r) and scalar)
                for r in rs
            ):
                continue
            whole = len(by_group) == 1 and id(node.out) not in self.outs
            if not whole and not _same_shape(node.out.type.shape, g["loop"]):
                continue  # a value a kernel also stores must cover its whole loop
            if not self.cycles(node, g):
                return g
        return None


def _same_shape(a, b) -> bool:
    return b is not None and len(a) == len(b) and all(same_dim(x, y) for x, y in zip(a, b))


def _assign(graph: Graph) -> list[dict]:
    grouping = _Grouping(graph)
    grouping.epilogues(graph)
    grouping.rest(graph)
    return grouping.groups


def _schedule(graph: Graph, groups: list[dict]) -> list[dict]:
    """Groups in an order where each runs after the groups it reads (Kahn, stable)."""
    pos = {id(n): i for i, n in enumerate(graph.nodes)}
    owner = {id(n): k for k, g in enumerate(groups) for n in g["nodes"]}
    deps = [set() for _ in groups]
    for k, g in enumerate(groups):
        for n in g["nodes"]:
            for v in n.inputs:
                j = owner.get(id(v.node)) if v.node is not None else None
                if j is not None and j != k:
                    deps[k].add(j)
    readers = [[] for _ in groups]
    for k, d in enumerate(deps):
        for j in d:
            readers[j].append(k)
    first = [min(pos[id(n)] for n in g["nodes"]) for g in groups]
    ready = [(first[k], k) for k, d in enumerate(deps) if not d]
    heapq.heapify(ready)
    left = [len(d) for d in deps]
    order = []
    while ready:
        _, k = heapq.heappop(ready)
        order.append(k)
        for r in readers[k]:
            left[r] -= 1
            if left[r] == 0:
                heapq.heappush(ready, (first[r], r))
    if len(order) != len(groups):  # pragma: no cover - a grouping rule bug, not user input
        raise RuntimeError("fusion grouping made a cycle between groups")
    return [groups[k] for k in order]


def fuse(graph: Graph) -> tuple[Graph, list[Group]]:
    """The graph reordered into kernel order (constants first) and its fusion groups."""
    pos = {id(n): i for i, n in enumerate(graph.nodes)}
    groups = _schedule(graph, _assign(graph))
    rw = Rewriter(graph)
    for node in graph.nodes:
        if node.op.kind == "const":
            rw.copy(node)
    out: list[Group] = []
    for k, g in enumerate(groups):
        nodes = [rw.copy(n).node for n in sorted(g["nodes"], key=lambda n: pos[id(n)])]
        anchor = rw[g["anchor"].out].node if g["anchor"] is not None else None
        out.append(Group(_name(nodes, anchor, k), g["kind"], nodes, anchor))
    new = rw.finish()
    for k in ("num_forward_nodes", "backward_start"):  # kernels interleave the two halves
        new.meta.pop(k, None)
    uses = users(new)
    outs = {id(v) for v in new.outputs}
    for g in out:
        inside = {id(n) for n in g.nodes}
        seen = set()
        for n in g.nodes:
            for v in n.inputs:
                if (v.node is None or id(v.node) not in inside) and id(v) not in seen:
                    seen.add(id(v))
                    g.inputs.append(v)
        g.outputs = [
            n.out
            for n in g.nodes
            if id(n.out) in outs or any(id(r) not in inside for r in uses.get(id(n.out), ()))
        ]
    return new, out
