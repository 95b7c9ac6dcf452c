"""nn.Module's API: registration, iteration order, modes, grads, dtype/device, repr, init."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest

import gradc
import gradc.nn as nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.act = nn.ReLU()
        self.register_buffer("scale", gradc.ones(3))
        self.register_buffer("scratch", gradc.zeros(2), persistent=False)

    def forward(self, x):
        return self.act(self.conv(x)) * self.scale.view(1, 3, 1, 1)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 5), nn.Dropout(0.5))
        self.extra = nn.Parameter(gradc.zeros(2))

    def forward(self, x):
        return self.head(self.block(x)) + self.extra.sum()


def test_named_parameters_in_registration_order():
    m = Model()
    names = [n for n, _ in m.named_parameters()]
    assert names == [
        "extra",
        "block.conv.weight",
        "block.conv.bias",
        "head.1.weight",
        "head.1.bias",
    ]
    assert [p for p in m.parameters()][1] is m.block.conv.weight
    assert [n for n, _ in m.named_parameters(recurse=False)] == ["extra"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in m.parameters())


def test_shared_parameters_are_listed_once():
    m = Model()
    m.head[1].weight = m.head[1].weight  # same object, same slot
    m.tied = m.block.conv  # the same module under a second name
    assert len(list(m.parameters())) == 5
    assert [n for n, _ in m.named_modules()].count("tied") == 0


def test_modules_children_and_named_modules():
    m = Model()
    assert [n for n, _ in m.named_children()] == ["block", "head"]
    assert list(m.children()) == [m.block, m.head]
    names = [n for n, _ in m.named_modules()]
    assert names == ["", "block", "block.conv", "block.act", "head", "head.0", "head.1", "head.2"]
    assert list(m.modules())[0] is m
    assert m.get_submodule("head.1") is m.head[1]


def test_buffers_and_state_dict_keys():
    m = Model()
    assert [n for n, _ in m.named_buffers()] == ["block.scale", "block.scratch"]
    keys = list(m.state_dict())  # torch's order: a module's own tensors, then its children's
    assert keys == [
        "extra",
        "block.scale",
        "block.conv.weight",
        "block.conv.bias",
        "head.1.weight",
        "head.1.bias",
    ]
    sd = m.state_dict()
    assert not sd["extra"].requires_grad and sd["extra"]._data is m.extra._data  # shares storage
    assert m.state_dict(keep_vars=True)["extra"] is m.extra


def test_train_eval_reach_every_submodule():
    m = Model()
    assert all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    x = gradc.randn(2, 2, 4, 4)
    np.testing.assert_array_equal(
        m(x).detach().numpy(), m(x).detach().numpy()
    )  # dropout is off in eval
    m.train()
    assert all(x.training for x in m.modules())


def test_zero_grad_set_to_none_and_in_place():
    m = Model()
    m(gradc.randn(2, 2, 4, 4)).sum().backward()
    grads = [p.grad for p in m.parameters()]
    assert all(g is not None for g in grads)
    m.zero_grad(set_to_none=False)
    for p, g in zip(m.parameters(), grads):
        assert p.grad is g and not p.grad.numpy().any()
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())


def test_to_double_converts_in_place():
    m = Model()
    w = m.block.conv.weight
    m(gradc.randn(1, 2, 4, 4)).sum().backward()
    assert m.double() is m
    assert m.block.conv.weight is w and w.dtype is gradc.float64
    assert w.grad.dtype is gradc.float64 and m.block.scale.dtype is gradc.float64
    assert m(gradc.randn(1, 2, 4, 4, dtype=gradc.float64)).dtype is gradc.float64
    m.to(gradc.float32)
    assert w.dtype is gradc.float32
    m.to("cpu").to(gradc.zeros(1, dtype=gradc.float64))
    assert w.dtype is gradc.float64
    m.float()
    assert w.dtype is gradc.float32 and m.cpu() is m
    with pytest.raises(gradc.DTypeError, match="floating point"):
        m.to(gradc.int64)


def test_cuda_raises_device_error():
    with pytest.raises(gradc.DeviceError, match="CUDA") as info:
        Model().cuda()
    assert "Model.cuda()" in str(info.value) and "test_module.py:" in str(info.value)
    with pytest.raises(gradc.DeviceError):
        Model().to("cuda")


def test_parameter():
    p = nn.Parameter(gradc.tensor([1.0, 2.0]))
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    assert p.is_leaf and p.requires_grad and isinstance(p, gradc.Tensor)
    t = gradc.zeros(3)
    assert nn.Parameter(t)._data is t._data  # shares storage, as torch does
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    q = p * 2
    assert type(q) is gradc.Tensor and q.grad_fn is not None


def test_misuse_raises_module_errors():
    class NoInit(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(nn.ModuleError, match="before Module.__init__"):
        NoInit()
    m = nn.Linear(2, 2)
    with pytest.raises(nn.ModuleError, match="parameter 'weight'"):
        m.weight = gradc.zeros(2, 2)
    with pytest.raises(nn.ModuleError, match='missing the required "forward"'):
        nn.Module()(gradc.zeros(1))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        m.nope  # noqa: B018
    m.bias = None  # allowed, as in torch
    assert m.bias is None and [n for n, _ in m.named_parameters()] == ["weight"]
    assert m(gradc.zeros(3, 2)).shape == (3, 2)
    with pytest.raises(gradc.GradcError, match="out of range"):
        nn.Sequential(nn.ReLU())[3]


def test_reprs_match_torch():
    assert repr(nn.Linear(400, 120)) == "Linear(in_features=400, out_features=120, bias=True)"
    assert repr(nn.Linear(3, 2, bias=False)) == "Linear(in_features=3, out_features=2, bias=False)"
    assert repr(nn.Conv2d(1, 6, 5)) == "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))"
    assert (
        repr(nn.Conv2d(4, 8, (3, 1), stride=2, padding=1, dilation=2, groups=2, bias=False))
        == "Conv2d(4, 8, kernel_size=(3, 1), stride=(2, 2), padding=(1, 1), dilation=(2, 2), "
        "groups=2, bias=False)"
    )
    assert repr(nn.Conv2d(1, 1, 3, padding="same")) == (
        "Conv2d(1, 1, kernel_size=(3, 3), stride=(1, 1), padding=same)"
    )
    assert repr(nn.MaxPool2d(2)) == (
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    )
    assert repr(nn.MaxPool2d((2, 3), 1)) == (
        "MaxPool2d(kernel_size=(2, 3), stride=1, padding=0, dilation=1, ceil_mode=False)"
    )
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.ReLU()) == "ReLU()" and repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.Sigmoid()) == "Sigmoid()" and repr(nn.Tanh()) == "Tanh()"
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.Dropout()) == "Dropout(p=0.5, inplace=False)"
    assert repr(nn.MSELoss()) == "MSELoss()"
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(nn.NLLLoss()) == "NLLLoss()"


def test_nested_repr_indents_like_torch():
    m = Model()
    assert repr(m) == (
        "Model(\n"
        "  (block): Block(\n"
        "    (conv): Conv2d(2, 3, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
        "    (act): ReLU()\n"
        "  )\n"
        "  (head): Sequential(\n"
        "    (0): Flatten(start_dim=1, end_dim=-1)\n"
        "    (1): Linear(in_features=48, out_features=5, bias=True)\n"
        "    (2): Dropout(p=0.5, inplace=False)\n"
        "  )\n"
        ")"
    )
    named = nn.Sequential(OrderedDict(fc=nn.Linear(2, 2), act=nn.Tanh()))
    assert repr(named) == (
        "Sequential(\n  (fc): Linear(in_features=2, out_features=2, bias=True)\n  (act): Tanh()\n)"
    )


def test_sequential_container():
    seq = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    seq.append(nn.Linear(3, 2))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    assert isinstance(seq[1:], nn.Sequential) and len(seq[1:]) == 2
    x = gradc.randn(5, 4)
    with gradc.no_grad():
        np.testing.assert_allclose(seq(x).numpy(), seq[2](seq[1](seq[0](x))).numpy())


@pytest.mark.parametrize(
    "layer",
    [lambda: nn.Linear(50, 40), lambda: nn.Conv2d(6, 16, 5), lambda: nn.Conv2d(4, 8, 3, groups=2)],
)
def test_default_init_is_torchs_kaiming_uniform(layer):
    gradc.manual_seed(0)
    m = layer()
    fan_in = math.prod(m.weight.shape[1:])
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) and the bias rule agree
    for p in (m.weight, m.bias):
        v = p.detach().numpy()
        assert np.abs(v).max() <= bound
        if v.size > 100:
            assert np.abs(v).max() > 0.95 * bound  # fills the interval, not a narrower one
            assert abs(v.std() - bound / math.sqrt(3)) < 0.1 * bound
    gradc.manual_seed(0)
    np.testing.assert_array_equal(layer().weight.detach().numpy(), m.weight.detach().numpy())


def test_init_functions():
    w = nn.Parameter(gradc.empty(64, 32))
    nn.init.xavier_uniform_(w)
    assert np.abs(w.detach().numpy()).max() <= math.sqrt(6 / 96)
    nn.init.constant_(w, 0.5)
    assert (w.detach().numpy() == 0.5).all()
    nn.init.zeros_(w)
    assert not w.detach().numpy().any()
    assert nn.init.calculate_gain("relu") == math.sqrt(2)
    assert nn.init.calculate_gain("tanh") == 5 / 3
    with pytest.raises(gradc.ShapeError, match="fewer than 2 dims"):
        nn.init.kaiming_uniform_(nn.Parameter(gradc.zeros(3)))


def test_apply_and_requires_grad():
    m = Model()
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen[-1] == "Model" and "Conv2d" in seen
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())
