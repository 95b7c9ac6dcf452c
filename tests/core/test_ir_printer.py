"""The IR printer: exact text for a small graph, stable numbering, readable attrs."""

from __future__ import annotations

import inspect
import os

import numpy as np
import sympy

import gradc
from gradc.ir import Graph, format_graph, value_names
from gradc.ir.printer import format_array, format_attr
from gradc.ops.table import Op
from gradc.shapes import TensorType

HERE = os.path.basename(__file__)


def small(x, w):
    h = (x @ w).relu() * 0.5
    return h[:, 1:3].sum(1), h[None, -1].amax()


EXPECTED = """\
graph forward(%x: f32[N,4], %w: f32[4,3]) {
  %0: f32[N,3] = matmul(%x, %w)                    # {A}
  %1: f32[N,3] = relu(%0)                          # {A}
  %2: f32[] = constant(value=0.5)                  # {A}
  %3: f32[N,3] = mul(%1, %2)                       # {A}
  %4: f32[N,2] = getitem(%3, index=[:, 1:3])       # {B}
  %5: f32[N] = sum(%4, dim=(1,), keepdim=False)    # {B}
  %6: f32[1,3] = getitem(%3, index=[None, N-1])    # {B}
  %7: f32[] = amax(%6, dim=(0, 1), keepdim=False)  # {B}
  return (%5, %7)
}"""


def _small_graph():
    return gradc.trace(small, gradc.TensorSpec((gradc.Dim("N"), 4)), gradc.TensorSpec((4, 3)))


def test_exact_text_of_a_small_graph():
    first = inspect.getsourcelines(small)[1]
    want = EXPECTED.replace("{A}", f"{HERE}:{first + 1}").replace("{B}", f"{HERE}:{first + 2}")
    graph = _small_graph()
    assert format_graph(graph) == want
    assert str(graph) == want
    assert str(_small_graph()) == want  # same program, same text


def test_names_are_dense_after_nodes_are_removed():
    graph = _small_graph()
    dead = graph.nodes[5]  # the sum: drop it and its output, as dead-code elimination would
    graph.nodes.remove(dead)
    graph.outputs = [graph.outputs[1]]
    names = value_names(graph)
    assert [names[n.out] for n in graph.nodes] == [f"%{k}" for k in range(len(graph.nodes))]
    text = str(graph)
    assert "  %6: f32[] = amax(%5, dim=(0, 1)" in text and text.endswith("  return %6\n}")


def test_output_names_wrapping_and_the_backward_section():
    def f(x, w):
        return (x * w).sum()

    long = [gradc.TensorSpec((3,), gradc.float64)] * 2
    graph = gradc.trace(f, *long)
    joint = gradc.joint_graph(graph)
    text = str(joint)
    assert text.startswith("graph joint(%x: f64[3], %w: f64[3], tangent %tangents_1: f64[]) {")
    assert "  # backward; saved from forward: %x, %w\n" in text
    assert "  return (out=%1, x.grad=" in text
    assert "vjp(mul)" in text and "vjp(sum)" in text

    g = Graph("wide")
    for k in range(12):
        g.add_input(f"a_rather_long_input_name_{k}", TensorType(gradc.float32, (2,)))
    g.outputs = list(g.inputs[:2])
    g.output_names = ["first_output_with_a_long_name", "second_output_with_a_long_name_too"] * 1
    lines = str(g).splitlines()
    assert lines[0] == "graph wide(" and lines[1] == "    %a_rather_long_input_name_0: f32[2],"
    assert lines[13] == ") {" and lines[14] == "  return ("
    assert lines[15] == "      first_output_with_a_long_name=%a_rather_long_input_name_0,"


def test_attr_spellings():
    N = sympy.Symbol("N", integer=True, positive=True)
    assert format_attr(gradc.float64) == "f64" and format_attr(gradc.bool) == "b8"
    assert format_attr((2, N * 3)) == "(2, 3*N)" and format_attr((1,)) == "(1,)"
    assert format_attr([1, 2]) == "[1, 2]" and format_attr(None) == "None"
    assert format_attr(True) == "True" and format_attr(0.1) == "0.1" and format_attr(3) == "3"
    assert format_attr(slice(1, 3, 1)) == "1:3" and format_attr(slice(0, 4, 2)) == ":4:2"
    assert format_attr("same") == "'same'"
    assert format_array(np.float32(0.1) * np.ones((), np.float32)) == "0.1"
    assert format_array(np.array([1, 2, 3])) == "[1, 2, 3]"
    big = np.arange(12.0).reshape(3, 4)
    text = format_array(big)
    assert text.startswith("<f64[3,4] ") and len(text) == len("<f64[3,4] ") + 9
    assert format_array(big + 1) != text  # the hash tells different constants apart
    assert format_array(big.copy()) == text


def test_index_spelling_uses_the_input_shape_and_defaults_are_omitted():
    N = sympy.Symbol("N", integer=True, positive=True)
    g = Graph()
    x = g.add_input("x", TensorType(gradc.float32, (N, 5, 6)))
    getitem = gradc.ops.table.get_op("getitem")
    idx = (slice(0, N, 1), None, 2, slice(1, 6, 2))
    out = g.add_node(getitem, [x], {"index": idx}, getitem.infer(x.type, index=idx))
    op = Op("blur", lambda t, **a: t, lambda a, **k: a, meta={"attr_defaults": {"groups": 1}})
    g.add_node(op, [out], {"size": (3, 3), "groups": 1}, out.type, "/some/dir/user_code.py:7")
    g.add_node(op, [out], {"size": (3, 3), "groups": 2}, out.type, None)
    g.outputs = [g.nodes[-1].out]
    text = str(g)
    assert "getitem(%x, index=[:, None, 2, 1:6:2])" in text
    assert "= blur(%0, size=(3, 3))  # user_code.py:7" in text
    assert "= blur(%0, size=(3, 3), groups=2)\n" in text
