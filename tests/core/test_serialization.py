"""gradc.save / gradc.load: round trips of tensors, state dicts and optimizer state; the file
holds JSON and .npy only, so loading a hostile file cannot run code."""

from __future__ import annotations

import io
import json
import math
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import gradc
import gradc.nn as nn


def roundtrip(obj, tmp_path, name="x.gradc"):
    path = tmp_path / name
    gradc.save(obj, path)
    return gradc.load(path)


def test_tensor_roundtrip_keeps_dtype_shape_values_and_requires_grad(tmp_path):
    for t in [
        gradc.randn(2, 3),
        gradc.randn(4, dtype=gradc.float64, requires_grad=True),
        gradc.tensor([1, 2, 3]),
        gradc.tensor(True),
        gradc.zeros(0, 5),
    ]:
        back = roundtrip(t, tmp_path)
        assert back.dtype is t.dtype and back.shape == t.shape
        assert back.requires_grad == t.requires_grad and back.is_leaf
        np.testing.assert_array_equal(back.detach().numpy(), t.detach().numpy())


def test_state_dict_roundtrip_loads_into_a_fresh_model(tmp_path):
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 2))
    net(gradc.randn(3, 1, 4, 4))  # move the running statistics
    sd = roundtrip(net.state_dict(), tmp_path)
    assert isinstance(sd, OrderedDict) and list(sd) == list(net.state_dict())
    assert sd["1.num_batches_tracked"].dtype is gradc.int64
    fresh = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(), nn.Linear(8, 2))
    fresh.load_state_dict(sd)
    net.eval(), fresh.eval()
    x = gradc.randn(2, 1, 4, 4)
    np.testing.assert_array_equal(fresh(x).detach().numpy(), net(x).detach().numpy())


def test_checkpoint_with_optimizer_state_numbers_tuples_and_strings(tmp_path):
    net = nn.Linear(3, 2)
    opt = gradc.optim.Adam(net.parameters(), lr=0.01, betas=(0.8, 0.9))
    net(gradc.randn(4, 3)).sum().backward()
    opt.step()
    ckpt = {
        "model": net.state_dict(),
        "opt": opt.state_dict(),
        "epoch": 3,
        "loss": 0.25,
        "best": math.inf,
        "name": "lenet",
        "tags": ["a", None, True],
        "shape": (2, 3),
        "array": np.arange(4.0),
    }
    back = roundtrip(ckpt, tmp_path)
    assert back["epoch"] == 3 and back["loss"] == 0.25 and back["best"] == math.inf
    assert back["name"] == "lenet" and back["tags"] == ["a", None, True]
    assert back["shape"] == (2, 3) and isinstance(back["shape"], tuple)
    np.testing.assert_array_equal(back["array"], np.arange(4.0))
    assert back["opt"]["param_groups"][0]["betas"] == (0.8, 0.9)
    assert set(back["opt"]["state"]) == {0, 1}  # int keys survive
    opt2 = gradc.optim.Adam(nn.Linear(3, 2).parameters(), lr=0.5)
    opt2.load_state_dict(back["opt"])
    assert opt2.param_groups[0]["lr"] == 0.01


def test_shared_tensors_load_shared_and_parameters_stay_parameters(tmp_path):
    t = gradc.randn(3)
    p = nn.Parameter(gradc.randn(2))
    back = roundtrip({"a": t, "b": t, "p": p}, tmp_path)
    assert back["a"] is back["b"] and isinstance(back["p"], nn.Parameter)


def test_file_objects(tmp_path):
    buf = io.BytesIO()
    gradc.save({"x": gradc.ones(2)}, buf)
    buf.seek(0)
    assert gradc.load(buf, map_location="cpu")["x"].tolist() == [1.0, 1.0]


def test_unsupported_objects_are_refused_with_a_hint(tmp_path):
    with pytest.raises(TypeError, match="state_dict"):
        gradc.save(nn.Linear(2, 2), tmp_path / "m.gradc")
    with pytest.raises(gradc.GradcError, match="function"):
        gradc.save({"f": lambda: 0}, tmp_path / "f.gradc")


class _Boom:
    def __reduce__(self):
        return (print, ("pwned",))


def test_loading_never_unpickles(tmp_path, capsys):
    # a zip in gradc's layout whose array entry is a pickled object
    path = tmp_path / "evil.gradc"
    structure = {"format": "gradc.save", "version": 1, "object": {"__ndarray__": "data/0.npy"}}
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array([_Boom()], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("structure.json", json.dumps(structure))
        z.writestr("data/0.npy", buf.getvalue())
    with pytest.raises(gradc.GradcError, match="damaged"):
        gradc.load(path)
    assert "pwned" not in capsys.readouterr().out
    pickled = tmp_path / "torch_style.pt"
    pickled.write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(RuntimeError, match="not a gradc.save archive"):
        gradc.load(pickled)
    assert "pwned" not in capsys.readouterr().out
