"""gradc: PyTorch-style tensors and autograd that trace into a graph IR and compile with numba.

>>> import gradc
>>> x = gradc.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x.exp() * x).sum().backward()
>>> x.grad            # (1 + x) * exp(x)
"""

from gradc import autograd, nn, optim
from gradc import ops as _ops  # noqa: F401  (registers the op table)
from gradc._tensor import Size, Tensor
from gradc.advanced_indexing import *  # noqa: F403
from gradc.autodiff import grad_graph, joint_graph, partition
from gradc.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from gradc.compiler import compile
from gradc.creation import (
    arange,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    linspace,
    manual_seed,
    ones,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    seed,
    tensor,
    zeros,
)
from gradc.device import device
from gradc.dtypes import (
    DType,
    float16,
    float32,
    float64,
    get_default_dtype,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from gradc.dtypes import bool_ as bool
from gradc.errors import (
    ArgumentError,
    AutogradError,
    DeviceError,
    DTypeError,
    GradcError,
    IndexRangeError,
    ShapeError,
    TraceError,
)
from gradc.functions import *  # noqa: F403
from gradc.functions import as_tensor, full_like, ones_like, zeros_like
from gradc.lowering import Program, lower
from gradc.math_functions import *  # noqa: F403
from gradc.ops.pointwise import elementwise
from gradc.reductions_more import *  # noqa: F403
from gradc.selection import *  # noqa: F403
from gradc.serialization import load, save
from gradc.shape_functions import *  # noqa: F403
from gradc.trace import Dim, TensorSpec, trace

float = float32
double = float64
half = float16
long = int64
int = int32
dtype = DType


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(x):
    return x.numel()


class cuda:
    """``gradc.cuda.is_available()`` is False until the GPU backend lands."""

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def device_count() -> int:
        return 0


__version__ = "0.1.0"
