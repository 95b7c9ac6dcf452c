"""Devices are part of a tensor's type from day one, so the CUDA backend plugs in later."""

from __future__ import annotations

from gradc.errors import DeviceError

_CUDA_MSG = (
    "CUDA support arrives with the GPU backend (see the CUDA backend issue); "
    "until then gradc runs on the CPU: drop .cuda() / device='cuda'"
)


class device:
    """``gradc.device('cpu')``: compares equal to its string spelling, as torch.device does."""

    __slots__ = ("type", "index")

    def __init__(self, spec="cpu", index: int | None = None):
        if isinstance(spec, device):
            spec, index = spec.type, spec.index
        spec = str(spec)
        if ":" in spec:
            spec, idx = spec.split(":", 1)
            index = int(idx)
        if spec not in ("cpu", "cuda"):
            raise DeviceError(f"unknown device {spec!r}: expected 'cpu' or 'cuda'")
        self.type, self.index = spec, index

    def __eq__(self, other) -> bool:
        try:
            other = device(other)
        except (DeviceError, ValueError):
            return NotImplemented
        return (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"


CPU = device("cpu")


def as_device(spec) -> device:
    """Parse a device and refuse the ones this build cannot run on yet."""
    d = spec if isinstance(spec, device) else device(spec)
    if d.type == "cuda":
        raise DeviceError(_CUDA_MSG)
    return d
