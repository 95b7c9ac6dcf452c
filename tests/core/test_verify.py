"""The verifier: accepts well-formed graphs and names the first problem in malformed ones."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import gradc
from gradc import dtypes
from gradc.errors import GradcError
from gradc.ir import Graph, verify
from gradc.ir.graph import Node, Value
from gradc.ir.verify import VerifyError
from gradc.ops import get_op
from gradc.ops.table import Op
from gradc.shapes import TensorType

N = gradc.Dim("N")
F32 = dtypes.float32


def small_graph():
    """``%2 = exp(add(x, y))`` with a symbolic batch; returns (graph, x, y, nodes)."""
    g = Graph("small")
    x = g.add_input("x", TensorType(F32, (N, 3)))
    y = g.add_input("y", TensorType(F32, (3,)))
    a = g.add_node(get_op("add"), [x, y], {}, TensorType(F32, (N, 3)))
    b = g.add_node(get_op("exp"), [a], {}, TensorType(F32, (N, 3)))
    g.outputs = [b]
    return g, x, y


def test_accepts_built_and_traced_graphs():
    g, _, _ = small_graph()
    assert verify(g) is g

    def f(x, w):
        return (gradc.relu(x @ w)[:, 1:] * 2.0).sum(1)

    traced = gradc.trace(f, gradc.TensorSpec((N, 4)), gradc.TensorSpec((4, 5)))
    assert verify(traced) is traced
    assert verify(gradc.joint_graph(traced)) is not None


def test_is_a_gradc_error():
    assert issubclass(VerifyError, GradcError)


def test_use_before_definition():
    g, _, _ = small_graph()
    g.nodes.reverse()
    with pytest.raises(VerifyError, match=r"exp.*input 0 \(%0\) is used before its definition"):
        verify(g)


def test_value_from_another_graph():
    g, _, _ = small_graph()
    other, _, _ = small_graph()
    g.nodes[1].inputs = [other.nodes[0].out]
    with pytest.raises(VerifyError, match="is not in this graph"):
        verify(g)


def test_value_never_defined():
    g, _, _ = small_graph()
    stray = Value(g, TensorType(F32, (N, 3)), "%99")  # claims the graph, defined nowhere
    g.nodes[1].inputs = [stray]
    with pytest.raises(VerifyError, match=r"input 0 \(%99\) is never defined"):
        verify(g)


def test_duplicate_definition():
    g, _, _ = small_graph()
    g.nodes.append(g.nodes[1])
    with pytest.raises(VerifyError, match="defined twice"):
        verify(g)
    g2, _, _ = small_graph()
    g2.nodes[1].out.name = g2.nodes[0].out.name
    with pytest.raises(VerifyError, match="defined twice"):
        verify(g2)


def test_duplicate_input_name():
    g, _, _ = small_graph()
    g.add_input("x", TensorType(F32, (2,)))
    with pytest.raises(VerifyError, match="%x is defined twice"):
        verify(g)


def test_type_disagrees_with_infer():
    g, _, _ = small_graph()
    g.nodes[1].out.type = TensorType(dtypes.float64, (N, 3))
    with pytest.raises(VerifyError, match=r"typed f64\[N,3\] but exp infers f32\[N,3\]"):
        verify(g)
    g2, _, _ = small_graph()
    g2.nodes[0].out.type = TensorType(F32, (2 * N, 3))
    with pytest.raises(VerifyError, match="but add infers"):
        verify(g2)


def test_op_rejects_inputs_or_attrs():
    g, x, _ = small_graph()
    g.inputs[1].type = TensorType(F32, (4,))  # no longer broadcasts with [N,3]
    with pytest.raises(VerifyError, match="rejects the inputs.*do not broadcast"):
        verify(g)
    g2, x, _ = small_graph()
    g2.nodes[1].attrs = {"dim": (0,)}
    with pytest.raises(VerifyError, match="bad attributes or arity"):
        verify(g2)


def test_unregistered_op():
    g, _, _ = small_graph()
    fake = Op("exp", get_op("exp").infer, get_op("exp").impl)
    g.nodes[1].op = fake
    with pytest.raises(VerifyError, match="not the registered op"):
        verify(g)


def test_result_not_linked_to_node():
    g, _, _ = small_graph()
    g.nodes[1].out.node = g.nodes[0]
    with pytest.raises(VerifyError, match="does not point back"):
        verify(g)


def test_outputs():
    g, _, _ = small_graph()
    g.outputs = []
    with pytest.raises(VerifyError, match="no outputs"):
        verify(g)
    g, _, _ = small_graph()
    other, _, _ = small_graph()
    g.outputs = [other.nodes[1].out]
    with pytest.raises(VerifyError, match=r"output 0 \(%1\) is not defined"):
        verify(g)
    g, _, _ = small_graph()
    g.output_names = ["a", "b"]
    with pytest.raises(VerifyError, match="2 output names for 1 outputs"):
        verify(g)


def _raw_type(dtype, shape) -> TensorType:
    t = TensorType(dtype, ())
    object.__setattr__(t, "shape", shape)  # skip canonicalisation: build what a bug would
    return t


@pytest.mark.parametrize(
    "bad, message",
    [
        (_raw_type(F32, (-1, 3)), "negative dimension"),
        (_raw_type(F32, (sympy.Integer(2), 3)), "constant sympy dimension"),
        (_raw_type(F32, (2.5, 3)), "neither an int nor a sympy"),
        (_raw_type(F32, [2, 3]), "not a tuple"),
        (_raw_type("float32", (3,)), "unknown dtype"),
        ("f32[3]", "expected a TensorType"),
    ],
)
def test_malformed_input_types(bad, message):
    g, x, _ = small_graph()
    x.type = bad
    with pytest.raises(VerifyError, match=message):
        verify(g)


def test_malformed_input_names_and_links():
    g, x, _ = small_graph()
    x.name = "x"
    with pytest.raises(VerifyError, match="needs a name like"):
        verify(g)
    g, x, _ = small_graph()
    x.node = g.nodes[0]
    with pytest.raises(VerifyError, match="inputs have no defining node"):
        verify(g)


def test_constant_node_checked_against_its_value():
    g = Graph("c")
    op = get_op("constant")
    value = np.arange(3.0)
    v = g.add_node(op, [], {"value": value}, TensorType(dtypes.float64, (3,)))
    g.outputs = [v]
    verify(g)
    v.type = TensorType(dtypes.float64, (4,))
    with pytest.raises(VerifyError, match="but constant infers"):
        verify(g)


def test_node_list_holds_a_foreign_node():
    g, _, _ = small_graph()
    other, _, _ = small_graph()
    node = other.nodes[0]
    g.nodes.insert(0, Node(node.op, [g.inputs[0], g.inputs[1]], {}, node.out, None))
    with pytest.raises(VerifyError, match="does not point back"):
        verify(g)
