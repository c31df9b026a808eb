"""Activation functions: elementwise nonlinearities and softmax, written with plugtorch ops.

Piecewise functions use ``where`` with the unchosen branch fed a safe value, so its gradient
stays finite (an overflowing ``exp`` in the branch not taken would otherwise give 0 * inf).

>>> import plugtorch as pt
>>> pt.nn.functional.relu(pt.tensor([-1., 2.])).tolist()
[0.0, 2.0]
"""
from __future__ import annotations

import math
import warnings

import plugtorch as pt
from plugtorch.nn.functional._utils import check_tensors

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _out(input, result, inplace):
    return input.copy_(result) if inplace else result


def relu(input, inplace: bool = False):
    return _out(input, pt.relu(input), inplace) if inplace else pt.relu(input)


def relu_(input):
    return relu(input, inplace=True)


def threshold(input, threshold: float, value: float, inplace: bool = False):
    return _out(input, pt.where(input > threshold, input, value), inplace)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    inside = (input > min_val) & (input < max_val)
    return _out(input, pt.where(inside, input, pt.where(input <= min_val, min_val, max_val)), inplace)


def relu6(input, inplace: bool = False):
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    return _out(input, pt.where(input > 0, input, input * negative_slope), inplace)


def prelu(input, weight):
    """max(0, x) + weight * min(0, x), with one weight per channel (dim 1) or one in all."""
    if weight.numel() != 1:
        c = input.shape[1] if input.ndim >= 2 else input.shape[0] if input.ndim == 1 else 1
        if weight.numel() != c:
            raise RuntimeError(f"prelu: mismatch of parameter numbers and input channel size. Found parameter "
                               f"numbers = {weight.numel()} and channel size = {c}.")
        if input.ndim >= 2:
            weight = weight.reshape((c,) + (1,) * (input.ndim - 2))
    return pt.where(input > 0, input, weight * input)


def _neg_part(input):
    return pt.where(input > 0, 0.0, input)


def elu(input, alpha: float = 1.0, inplace: bool = False):
    return _out(input, pt.where(input > 0, input, _neg_part(input).expm1() * alpha), inplace)


def celu(input, alpha: float = 1.0, inplace: bool = False):
    return _out(input, pt.where(input > 0, input, (_neg_part(input) / alpha).expm1() * alpha), inplace)


def selu(input, inplace: bool = False):
    neg = _neg_part(input).expm1() * (_SELU_ALPHA * _SELU_SCALE)
    return _out(input, pt.where(input > 0, input * _SELU_SCALE, neg), inplace)


def gelu(input, approximate: str = "none"):
    """x * Phi(x); ``approximate='tanh'`` uses PyTorch's tanh formula."""
    if approximate == "none":
        return input * 0.5 * (1 + (input * (1 / math.sqrt(2))).erf())
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2 / math.pi)
        return input * 0.5 * (1 + inner.tanh())
    raise RuntimeError(f"approximate argument must be either none or tanh, got '{approximate}'")


def silu(input, inplace: bool = False):
    check_tensors("silu", input=input)
    return _out(input, input * input.sigmoid(), inplace)


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """log(1 + exp(beta x)) / beta, linear above ``threshold`` (as PyTorch)."""
    big = input * beta > threshold
    safe = pt.where(big, 0.0, input)
    return pt.where(big, input, (safe * beta).exp().log1p() / beta)


def mish(input, inplace: bool = False):
    return _out(input, input * softplus(input).tanh(), inplace)


def hardswish(input, inplace: bool = False):
    mid = input * (input + 3) / 6
    return _out(input, pt.where(input < -3, 0.0, pt.where(input > 3, input, mid)), inplace)


def hardsigmoid(input, inplace: bool = False):
    inside = (input > -3) & (input < 3)
    return _out(input, pt.where(inside, input / 6 + 0.5, pt.where(input <= -3, 0.0, 1.0)), inplace)


def tanh(input):
    return input.tanh()


def sigmoid(input):
    return input.sigmoid()


def logsigmoid(input):
    return -softplus(-input)


def softsign(input):
    return input / (1 + input.abs())


def tanhshrink(input):
    return input - input.tanh()


def glu(input, dim: int = -1):
    if input.shape[dim] % 2:
        raise RuntimeError(f"glu(): halving dimension must be even, but dimension {dim} is size {input.shape[dim]}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def _softmax_dim(name, ndim):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                  "as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim)
    return pt.softmax(input, dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmin", input.ndim)
    return pt.softmax(-input, dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim)
    return pt.log_softmax(input, dim, dtype=dtype)


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12):
    """input / max(||input||_p along dim, eps)."""
    n = input.norm(p, dim, keepdim=True)
    return input / pt.where(n > eps, n, eps)
