"""Conv1d/2d/3d and ConvTranspose1d/2d/3d, and their Lazy forms.

Weights are (out, in/groups, *kernel) (transposed: (in, out/groups, *kernel)) and start as
PyTorch's: kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias likewise.

>>> import plugtorch as pt
>>> pt.nn.Conv2d(3, 8, 3, padding=1)(pt.ones(2, 3, 5, 5)).shape
plugtorch.Size([2, 8, 5, 5])
"""
from __future__ import annotations

import plugtorch as pt
from plugtorch.nn import functional as F
from plugtorch.nn import init
from plugtorch.nn.functional._utils import _ntuple
from plugtorch.nn.modules.lazy import LazyModuleMixin
from plugtorch.nn.modules.module import Module, optional_parameter
from plugtorch.nn.parameter import Parameter, UninitializedParameter


class _ConvNd(Module):
    _nd = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None, output_padding=0):
        super().__init__()
        tup = _ntuple(self._nd)
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
            if padding == "same" and any(s != 1 for s in tup(stride)):
                raise ValueError("padding='same' is not supported for strided convolutions")
        if padding_mode != "zeros":
            if padding_mode not in ("reflect", "replicate", "circular"):
                raise ValueError(f"padding_mode must be one of ['zeros', 'reflect', 'replicate', 'circular'], "
                                 f"but got padding_mode='{padding_mode}'")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = tup(kernel_size), tup(stride)
        self.padding = padding if isinstance(padding, str) else tup(padding)
        self.dilation, self.groups, self.padding_mode = tup(dilation), groups, padding_mode
        self.output_padding = tup(output_padding)
        self.transposed = self._transposed
        shape = ((in_channels, out_channels // groups) if self._transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(pt.empty(shape, device=device, dtype=dtype))
        optional_parameter(self, "bias", (out_channels,), bias, device=device, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init._default_weight_and_bias_(self.weight, self.bias)

    def _check_input(self, input):
        nd = self._nd
        if input.ndim not in (nd + 1, nd + 2):
            raise RuntimeError(f"{type(self).__name__}: expected {nd + 1}D (unbatched) or {nd + 2}D (batched) "
                               f"input, but got input of size: {list(input.shape)}")
        c = input.shape[-nd - 1]
        if c != self.in_channels:
            raise RuntimeError(f"{type(self).__name__}: expected input with {self.in_channels} channels, got {c} "
                               f"(input of size {list(input.shape)})")

    def _padded(self, input):
        """Non-zero padding modes pad explicitly, then convolve without padding ('same' too: the
        total d * (k - 1) per dim, the smaller half first, as PyTorch's)."""
        if self.padding_mode == "zeros" or self.padding == "valid":
            return input, self.padding
        pads = []
        if self.padding == "same":
            for d, k in zip(reversed(self.dilation), reversed(self.kernel_size)):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
        else:
            for p in reversed(self.padding):
                pads += [p, p]
        return F.pad(input, pads, mode=self.padding_mode), 0

    def forward(self, input):
        self._check_input(input)
        x, pad = self._padded(input)
        return type(self)._conv(x, self.weight, self.bias, self.stride, pad, self.dilation, self.groups)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding if isinstance(self.padding, str) else self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self._transposed and self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-d convolution over (N, C_in, L)."""

    _nd = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)

    _conv = staticmethod(F.conv1d)


class Conv2d(_ConvNd):
    """2-d convolution over (N, C_in, H, W): stride, padding (ints, 'same', 'valid'), dilation, groups."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)

    _conv = staticmethod(F.conv2d)


class Conv3d(_ConvNd):
    """3-d convolution over (N, C_in, D, H, W): stride, padding (ints, 'same', 'valid'), dilation, groups."""

    _nd = 3

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)

    _conv = staticmethod(F.conv3d)


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, output_padding)

    def forward(self, input, output_size=None):
        self._check_input(input)
        nd, op = self._nd, self.output_padding
        if output_size is not None:
            op = self._output_padding(input, output_size)
        return type(self)._conv(input, self.weight, self.bias, self.stride, self.padding, op, self.groups,
                                self.dilation)


    def _output_padding(self, input, output_size):
        """The output_padding that gives ``output_size`` (the spatial sizes, or with the batch and
        channel dims in front); PyTorch's ValueError for a size no output_padding < stride reaches."""
        nd = self._nd
        lead = 2 if input.ndim == nd + 2 else 1
        size = [int(v) for v in output_size]
        if len(size) == lead + nd:
            size = size[lead:]
        if len(size) != nd:
            raise ValueError(f"ConvTranspose{nd}D: for {input.ndim}D input, output_size must have {nd} or "
                             f"{lead + nd} elements (got {len(size)})")
        lo = [(input.shape[-nd + i] - 1) * self.stride[i] - 2 * self.padding[i]
              + self.dilation[i] * (self.kernel_size[i] - 1) + 1 for i in range(nd)]
        hi = [lo[i] + self.stride[i] - 1 for i in range(nd)]
        if any(not lo[i] <= size[i] <= hi[i] for i in range(nd)):
            raise ValueError(f"requested an output size of {size}, but valid sizes range from {lo} to {hi} (for an "
                             f"input of {list(input.shape[-nd:])})")
        return tuple(size[i] - lo[i] for i in range(nd))


class ConvTranspose1d(_ConvTransposeNd):
    """The gradient of Conv1d with respect to its input, as a layer."""

    _nd = 1
    _conv = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    """The gradient of Conv2d with respect to its input, as a layer (a.k.a. deconvolution)."""

    _conv = staticmethod(F.conv_transpose2d)


class ConvTranspose3d(_ConvTransposeNd):
    """The gradient of Conv3d with respect to its input, as a layer."""

    _nd = 3
    _conv = staticmethod(F.conv_transpose3d)


class _LazyConvMixin(LazyModuleMixin):
    """``in_channels`` is read from the first input (dim 1, or dim 0 unbatched)."""

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None, output_padding=None):
        extra = {} if output_padding is None else {"output_padding": output_padding}
        super().__init__(0, 0, kernel_size, stride=stride, padding=padding, dilation=dilation, groups=groups,
                         bias=False, padding_mode=padding_mode, device=device, dtype=dtype, **extra)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        if not self.has_uninitialized_params():
            return
        nd = self._nd
        if input.ndim not in (nd + 1, nd + 2):
            raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                               f"{type(self).__name__}, but got input of size: {list(input.shape)}")
        in_channels = input.shape[-nd - 1]
        if in_channels % self.groups:
            raise ValueError("in_channels must be divisible by groups")
        if self.out_channels % self.groups:
            raise ValueError("out_channels must be divisible by groups")
        self.in_channels = in_channels
        shape = ((in_channels, self.out_channels // self.groups) if self._transposed
                 else (self.out_channels, in_channels // self.groups)) + self.kernel_size
        with pt.no_grad():
            self.weight.materialize(shape)
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()

    def _sizes_from_weights(self) -> None:
        w = self.weight.shape
        if self._transposed:
            self.in_channels, self.out_channels = w[0], w[1] * self.groups
        else:
            self.out_channels, self.in_channels = w[0], w[1] * self.groups


class LazyConv1d(_LazyConvMixin, Conv1d):
    """A Conv1d whose ``in_channels`` is read from its first input (then it becomes a Conv1d)."""
    cls_to_become = Conv1d


class LazyConv2d(_LazyConvMixin, Conv2d):
    """A Conv2d whose ``in_channels`` is read from its first input (then it becomes a Conv2d)."""
    cls_to_become = Conv2d


class LazyConv3d(_LazyConvMixin, Conv3d):
    """A Conv3d whose ``in_channels`` is read from its first input (then it becomes a Conv3d)."""
    cls_to_become = Conv3d


class _LazyConvTransposeMixin(_LazyConvMixin):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True,
                 dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode, device,
                         dtype, output_padding=output_padding)


class LazyConvTranspose1d(_LazyConvTransposeMixin, ConvTranspose1d):
    """A ConvTranspose1d whose ``in_channels`` is read from its first input."""
    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTransposeMixin, ConvTranspose2d):
    """A ConvTranspose2d whose ``in_channels`` is read from its first input."""
    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTransposeMixin, ConvTranspose3d):
    """A ConvTranspose3d whose ``in_channels`` is read from its first input."""
    cls_to_become = ConvTranspose3d
