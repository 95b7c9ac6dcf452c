"""Text views of an optimized graph: the IR with kernel headers, and Graphviz with clusters."""

from __future__ import annotations

from gradc.ir.printer import format_graph, value_names


def format_optimized(graph, groups) -> str:
    """The graph as ``format_graph`` prints it, with a comment line opening each kernel group,
    then the definitions of the fused pointwise ops it uses."""
    names = value_names(graph)
    first = {id(g.nodes[0]): (k, g) for k, g in enumerate(groups)}
    pending = iter(graph.nodes)
    node = next(pending, None)
    lines = []
    for line in format_graph(graph).split("\n"):
        if node is not None and line.startswith(f"  {names[node.out]}: "):
            if id(node) in first:
                lines.append(_header(*first[id(node)], names))
            node = next(pending, None)
        lines.append(line)
    fused = {}
    for n in graph.nodes:
        if "parts" in n.op.meta:
            fused.setdefault(n.op.name, n.op)
    if fused:
        lines.append("# fused pointwise ops (composed and simplified by sympy):")
        for name, op in fused.items():
            args = ", ".join(str(v) for v in op.expr.variables)
            lines.append(f"#   {name}({args}) = {op.expr.expr}")
    return "\n".join(lines)


def _header(k: int, g, names) -> str:
    reads = ", ".join(names[v] for v in g.inputs) or "nothing"
    writes = ", ".join(names[v] for v in g.outputs)
    return f"  # kernel {k}: {g.name} ({g.kind}) reads {reads}; writes {writes}"


def _q(text: str) -> str:
    """A Graphviz string; ``\\n`` in ``text`` stays a line break."""
    return '"' + text.replace('"', '\\"') + '"'


def format_dot(graph, groups) -> str:
    """Graphviz text: inputs as ellipses, one cluster per kernel group, constants as notes."""
    names = value_names(graph)
    lines = [
        f"digraph {_q(graph.name)} {{",
        "  rankdir=TB;",
        '  node [shape=box, fontname="monospace", fontsize=10];',
    ]
    for v in graph.inputs:
        lines.append(f"  {_q(names[v])} [shape=ellipse, label={_q(f'{names[v]}: {v.type}')}];")

    def stmt(n, indent="  ") -> str:
        label = f"{names[n.out]} = {n.op.name}\\n{n.out.type}"
        style = ", shape=note" if n.op.kind == "const" else ""
        return f"{indent}{_q(names[n.out])} [label={_q(label)}{style}];"

    grouped = {id(n) for g in groups for n in g.nodes}
    for n in graph.nodes:
        if id(n) not in grouped:
            lines.append(stmt(n))
    for k, g in enumerate(groups):
        lines.append(f"  subgraph {_q(f'cluster_{k}')} {{")
        lines.append(f"    label={_q(f'{g.name} ({g.kind})')}; style=rounded; color=gray40;")
        lines.extend(stmt(n, "    ") for n in g.nodes)
        lines.append("  }")
    for n in graph.nodes:
        for v in dict.fromkeys(n.inputs):
            lines.append(f"  {_q(names[v])} -> {_q(names[n.out])};")
    lines.append('  "return" [shape=doublecircle, label="return"];')
    out_names = graph.output_names or [""] * len(graph.outputs)
    for v, label in zip(graph.outputs, out_names):
        lines.append(f'  {_q(names[v])} -> "return"' + (f" [label={_q(label)}];" if label else ";"))
    lines.append("}")
    return "\n".join(lines)
