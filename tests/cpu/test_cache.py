"""The on-disk module cache: a second process hits it, a corrupt entry is rebuilt with a warning,
two processes lowering the same graph at once both succeed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradc
import runtime
from gradc.lowering import _LOADED

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys, numpy as np, gradc
N = gradc.Dim("N")
g = gradc.trace(lambda x, y: (x * y).tanh().sum((1,)), gradc.TensorSpec((N, 3), gradc.float64),
                gradc.TensorSpec((3,), gradc.float64), name="cache_probe")
p = gradc.lower(g)
x, y = np.ones((2, 3)), np.arange(3.0)
assert np.allclose(p(x, y)[0], np.tanh(x * y).sum(1))
print(p.path)
print(sum(sum(k.stats.cache_hits.values()) for k in p.kernels))
"""


def _child(cache: Path) -> subprocess.Popen:
    env = dict(os.environ, GRADC_CACHE_DIR=str(cache), PYTHONPATH=str(ROOT), NUMBA_OPT="3")
    return subprocess.Popen(
        [sys.executable, "-c", CHILD],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _done(p) -> list[str]:
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    return out.split()


def test_second_process_hits_the_cache(tmp_path):
    (path1, hits1) = _done(_child(tmp_path))
    (path2, hits2) = _done(_child(tmp_path))
    assert path1 == path2 and Path(path1).parent.parent == tmp_path
    assert Path(path1).parent.name.startswith("numba-O3-")
    assert int(hits1) == 0 and int(hits2) > 0  # numba loaded the kernels' machine code from disk
    folder = Path(path1).parent
    kernels = set(folder.glob("gradc_k_*.py"))
    assert set(folder.glob("gradc_*.py")) == {Path(path1)} | kernels and len(kernels) == 1


def test_two_processes_at_once_both_succeed(tmp_path):
    procs = [_child(tmp_path), _child(tmp_path)]
    paths = [_done(p)[0] for p in procs]
    assert paths[0] == paths[1]
    assert not list(tmp_path.rglob("*.tmp"))


def test_corrupt_entry_is_rebuilt_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADC_CACHE_DIR", str(tmp_path))
    g = gradc.trace(lambda x: x.exp() + 1, gradc.TensorSpec((gradc.Dim("N"), 2), gradc.float64))
    p = gradc.lower(g)
    text = p.path.read_text()
    p.path.write_text(text[: len(text) // 2])  # half-written
    _LOADED.clear()
    sys.modules.pop(p.path.stem, None)
    with pytest.warns(runtime.CacheWarning, match="corrupt"):
        q = gradc.lower(g)
    assert q.path.read_text() == text
    x = np.linspace(-1, 1, 6).reshape(3, 2)
    np.testing.assert_allclose(q(x)[0], np.exp(x) + 1, rtol=1e-12)


def test_corrupt_kernel_module_is_rebuilt_with_a_warning(tmp_path, monkeypatch):
    """Kernels are modules of their own beside the program's: one cut short is rebuilt too."""
    monkeypatch.setenv("GRADC_CACHE_DIR", str(tmp_path))
    g = gradc.trace(lambda x: x.tanh() * 3, gradc.TensorSpec((gradc.Dim("N"), 2), gradc.float64))
    p = gradc.lower(g)
    (name,) = _kernel_modules(p)
    kpath = p.path.parent / f"{name}.py"
    text = kpath.read_text()
    kpath.write_text(text[: len(text) // 3])
    _LOADED.clear()
    for mod in (p.path.stem, name):
        sys.modules.pop(mod, None)
    with pytest.warns(runtime.CacheWarning, match="corrupt"):
        q = gradc.lower(g)
    assert kpath.read_text() == text
    x = np.linspace(-1, 1, 6).reshape(3, 2)
    np.testing.assert_allclose(q(x)[0], np.tanh(x) * 3, rtol=1e-12)


def _kernel_modules(p) -> list[str]:
    return [line.split()[1] for line in p.source.splitlines() if line.startswith("from gradc_k_")]


def test_default_cache_dir_is_owner_only(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADC_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    d = runtime.cache_dir()
    assert d == tmp_path / "gradc" and (d.stat().st_mode & 0o777) == 0o700


def test_key_ignores_source_lines_but_not_ops():
    from gradc.lowering import cache_key

    N = gradc.Dim("N")
    spec = gradc.TensorSpec((N, 2), gradc.float64)
    a = gradc.trace(lambda x: x.exp(), spec)
    b = gradc.trace(lambda x: x.exp(), spec)
    c = gradc.trace(lambda x: x.tanh(), spec)
    assert a.nodes[0].loc != b.nodes[0].loc
    assert cache_key(a)[0] == cache_key(b)[0] != cache_key(c)[0]


def _fresh_process():
    """What a new process starts with: no program imported, no manifest read."""
    from gradc.lowering import _FOUND

    _LOADED.clear()
    _FOUND.clear()
    for name in [m for m in sys.modules if m.startswith("gradc_")]:
        del sys.modules[name]


def _no_passes(*a, **k):
    raise AssertionError("a warm start ran the passes")


def test_warm_start_finds_the_program_by_its_traced_graph(tmp_path, monkeypatch):
    """A later process runs no pass and no code generation: the manifest names the modules."""
    import codegen.cpu.module
    import gradc.passes

    monkeypatch.setenv("GRADC_CACHE_DIR", str(tmp_path))
    c = np.linspace(0, 1, 40)
    spec = gradc.TensorSpec((gradc.Dim("N"), 40), gradc.float64)
    g = gradc.trace(lambda x: (x * c).relu().sum((1,)) * 2, spec)
    p = gradc.lower(g)
    (manifest,) = tmp_path.rglob("gradc_m_*.npz")
    _fresh_process()
    with monkeypatch.context() as m:
        m.setattr(gradc.passes, "optimize", _no_passes)
        m.setattr(codegen.cpu.module, "generate", _no_passes)
        q = gradc.lower(g)
    x = np.linspace(-1, 1, 120).reshape(3, 40)
    np.testing.assert_allclose(q(x)[0], np.maximum(x * c, 0).sum(1) * 2, rtol=1e-12)
    assert (q.path, q.key, q.source) == (p.path, p.key, p.source)
    assert str(q.graph) == str(p.graph) and len(q.plan.kernels) == len(p.plan.kernels)  # remade


def test_a_constant_of_other_values_is_another_program(tmp_path, monkeypatch):
    """The key holds every constant in full: the manifest stores their values."""
    monkeypatch.setenv("GRADC_CACHE_DIR", str(tmp_path))
    spec = gradc.TensorSpec((gradc.Dim("N"), 30), gradc.float64)
    x = np.ones((2, 30))
    for k in range(2):
        c = np.arange(30.0) + k
        _fresh_process()
        p = gradc.lower(gradc.trace(lambda x, c=c: x * c + 1, spec))
        np.testing.assert_allclose(p(x)[0], x * c + 1, rtol=1e-12)
    assert len(list(tmp_path.rglob("gradc_m_*.npz"))) == 2


def test_corrupt_manifest_is_rebuilt_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADC_CACHE_DIR", str(tmp_path))
    g = gradc.trace(lambda x: x.sin() * 2, gradc.TensorSpec((gradc.Dim("N"), 2), gradc.float64))
    gradc.lower(g)
    (manifest,) = tmp_path.rglob("gradc_m_*.npz")
    manifest.write_bytes(manifest.read_bytes()[:40])
    _fresh_process()
    with pytest.warns(runtime.CacheWarning, match="unreadable"):
        q = gradc.lower(g)
    x = np.linspace(-1, 1, 6).reshape(3, 2)
    np.testing.assert_allclose(q(x)[0], np.sin(x) * 2, rtol=1e-12)
    _fresh_process()
    key = manifest.stem.removeprefix("gradc_m_")
    assert runtime.load_manifest(key, manifest.parent) is not None  # rewritten


def test_missing_module_behind_a_manifest_is_generated_again(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADC_CACHE_DIR", str(tmp_path))
    g = gradc.trace(lambda x: x.cos() + 3, gradc.TensorSpec((gradc.Dim("N"), 2), gradc.float64))
    p = gradc.lower(g)
    p.path.unlink()
    _fresh_process()
    q = gradc.lower(g)
    assert q.path == p.path and p.path.exists()
    x = np.linspace(-1, 1, 6).reshape(3, 2)
    np.testing.assert_allclose(q(x)[0], np.cos(x) + 3, rtol=1e-12)
