"""Graph IR: ``Graph``, ``Node``, ``Value``; the printer, the interpreter, the verifier."""

from gradc.ir.graph import Graph, Node, Value
from gradc.ir.interpret import interpret, interpret_dict
from gradc.ir.printer import format_graph, value_names
from gradc.ir.verify import VerifyError, verify

__all__ = [
    "Graph",
    "Node",
    "Value",
    "format_graph",
    "value_names",
    "interpret",
    "interpret_dict",
]
