"""Acceptance 5: load_state_dict names every missing, unexpected and mis-shaped key."""

from __future__ import annotations

import numpy as np
import pytest

import gradc
import gradc.nn as nn


def net():
    return nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))


def arrays(m):
    return {k: v.numpy().copy() for k, v in m.state_dict().items()}


def test_round_trip_through_npz(tmp_path):
    gradc.manual_seed(0)
    a, b = net(), net()
    path = tmp_path / "w.npz"
    np.savez(path, **{k: v.numpy() for k, v in a.state_dict().items()})
    w = b[0].weight
    result = b.load_state_dict(dict(np.load(path)))
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b[0].weight is w  # copied into the same Parameter, which optimizers hold
    for k, v in arrays(a).items():
        np.testing.assert_array_equal(arrays(b)[k], v)
    x = gradc.randn(5, 4)
    with gradc.no_grad():
        np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


def test_loads_tensors_and_casts_dtype():
    a, b = net(), net().double()
    b.load_state_dict(a.state_dict())
    assert b[0].weight.dtype is gradc.float64
    np.testing.assert_allclose(b[0].weight.detach().numpy(), a[0].weight.detach().numpy())


def test_missing_key_is_named():
    sd = net().state_dict()
    del sd["2.bias"]
    m = net()
    before = arrays(m)
    with pytest.raises(nn.StateDictError) as e:
        m.load_state_dict(sd)
    msg = str(e.value)
    assert 'Missing key(s) in state_dict: "2.bias".' in msg
    assert msg.startswith("load_state_dict: Error(s) in loading state_dict for Sequential:")
    assert "test_state_dict.py" in msg  # the user's line
    assert e.value.missing_keys == ["2.bias"] and isinstance(e.value, RuntimeError)
    for k, v in before.items():  # nothing was copied
        np.testing.assert_array_equal(arrays(m)[k], v)


def test_unexpected_key_is_named():
    sd = net().state_dict()
    sd["3.weight"] = gradc.zeros(2, 2)
    with pytest.raises(nn.StateDictError, match=r'Unexpected key\(s\) in state_dict: "3.weight"'):
        net().load_state_dict(sd)


def test_wrong_shape_is_named_even_when_not_strict():
    sd = net().state_dict()
    sd["0.weight"] = np.zeros((3, 5), dtype=np.float32)
    expected = (
        "size mismatch for 0.weight: copying a param with shape gradc.Size([3, 5]) from "
        "checkpoint, the shape in current model is gradc.Size([3, 4])."
    )
    for strict in (True, False):
        with pytest.raises(nn.StateDictError) as e:
            net().load_state_dict(sd, strict=strict)
        assert expected in str(e.value) and e.value.mismatched_keys == ["0.weight"]


def test_all_problems_in_one_error_in_torch_order():
    sd = net().state_dict()
    del sd["0.bias"]
    sd["extra"] = gradc.zeros(1)
    sd["2.weight"] = gradc.zeros(1)
    with pytest.raises(nn.StateDictError) as e:
        net().load_state_dict(sd)
    lines = str(e.value).split("\n\t")
    assert lines[1].startswith('Missing key(s) in state_dict: "0.bias"')
    assert lines[2].startswith('Unexpected key(s) in state_dict: "extra"')
    assert lines[3].startswith("size mismatch for 2.weight")


def test_not_strict_reports_and_loads_the_rest():
    a, b = net(), net()
    sd = a.state_dict()
    del sd["2.bias"]
    sd["junk"] = gradc.zeros(1)
    missing, unexpected = b.load_state_dict(sd, strict=False)
    assert missing == ["2.bias"] and unexpected == ["junk"]
    np.testing.assert_array_equal(arrays(b)["0.weight"], arrays(a)["0.weight"])


def test_buffers_load_and_non_persistent_ones_are_skipped():
    class WithBuffers(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("running", gradc.zeros(3))
            self.register_buffer("cache", gradc.zeros(2), persistent=False)

    src = WithBuffers()
    src.running.fill_(2.0)
    dst = WithBuffers()
    assert list(dst.state_dict()) == ["running"]
    dst.load_state_dict(src.state_dict())
    np.testing.assert_array_equal(dst.running.numpy(), [2.0, 2.0, 2.0])


def test_non_tensor_value_is_rejected_by_name():
    sd = net().state_dict()
    sd["0.bias"] = "oops"
    with pytest.raises(nn.StateDictError, match="value for 0.bias is a str"):
        net().load_state_dict(sd)
