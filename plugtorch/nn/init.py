"""``plugtorch.nn.init``: fill a tensor in place from the distributions PyTorch's layers use.

All functions run under ``no_grad`` and return the tensor.

>>> import plugtorch as pt
>>> w = pt.empty(3, 5)
>>> _ = pt.nn.init.constant_(w, 0.5)
>>> w.sum().item()
7.5
"""
from __future__ import annotations

import math
import warnings

import numpy as np

import plugtorch as pt

_LINEAR = {"linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid"}


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for ``nonlinearity`` (relu: sqrt(2), tanh: 5/3, selu: 3/4 ...)."""
    if nonlinearity in _LINEAR:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = 1
    for s in tensor.shape[2:]:
        receptive *= s
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    with pt.no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    with pt.no_grad():
        return tensor.normal_(mean, std, generator=generator)


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, generator=None):
    """Normal(mean, std) restricted to [a, b], by inverting the CDF of a uniform draw (as PyTorch).
    The draw is on the tensor's device, from ``generator`` (or that device's default stream)."""
    def cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0
    if not a <= b:
        raise RuntimeError(f"trunc_normal_(): expects a <= b (the interval values are truncated to), "
                           f"but got a={a} > b={b}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The distribution of values "
                      "may be incorrect.", stacklevel=2)
    lo, hi = cdf((a - mean) / std), cdf((b - mean) / std)
    with pt.no_grad():
        u = pt.empty(tuple(tensor.shape), dtype=_draw_dtype(tensor), device=tensor.device)
        u.uniform_(2 * lo - 1, 2 * hi - 1, generator=generator)
        return tensor.copy_((u.erfinv() * (std * math.sqrt(2.0)) + mean).clamp(a, b))


def _draw_dtype(tensor):
    """float64 for a float64 tensor, else float32: a float16 draw is too coarse for the tails."""
    return pt.float64 if tensor.dtype is pt.float64 else pt.float32


def constant_(tensor, val: float):
    with pt.no_grad():
        return tensor.fill_(val)


def ones_(tensor):
    return constant_(tensor, 1.0)


def zeros_(tensor):
    return constant_(tensor, 0.0)


def eye_(tensor):
    """The identity matrix (2-D tensors only)."""
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    with pt.no_grad():
        return tensor.copy_(pt.eye(*tensor.shape, dtype=tensor.dtype, device=tensor.device))


def dirac_(tensor, groups: int = 1):
    """Identity-preserving convolution weights (3-, 4- or 5-D)."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if tensor.shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = tensor.shape[0] // groups
    w = np.zeros(tuple(tensor.shape))
    centre = tuple(s // 2 for s in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(out_per_group, tensor.shape[1])):
            w[(g * out_per_group + d, d) + centre] = 1
    with pt.no_grad():
        return tensor.copy_(pt.tensor(w, dtype=tensor.dtype, device=tensor.device))


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def kaiming_uniform_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """U(-bound, bound) with bound = gain * sqrt(3 / fan)."""
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _calculate_correct_fan(tensor, mode))
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """N(0, std^2) with std = gain / sqrt(fan)."""
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    std = calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain: float = 1.0, generator=None):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal draw, times ``gain``."""
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0 or tensor.device.type == "meta":   # (a meta tensor has no values to set)
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    # drawn on the tensor's device (from its generator), factored on the host
    flat = pt.empty((rows, cols), dtype=_draw_dtype(tensor), device=tensor.device).normal_(0, 1, generator=generator)
    flat = flat.cpu().double().numpy()
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    with pt.no_grad():
        return tensor.copy_(pt.tensor(q.reshape(tuple(tensor.shape)) * gain, dtype=tensor.dtype,
                                      device=tensor.device))


def sparse_(tensor, sparsity: float, std: float = 0.01, generator=None):
    """A 2-D sparse matrix (Martens 2010): N(0, std^2) values with ``ceil(sparsity * rows)``
    zeros in each column. ``generator`` draws both the values and the zero rows (torch draws the
    rows from the global generator), so a seeded call is reproducible.

    >>> import plugtorch as pt
    >>> w = sparse_(pt.empty(4, 3), sparsity=0.5)
    >>> (w == 0).sum(0).tolist()
    [2, 2, 2]
    """
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    num_zeros = math.ceil(sparsity * rows)
    with pt.no_grad():
        tensor.normal_(0, std, generator=generator)
        if tensor.is_meta:   # no values to zero (a randperm per column of a huge meta matrix took minutes)
            return tensor
        for col in range(cols):
            zero_rows = pt.randperm(rows, generator=generator)[:num_zeros]
            tensor[zero_rows.to(tensor.device), col] = 0
    return tensor


def _default_weight_and_bias_(weight, bias):
    """Linear's and Conv's default: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    and the bias from the same range."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)


def _deprecated(new):
    old = new.__name__[:-1]

    def deprecated_init(*args, **kwargs):
        warnings.warn(f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new.__name__}`.",
                      FutureWarning, stacklevel=2)
        return new(*args, **kwargs)
    deprecated_init.__name__ = old
    deprecated_init.__doc__ = new.__doc__
    return deprecated_init


# PyTorch's deprecated names without the trailing underscore (each warns, as torch's)
uniform, normal, constant, eye, dirac = (_deprecated(f) for f in (uniform_, normal_, constant_, eye_, dirac_))
xavier_uniform, xavier_normal = _deprecated(xavier_uniform_), _deprecated(xavier_normal_)
kaiming_uniform, kaiming_normal = _deprecated(kaiming_uniform_), _deprecated(kaiming_normal_)
orthogonal, sparse = _deprecated(orthogonal_), _deprecated(sparse_)
