"""Graph IR: ``Graph``, ``Node``, ``Value``."""

from gradc.ir.graph import Graph, Node, Value

__all__ = ["Graph", "Node", "Value"]
