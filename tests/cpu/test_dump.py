"""`gradc dump --stage cpu`: the generated module, golden-tested on a small model; LeNet's
joint graph prints with node and source-line comments."""

from __future__ import annotations

import pytest

from tests.golden.regen import CPU_CASES, HERE, LENET, render


@pytest.mark.parametrize("name", sorted(CPU_CASES))
def test_golden_cpu_source(name):
    got = render(CPU_CASES[name])
    want = (HERE / name).read_text()
    assert got == want, f"{name} changed: review, then run `python -m tests.golden.regen`"


def test_lenet_train_source_is_readable():
    argv = ["dump", LENET, "--input", "Nx1x32x32", "--train", "--stage", "cpu"]
    text = render(argv)
    assert text.startswith("# gradc generated program: graph joint, hash ")
    assert "\ndef run(" in text and "@njit(SIGNATURE, cache=True" in text
    assert "\n# ---- gradc_k_" in text  # each kernel module follows the program, under its name
    assert "= conv2d(%x, %conv1.weight, %conv1.bias, stride=(1, 1))  [lenet.py:" in text
    assert "max_pool2d_scatter(" in text and "vjp(max_pool2d)" in text  # argmax kept from forward
    assert "max_pool2d_indices(" in text
    assert "N = in_x.shape[0]" in text
    compile(text, "<lenet source>", "exec")  # valid Python, as imported
