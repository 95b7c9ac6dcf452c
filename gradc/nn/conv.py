"""``nn.Conv2d``: a layer over the ``conv2d`` op."""

from __future__ import annotations

from gradc.creation import empty
from gradc.errors import GradcError, ShapeError
from gradc.nn import functional as F
from gradc.nn import init
from gradc.nn.module import Module
from gradc.nn.parameter import Parameter
from gradc.ops.window import pair


class Conv2d(Module):
    """2-D convolution with torch's arguments, attributes, init and repr.

    >>> nn.Conv2d(1, 6, 5)
    Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype=None,
    ):
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ShapeError(
                f"in_channels ({in_channels}) and out_channels ({out_channels}) must be "
                f"divisible by groups ({groups})",
                op="Conv2d",
            ).with_context()
        if padding_mode != "zeros":
            raise GradcError(
                f"padding_mode={padding_mode!r} is not supported; only 'zeros'", op="Conv2d"
            ).with_context()
        try:
            self.kernel_size = pair(kernel_size, "kernel_size", minimum=1)
            self.stride = pair(stride, "stride", minimum=1)
            self.padding = padding if isinstance(padding, str) else pair(padding, "padding")
            self.dilation = pair(dilation, "dilation", minimum=1)
        except GradcError as e:
            raise e.with_context(op="Conv2d") from None
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.output_padding, self.transposed, self.padding_mode = (0, 0), False, padding_mode
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(empty(*shape, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_(self.weight, self.bias)

    def forward(self, input):
        return F.conv2d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
