"""cpu kernels of the activation nn ops gelu and silu and their backward ops (plugtorch/nn/ops.py):
each walks the input in cache-sized blocks and works in place there, so a call is one dispatch and
a few fast passes per block, with no full-size temporaries.

float16 and bfloat16 compute in float32 and round once, as PyTorch's kernels. float32 gelu
(approximate='none') gives the decomposition's values bit for bit (erfc_float32's polynomial in
float64 on each block), so results with and without autograd agree.
"""
from __future__ import annotations

import math

import numpy as np

from plugtorch import _dtypes
from plugtorch.backends.cpu.blockwise import blockwise
from plugtorch.backends.cpu.special_kernels import _sp, erfc_of_abs

_HALF = (_dtypes.float16.numpy, _dtypes.bfloat16.numpy)
_BLOCK = 1 << 16
_BLOCK64 = 1 << 15   # (float64 work: 256 KiB a block)
_RSQRT2 = 1 / math.sqrt(2)
_RSQRT2PI = 1 / math.sqrt(2 * math.pi)
_BETA, _KAPPA = math.sqrt(2 / math.pi), 0.044715


def _work(d):
    return np.dtype(np.float32) if d in _HALF else d


def _erfc_abs(z, out):
    """erfc(|z| / sqrt 2) of the float64 block ``z`` into ``out`` (float64, same shape), relative
    error under 6e-10 (special_kernels.erfc_of_abs); leaves (z / sqrt 2)^2 in a
    returned scratch array."""
    a = np.abs(z)
    a *= _RSQRT2
    erfc_of_abs(a, out)
    return a


def _gelu_erf_block(xb):
    """gelu (approximate='none') of a float32 block: bit for bit the decomposition's
    (x * 0.5) * erfc(x * -(1 / sqrt 2)) with special_kernels.erfc_float32's erfc (each step rounded
    to float32 as there), so results under autograd (which records the decomposition) and without
    it agree. erfc(-u) = 2 - erfc(u) is taken as h2 + (1 - h2) erfc(|u|), h2 = 2 (u < 0), exactly:
    a ufunc's where= costs twenty passes."""
    u = np.multiply(xb, np.float32(-_RSQRT2))
    z = u.astype(np.float64)
    a = np.abs(z)
    p = erfc_of_abs(a, np.empty_like(z))
    h2 = np.less(z, 0).astype(np.float64)
    h2 *= 2
    np.subtract(1, h2, out=a)
    p *= a
    p += h2
    e = p.astype(np.float32)
    y = np.multiply(xb, np.float32(0.5))
    y *= e
    return y


def _gelu_tanh_block(xb, w):
    """PyTorch's tanh formula x/2 (1 + tanh(y)), y = beta (x + kappa x^3), in the work dtype ``w``
    as x / (1 + exp(-2 y)): the same function, without 1 + tanh(y)'s cancellation in the left
    tail (float32 gelu(-5.35) is -1.88e-8, not -0.0); as fast (a pass fewer, exp for tanh)."""
    x = xb.astype(w, copy=False)
    t = np.multiply(x, x)              # -2y = x (-2 beta - 2 beta kappa x^2)
    t *= w.type(-2 * _BETA * _KAPPA)
    t += w.type(-2 * _BETA)
    t *= x
    np.exp(t, out=t)
    t += 1
    np.divide(x, t, out=t)
    return t


def gelu(x, approximate="none"):
    d = x.dtype
    w = _work(d)
    if approximate == "tanh":
        return blockwise(lambda xb: _gelu_tanh_block(xb, w), [x], d, _BLOCK)
    if w == np.float64:
        def f64(xb):
            e = np.multiply(xb, -_RSQRT2)
            e = _sp().erfc(e)
            e *= xb
            e *= 0.5
            return e
        return blockwise(f64, [x], d, _BLOCK)
    return blockwise(lambda xb: _gelu_erf_block(xb.astype(np.float32, copy=False)), [x], d, _BLOCK64)


def _gelu_backward_block(gb, xb, w, approximate):
    if approximate == "tanh":
        # x s(2y) has derivative s(2y) (1 + 2 x s(-2y) y'), s(v) = 1 / (1 + exp(-v)): no
        # cancellation of 1 + tanh(y) or 1 - tanh(y)^2 in the left tail; with e = exp(-2y),
        # s(2y) = 1 / (1 + e) and s(-2y) = 1 / (1 + 1 / e) (e = inf or 0 give 0 and 1)
        x = xb.astype(w, copy=False)
        x2 = np.multiply(x, x)
        e = np.multiply(x2, w.type(-2 * _BETA * _KAPPA))
        e += w.type(-2 * _BETA)
        e *= x
        np.exp(e, out=e)
        sn = np.divide(1, e)
        sn += 1
        np.divide(1, sn, out=sn)
        e += 1
        np.divide(1, e, out=e)
        x2 *= w.type(6 * _BETA * _KAPPA)   # 1 + x s(-2y) 2 beta (1 + 3 kappa x^2)
        x2 += w.type(2 * _BETA)
        x2 *= x
        x2 *= sn
        x2 += 1
        x2 *= e
        x2 *= gb
        return x2
    z = xb.astype(np.float64)   # Phi(x) + x phi(x), float64 for float32 (erfc's polynomial), else scipy's
    if w == np.float64:
        u = np.multiply(z, -_RSQRT2)
        e = _sp().erfc(u)
        e *= 0.5
        u *= u
    else:
        e = np.empty_like(z)   # Phi(x) = h + (1 - 2 h) erfc(|x| / sqrt 2) / 2, h = (x > 0)
        u = _erfc_abs(z, e)
        h = np.greater(z, 0).astype(np.float64)
        e *= 0.5
        e -= e * h * 2
        e += h
    np.negative(u, out=u)
    np.exp(u, out=u)
    u *= z
    u *= _RSQRT2PI
    e += u
    e *= gb
    return e


def gelu_backward(g, x, approximate="none"):
    d = x.dtype
    w = _work(d)
    return blockwise(lambda gb, xb: _gelu_backward_block(gb.astype(w, copy=False), xb, w, approximate), [g, x], d,
                     _BLOCK if approximate == "tanh" else _BLOCK64)


def _silu_block(xb, w):
    x = xb.astype(w, copy=False)   # x / (1 + exp(-x)), as PyTorch's kernel (-0.0 below -88 in float32)
    s = np.negative(x)
    np.exp(s, out=s)
    s += 1
    np.divide(x, s, out=s)
    return s


def silu(x):
    d = x.dtype
    if d.kind == "c":   # complex: x / (1 + exp(-x)), as the decomposition's x sigmoid(x)
        with np.errstate(all="ignore"):
            return (x * (1 / (1 + np.exp(-x)))).astype(d, copy=False)
    w = _work(d)
    return blockwise(lambda xb: _silu_block(xb, w), [x], d, _BLOCK)


def _silu_backward_block(gb, xb, w):
    x = xb.astype(w, copy=False)
    s = np.negative(x)
    np.exp(s, out=s)
    s += 1
    np.divide(1, s, out=s)
    r = np.subtract(1, s)    # g s (1 + x (1 - s))
    r *= x
    r += 1
    r *= s
    r *= gb
    return r


def silu_backward(g, x):
    d = x.dtype
    if d.kind == "c":
        with np.errstate(all="ignore"):
            s = 1 / (1 + np.exp(-x))
            return (g * np.conj(s * (1 + x * (1 - s)))).astype(d, copy=False)
    w = _work(d)
    return blockwise(lambda gb, xb: _silu_backward_block(gb.astype(w, copy=False), xb, w), [g, x], d, _BLOCK)


KERNELS = {"gelu": gelu, "silu": silu, "_gelu_backward": gelu_backward, "_silu_backward": silu_backward}
