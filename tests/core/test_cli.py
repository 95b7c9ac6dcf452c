"""`gradc dump`: golden files, every stage and option, and one-line errors.

The golden files are regenerated, never edited, with

    python -m tests.golden.regen

Most tests call ``gradc.cli.main(argv)`` in-process; two run the real ``python -m gradc`` and
``gradc`` console script.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from gradc.cli import main
from tests.golden.regen import CASES, HERE, LENET, ROOT, render

MODELS = textwrap.dedent(
    """
    import gradc
    import gradc.nn as nn


    class TwoLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 8)
            self.fc2 = nn.Linear(8, 3)

        def forward(self, x):
            return self.fc2(gradc.relu(self.fc1(x)))


    class NeedsArgs(nn.Module):
        def __init__(self, width):
            super().__init__()


    class NotAModule:
        pass


    def mlp(x, w):
        return gradc.tanh(x @ w)


    def broken(x):
        return x @ x


    def rows(x):
        return sum(x[i] for i in range(x.shape[0]))


    def branchy(x):
        if x.sum() > 0:
            return x
        return -x


    instance = TwoLayer()
    not_callable = 3
    """
)


@pytest.fixture
def models(tmp_path):
    path = tmp_path / "models.py"
    path.write_text(MODELS)
    return str(path)


def run(argv, capsys):
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name):
    """`gradc dump` output equals tests/golden/NAME; regenerate: python -m tests.golden.regen."""
    want = (HERE / name).read_text()
    got = render(CASES[name])
    assert got == want, f"{name} changed: review, then run `python -m tests.golden.regen`"
    assert str(ROOT) not in got and os.path.expanduser("~") not in got


def test_golden_content_says_what_the_issue_asks():
    graph = (HERE / "lenet_graph.txt").read_text()
    shapes = [line for line in graph.splitlines() if " = " in line]
    assert shapes and all("[N," in line for line in shapes if "permute" not in line)
    assert all("# lenet.py:" in line for line in shapes)
    grad = (HERE / "lenet_grad_train.txt").read_text()
    ret = grad[grad.index("return (") :]
    for p in ("conv1", "conv2", "fc1", "fc2", "fc3"):
        for kind in ("weight", "bias"):
            assert ret.count(f"{p}.{kind}.grad=") == 1


def test_golden_training_step_has_roles_and_write_backs():
    text = (HERE / "lenet_train_adam_optimized.txt").read_text()
    header = text[: text.index(") {")]
    assert "hyper %opt.lr: f64[]" in header and "stop_gradient" not in text
    # numbers the loss wrote stay constants, even read by a vjp rule in the traced backward();
    # the backward's nodes name the forward line and the rule that made them
    conv2_line = 1 + (ROOT / "examples" / "lenet.py").read_text().splitlines().index(
        "        x = F.max_pool2d(F.relu(self.conv2(x)), 2)"
    )
    assert "captured" not in text and f"# lenet.py:{conv2_line} vjp(conv2d)" in text
    for p in ("conv1", "conv2", "fc1", "fc2", "fc3"):
        for kind in ("weight", "bias"):
            name = f"{p}.{kind}"
            assert f"param %{name}:" in header and f"opt_state %opt.state.{name}.exp_avg:" in header
            for new in (name, f"{name}.grad", f"opt.state.{name}.exp_avg_sq"):
                assert text.count(f"new({new})=") == 1


def test_training_step_with_sgd_and_its_errors(models, capsys):
    base = ["dump", f"{models}:TwoLayer", "-i", "Bx4", "--train"]
    status, out, _ = run([*base, "--optimizer", "sgd", "--stage", "graph"], capsys)
    assert status == 0 and out.startswith("graph train_step(")
    assert "new(opt.state.fc1.weight.momentum_buffer)=" in out and "new(fc2.bias)=" in out
    status, _, err = run([*base, "--optimizer", "rmsprop"], capsys)
    assert status == 2 and "unknown optimizer 'rmsprop'" in err
    status, _, err = run([*base, "--optimizer", "adam", "--stage", "grad"], capsys)
    assert status == 2 and "--stage graph, optimized, dot" in err
    status, _, err = run(base[:-1] + ["--optimizer", "adam"], capsys)
    assert status == 2 and "--optimizer needs --train" in err


def test_stages_on_a_module_file(models, capsys):
    target = f"{models}:TwoLayer"
    status, out, _ = run(["dump", target, "--input", "Bx4", "--stage", "joint"], capsys)
    assert status == 0 and out.startswith("graph joint(") and "%tangents_1: f32[B,3]" in out
    assert "fc1.weight.grad=" in out and "# backward" in out
    status, out, _ = run(["dump", target, "-i", "Bx4", "--stage", "optimized", "--train"], capsys)
    assert status == 0 and "# kernel 0: fused_" in out and "nodes before the passes" in out
    status, out, _ = run(["dump", target, "-i", "Bx4", "--stage", "dot"], capsys)
    assert status == 0 and out.startswith('digraph "forward"') and "cluster_0" in out
    assert out.rstrip().endswith("}")


def test_functions_instances_and_dtypes(models, capsys):
    status, out, _ = run(
        ["dump", f"{models}:mlp", "-i", "Nx4", "-i", "4x2", "--dtype", "f64", "--stage", "grad"],
        capsys,
    )
    assert status == 0 and "%x: f64[N,4]" in out and "x.grad=" in out and "w.grad=" in out
    status, out, _ = run(["dump", f"{models}:instance", "-i", "2x4"], capsys)
    assert status == 0 and "%fc1.weight: f32[8,4]" in out and "f32[2,8]" in out


def test_dynamic_batch_and_static(models, capsys):
    target = f"{models}:TwoLayer"
    _, out, _ = run(["dump", target, "-i", "64x4", "--dynamic-batch"], capsys)
    assert "%x: f32[N,4]" in out and "64" not in out
    _, out, _ = run(["dump", target, "-i", "64x4", "--static"], capsys)
    assert "%x: f32[64,4]" in out
    _, out, _ = run(["dump", target, "-i", "64x4"], capsys)  # static is the default
    assert "%x: f32[64,4]" in out


def test_train_losses(models, capsys):
    target = f"{models}:TwoLayer"
    _, out, _ = run(["dump", target, "-i", "Nx4", "--train", "--loss", "cross_entropy"], capsys)
    assert "%target: i64[N]" in out and "# <train step>:" in out
    _, out, _ = run(["dump", target, "-i", "Nx4", "--train"], capsys)
    assert "%target: f32[N,3]" in out and "return %" in out


def test_package_module_target(tmp_path, monkeypatch, capsys):
    pkg = tmp_path / "gradc_cli_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "nets.py").write_text(MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    status, out, _ = run(["dump", "gradc_cli_pkg.nets:mlp", "-i", "3x4", "-i", "4x2"], capsys)
    assert status == 0 and "tanh(" in out


@pytest.mark.parametrize(
    "argv, status, message",
    [
        (["dump", "missing.py:Net", "-i", "2x4"], 2, "no such file: missing.py"),
        (["dump", "{m}:Nope", "-i", "2x4"], 2, "no attribute 'Nope'; it defines: Need"),
        (["dump", "{m}:not_callable", "-i", "2x4"], 2, "not_callable is not an nn.Module"),
        (["dump", "{m}:NotAModule", "-i", "2x4"], 2, "not an nn.Module subclass"),
        (["dump", "{m}:NeedsArgs", "-i", "2x4"], 2, "cannot build NeedsArgs() with no arg"),
        (["dump", "{m}", "-i", "2x4"], 2, "bad TARGET"),
        (["dump", "no_such_pkg_xyz.mod:f", "-i", "2x4"], 2, "no module named"),
        (["dump", "{m}:mlp", "-i", "2xfoo-1"], 2, "bad --input '2xfoo-1'"),
        (["dump", "{m}:mlp", "-i", "2x4", "--stage", "cuda9"], 2, "unknown stage 'cuda9'"),
        (["dump", "{m}:mlp", "-i", "2x4", "--train", "--loss", "l1"], 2, "unknown loss 'l1'"),
        (["dump", "{m}:mlp", "-i", "2x4", "--loss", "mse"], 2, "--loss only applies with --train"),
        (["dump", "{m}:mlp", "--input", "-3x4", "-i", "4x2"], 2, "bad --input '-3x4'"),
        (["dump", "{m}:mlp", "-i", "-3x4", "-i", "4x2"], 2, "bad --input '-3x4'"),
        (["dump", "{m}:rows", "-i", "Nx4"], 1, "models.py:34: return sum(x[i] for i in range"),
        (["dump", "{m}:mlp", "-i", "2x4", "--dtype", "f16"], 2, "unknown dtype 'f16'"),
        (["dump", "{m}:mlp"], 2, "give the shape of each input with --input"),
        (["dump", "{m}:mlp", "-i", "2x4", "--static", "--dynamic-batch"], 2, "not allowed"),
        (["dump", "{m}:mlp", "-i", "2x4", "--frobnicate"], 2, "unrecognized arguments"),
        (["dump", "{m}:broken", "-i", "2x3"], 1, "ShapeError: matmul"),
        (["dump", "{m}:mlp", "-i", "2x4", "-i", "5x2"], 1, "inner dimensions do not match"),
        (["dump", "{m}:mlp", "-i", "2x4"], 1, "TypeError"),  # one input for two parameters
    ],
)
def test_errors_are_one_line(models, capsys, argv, status, message):
    argv = [a.replace("{m}", models) for a in argv]
    got, out, err = run(argv, capsys)
    assert got == status
    assert out == ""
    assert err.startswith("gradc: error: ") and err.endswith("\n")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err


def test_lenet_optimized_shows_kernel_groups(capsys):
    """Acceptance 4, as people see it: kernels are visible and the step got smaller."""
    status, out, _ = run(
        ["dump", LENET, "-i", "Nx1x32x32", "--stage", "optimized", "--train"], capsys
    )
    assert status == 0
    assert "# kernel 0: fused_relu_conv2d_0 (conv) reads %x, %conv1.weight, %conv1.bias" in out
    assert out.count("# kernel ") >= 10
    *_, summary = out.rstrip().splitlines()
    words = summary.split()
    after, before = int(words[1]), int(words[words.index("before") - 2])
    assert after < before


def test_value_dependent_control_flow_names_the_line(models, capsys):
    status, _, err = run(["dump", f"{models}:branchy", "-i", "Nx3"], capsys)
    assert status == 1 and "TraceError" in err and "models.py:" in err and err.count("\n") == 1


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as e:
        main(["dump", "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for option in ("TARGET", "--input", "--stage", "--train", "--loss", "--dynamic-batch"):
        assert option in text
    for word in ("--static", "--dtype", "examples:", "Nx1x32x32", "optimized", "dot"):
        assert word in text
    assert main([]) == 2  # no command: the overview, status 2


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_python_dash_m_gradc(models):
    proc = subprocess.run(
        [sys.executable, "-m", "gradc", "dump", f"{models}:mlp", "-i", "Nx4", "-i", "4x2"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("graph forward(%x: f32[N,4], %w: f32[4,2])")


@pytest.mark.skipif(shutil.which("gradc") is None, reason="the console script is not installed")
def test_console_script_reports_errors_in_one_line():
    proc = subprocess.run(
        ["gradc", "dump", LENET, "--input", "Nx1x32", "--stage", "graph"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("gradc: error: ")
    assert "lenet.py" in proc.stderr  # the conv2d shape error names the model's line


LIBRARY_ONLY = "import gradc.nn as nn\n\nnet = nn.Sequential(nn.Linear(4, 8), nn.ReLU())\n"


@pytest.mark.parametrize("command", [["gradc"], [sys.executable, "-m", "gradc"]])
def test_module_in_the_current_folder_and_library_only_locations(tmp_path, command):
    """Both programs find ``mod:obj`` in the current folder, as ``python -m`` users expect, and a
    model built only of gradc's modules has no location (not ``<frozen runpy>:88``/``gradc:8``)."""
    if command == ["gradc"] and shutil.which("gradc") is None:
        pytest.skip("the console script is not installed")
    (tmp_path / "mymodels.py").write_text(LIBRARY_ONLY)
    proc = subprocess.run(
        [*command, "dump", "mymodels:net", "-i", "Nx4"],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "%1: f32[N,8] = matmul(%input, %0)\n" in proc.stdout
    assert "#" not in proc.stdout
