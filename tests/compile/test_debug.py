"""``GRADC_DEBUG`` levels (DESIGN.md): 1 each kernel's name and time per call, 2 the forward IR
of each compile, 3 the backward IR too, 4 the generated source; all on stderr."""

from __future__ import annotations

import pytest

import gradc
import gradc.nn as nn


def _run(level, monkeypatch, capsys):
    monkeypatch.setenv("GRADC_DEBUG", str(level))
    gradc.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    c = gradc.compile(net, backend="numba")
    c(gradc.randn(5, 3, dtype=gradc.float64)).sum().backward()
    return capsys.readouterr().err


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4])
def test_debug_levels(level, monkeypatch, capsys):
    err = _run(level, monkeypatch, capsys)
    assert ("ms" in err and "gradc:   k0_" in err) == (level >= 1)
    assert ("gradc: forward IR\ngraph forward(" in err) == (level >= 2)
    assert ("gradc: backward IR\ngraph backward(" in err) == (level >= 3)
    assert ("# gradc generated program" in err) == (level >= 4)
