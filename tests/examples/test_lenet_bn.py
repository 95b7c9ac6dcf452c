"""examples/lenet_bn.py: LeNet with BatchNorm2d/1d and Dropout trains in eager mode (AdamW,
CosineAnnealingLR, clip_grad_norm_), and eval mode is deterministic and uses the running
statistics. Acceptance 2 of the layers issue, eager half."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import gradc
from tests.examples.test_lenet import ROOT, load


@pytest.fixture(scope="module")
def trained():
    sys.path.insert(0, str(ROOT / "examples"))
    example, data, lenet = load("lenet_bn"), load("data"), load("lenet")
    gradc.manual_seed(0)
    x, y, xt, yt = data.load_digits()
    net = example.LeNetBN()
    with lenet.one_blas_thread():
        losses = example.train(net, x, y, epochs=1)
    tracked = net.state_dict()["features.1.num_batches_tracked"].item()
    assert tracked == len(losses)  # one per training forward
    return example, net, losses, xt, yt


def test_trains_in_eager_mode(trained):
    example, net, losses, xt, yt = trained
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    assert example.accuracy(net, xt, yt) > 0.7  # 1 epoch: ~79%; 2: ~92%


def test_eval_is_deterministic_and_train_mode_is_not(trained):
    _, net, _, xt, _ = trained
    x = gradc.from_numpy(xt[:16])
    net.eval()
    with gradc.no_grad():
        a, b = net(x).numpy(), net(x).numpy()
    np.testing.assert_array_equal(a, b)
    net.train()
    with gradc.no_grad():
        c, d = net(x).numpy(), net(x).numpy()
    assert not np.allclose(c, d)  # dropout draws new masks


def test_state_dict_holds_the_running_statistics(trained):
    _, net, _, _, _ = trained
    sd = net.state_dict()
    assert not np.allclose(sd["features.1.running_mean"].numpy(), 0)
    fresh = load("lenet_bn").LeNetBN()
    fresh.load_state_dict(sd)
    fresh.eval(), net.eval()
    x = gradc.from_numpy(trained[3][:8])
    with gradc.no_grad():
        np.testing.assert_array_equal(fresh(x).numpy(), net(x).numpy())
    net.train()


@pytest.mark.slow
def test_four_epochs_reach_95_percent_from_the_command_line(tmp_path):
    import subprocess

    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "lenet_bn.py"),
            "--epochs",
            "4",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    acc = float(out.stdout.split(":")[-1].strip().rstrip("%")) / 100
    assert acc >= 0.95, out.stdout  # measured 96.9% (seed 0)
    sd = gradc.load(tmp_path / "lenet_bn.gradc")
    assert "features.1.running_var" in sd


def test_compiled_training_agrees_with_eager_in_eval_mode():
    """Acceptance 2's compiled half: the same steps through ``gradc.compile`` (numba), dropout
    drawing eager's stream for the same seed, BatchNorm updating its running statistics as
    buffers written back; the trained nets agree in eval mode."""
    sys.path.insert(0, str(ROOT / "examples"))
    example, data = load("lenet_bn"), load("data")
    x, y, xt, _ = data.load_digits()
    x, y = x[:200], y[:200]
    nets = []
    for compiled in (False, True):
        gradc.manual_seed(0)
        net = example.LeNetBN()
        losses = example.train(net, x, y, epochs=2, compiled=compiled)
        nets.append((net, losses))
    (a, la), (b, lb) = nets
    np.testing.assert_allclose(la, lb, rtol=1e-3)
    # Not every parameter: the bias of a Linear feeding BatchNorm has a zero gradient up to
    # float32 rounding, which AdamW's scale-free steps turn into lr-sized noise in any two
    # implementations; BatchNorm's running mean absorbs it, so eval outputs still agree.
    sa, sb = a.state_dict(), b.state_dict()
    for k in [k for k in sa if k.endswith("num_batches_tracked")]:
        assert sa[k].item() == sb[k].item() == len(la)
    a.eval(), b.eval()
    with gradc.no_grad():
        pa, pb = a(gradc.from_numpy(xt[:64])).numpy(), b(gradc.from_numpy(xt[:64])).numpy()
    print("eval logits: max |diff|", np.abs(pa - pb).max(), "scale", np.abs(pa).max())
    assert np.abs(pa - pb).max() <= 1e-2 * np.abs(pa).max()
    assert (pa.argmax(1) == pb.argmax(1)).all()
