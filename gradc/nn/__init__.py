"""``gradc.nn``: modules, layers, losses and initialisers with PyTorch's names and behaviour.

>>> import gradc.nn as nn, gradc.nn.functional as F
>>> net = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
...                     nn.Linear(6 * 14 * 14, 10))
>>> net(gradc.randn(4, 1, 32, 32)).shape
gradc.Size([4, 10])
"""

from gradc.nn import functional, init, utils
from gradc.nn.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from gradc.nn.activation_more import ELU, GELU, Hardtanh, Identity, LeakyReLU, ReLU6, SiLU, Softplus
from gradc.nn.adaptive import AdaptiveAvgPool2d
from gradc.nn.container import ModuleDict, ModuleList, Sequential
from gradc.nn.conv import Conv2d
from gradc.nn.dropout import Dropout
from gradc.nn.flatten import Flatten
from gradc.nn.linear import Linear
from gradc.nn.loss import CrossEntropyLoss, MSELoss, NLLLoss
from gradc.nn.module import IncompatibleKeys, Module, ModuleError, StateDictError
from gradc.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from gradc.nn.parameter import Parameter
from gradc.nn.pooling import AvgPool2d, MaxPool2d
from gradc.nn.sparse import Embedding

__all__ = [
    "functional",
    "init",
    "Module",
    "Parameter",
    "Linear",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "LogSoftmax",
    "Flatten",
    "Sequential",
    "Dropout",
    "MSELoss",
    "CrossEntropyLoss",
    "NLLLoss",
    "ModuleError",
    "StateDictError",
    "IncompatibleKeys",
    # more layers (activation_more, normalization, sparse, adaptive, container)
    "ELU",
    "GELU",
    "Hardtanh",
    "Identity",
    "LeakyReLU",
    "ReLU6",
    "SiLU",
    "Softplus",
    "AdaptiveAvgPool2d",
    "ModuleList",
    "ModuleDict",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "Embedding",
    "utils",
]
