"""Graph passes: each takes a graph and returns a new one; ``optimize`` runs them all."""

from gradc.passes.cse import cse
from gradc.passes.dce import dce
from gradc.passes.fold import fold
from gradc.passes.fusion import Group, fuse
from gradc.passes.pipeline import PASSES, optimize
from gradc.passes.simplify import simplify

__all__ = ["PASSES", "Group", "cse", "dce", "fold", "fuse", "optimize", "simplify"]
