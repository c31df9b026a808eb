"""Padding layers: constant (and zero), reflection, replication and circular, in 1, 2 and 3 dims.

Each pads the trailing 1, 2 or 3 dims through ``F.pad``; ``padding`` is an int (every side) or
a tuple (left, right[, top, bottom[, front, back]]), as PyTorch's.

>>> import plugtorch as pt
>>> pt.nn.ReflectionPad1d(2)(pt.arange(3.).reshape(1, 3)).tolist()
[[2.0, 1.0, 0.0, 1.0, 2.0, 1.0, 0.0]]
"""
from __future__ import annotations

from plugtorch.nn import functional as F
from plugtorch.nn.modules.module import Module


def _sides(padding, nd):
    """An int pads every side; a tuple is taken as it is (as PyTorch's ``_ntuple``)."""
    return tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * (2 * nd)


class _PadNd(Module):
    _nd = 1
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _sides(padding, self._nd)

    def _check_input_dim(self, input):
        """The circular layers' own error (F.pad refuses the other modes' bad dims itself)."""
        nd = self._nd
        if input.ndim not in (nd + 1, nd + 2) and self._mode == "circular":
            raise ValueError(f"expected {nd + 1}D or {nd + 2}D input (got {input.ndim}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(Module):
    _nd = 1

    def __init__(self, padding, value):
        super().__init__()
        self.padding = _sides(padding, self._nd)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with ``value``: (N, C, W) -> (N, C, W + left + right)."""


class ConstantPad2d(_ConstantPadNd):
    """Pad the last 2 dims with ``value``."""
    _nd = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last 3 dims with ``value``."""
    _nd = 3


class _ZeroPad:
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPad, ConstantPad1d):
    """Pad the last dim with zeros."""


class ZeroPad2d(_ZeroPad, ConstantPad2d):
    """Pad the last 2 dims with zeros."""


class ZeroPad3d(_ZeroPad, ConstantPad3d):
    """Pad the last 3 dims with zeros."""


class _ReflectionPadNd(_PadNd):
    _mode = "reflect"


class ReflectionPad1d(_ReflectionPadNd):
    """Mirror the last dim without repeating the edge: [0, 1, 2] padded by 2 -> [2, 1, 0, 1, 2, 1, 0]."""


class ReflectionPad2d(_ReflectionPadNd):
    """Mirror the last 2 dims without repeating the edges."""
    _nd = 2


class ReflectionPad3d(_ReflectionPadNd):
    """Mirror the last 3 dims without repeating the edges."""
    _nd = 3


class _ReplicationPadNd(_PadNd):
    _mode = "replicate"


class ReplicationPad1d(_ReplicationPadNd):
    """Repeat the edge values of the last dim."""


class ReplicationPad2d(_ReplicationPadNd):
    """Repeat the edge values of the last 2 dims."""
    _nd = 2


class ReplicationPad3d(_ReplicationPadNd):
    """Repeat the edge values of the last 3 dims."""
    _nd = 3


class _CircularPadNd(_PadNd):
    _mode = "circular"


class CircularPad1d(_CircularPadNd):
    """Wrap the last dim around: [0, 1, 2] padded by 1 -> [2, 0, 1, 2, 0]."""


class CircularPad2d(_CircularPadNd):
    """Wrap the last 2 dims around."""
    _nd = 2


class CircularPad3d(_CircularPadNd):
    """Wrap the last 3 dims around."""
    _nd = 3
