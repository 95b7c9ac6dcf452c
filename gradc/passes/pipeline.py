"""The pass pipeline: ``optimize(graph) -> (graph, groups)``; every stage's output is verified."""

from __future__ import annotations

from gradc.ir.graph import Graph
from gradc.ir.verify import VerifyError, verify
from gradc.passes.cse import cse
from gradc.passes.dce import dce
from gradc.passes.fold import fold
from gradc.passes.fusion import Group, fuse
from gradc.passes.pool import share_pool_indices
from gradc.passes.simplify import simplify
from gradc.passes.stopgrad import strip_stop_gradient

# (name, pass): stop_gradient goes first (no differentiation follows the pipeline); cse before
# simplify so shared values are seen as shared; cse again after, as equal chains become equal
# fused nodes; a max-pool whose argmax is kept reads its values off it.
PASSES = (
    ("strip_stop_gradient", strip_stop_gradient),
    ("dce", dce),
    ("cse", cse),
    ("fold", fold),
    ("simplify", simplify),
    ("cse", cse),
    ("share_pool_indices", share_pool_indices),
)


def optimize(graph: Graph, *, check: bool = True) -> tuple[Graph, list[Group]]:
    """Run the passes, then group nodes into kernels. ``check`` verifies after every pass.

    >>> g, groups = optimize(graph)      # doctest: +SKIP
    >>> [k.name for k in groups][:2]     # doctest: +SKIP
    ['fused_relu_add_conv2d_0', 'max_pool2d_1']
    """
    for name, p in PASSES:
        graph = p(graph)
        if check:
            _check(graph, name)
    graph, groups = fuse(graph)
    if check:
        _check(graph, "fuse")
    return graph, groups


def _check(graph: Graph, name: str) -> None:
    try:
        verify(graph)
    except VerifyError as e:
        raise VerifyError(f"after pass {name}: {e.msg}") from None
