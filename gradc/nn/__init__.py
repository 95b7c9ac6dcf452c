"""``gradc.nn``: modules, layers, losses and initialisers with PyTorch's names and behaviour.

>>> import gradc.nn as nn, gradc.nn.functional as F
>>> net = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
...                     nn.Linear(6 * 14 * 14, 10))
>>> net(gradc.randn(4, 1, 32, 32)).shape
gradc.Size([4, 10])
"""

from gradc.nn import functional, init
from gradc.nn.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from gradc.nn.container import Sequential
from gradc.nn.conv import Conv2d
from gradc.nn.dropout import Dropout
from gradc.nn.flatten import Flatten
from gradc.nn.linear import Linear
from gradc.nn.loss import CrossEntropyLoss, MSELoss, NLLLoss
from gradc.nn.module import IncompatibleKeys, Module, ModuleError, StateDictError
from gradc.nn.parameter import Parameter
from gradc.nn.pooling import AvgPool2d, MaxPool2d

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
]
