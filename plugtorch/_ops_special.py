"""Public functions of the special-function family that are short compositions of ops:
ldexp, logaddexp2, frexp, mvlgamma, positive and the arc- aliases (the ops themselves are in
``dispatch/ops/special.py``). Like ``_ops_compound``, each records the main op it runs."""
from __future__ import annotations

import math

from plugtorch import _dtypes, return_types
from plugtorch import _ops_public as P
from plugtorch._ops_compound import _check_tensor
from plugtorch._tensor import Tensor
from plugtorch.dispatch import meta as M

__all__ = []


def public(op_name):
    return P.public(op_name, __all__)


@public("acosh")
def arccosh(input):
    """Alias of acosh."""
    return P.acosh(input)


@public("asinh")
def arcsinh(input):
    """Alias of asinh."""
    return P.asinh(input)


@public("atanh")
def arctanh(input):
    """Alias of atanh."""
    return P.atanh(input)


@public("mul")
def ldexp(input, other):
    """input * 2 ** other, in the floating-point type the two promote to (integers: the default
    float; float16 input with integer exponents stays float16, as PyTorch's).

    >>> plugtorch.ldexp(plugtorch.tensor([1.0]), plugtorch.tensor([3])).tolist()
    [8.0]
    """
    _check_tensor("ldexp", input)
    if not isinstance(other, Tensor):
        raise TypeError(f"ldexp(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}")
    dt = _dtypes.result_type(input, other)
    if not (dt.is_floating_point or dt.is_complex):
        dt = _dtypes.get_default_dtype()
    # (float16/bfloat16 computed in float32 and rounded once: 2 ** other alone may not fit them)
    wide = _dtypes.float32 if dt in (_dtypes.float16, _dtypes.bfloat16) else dt
    return (input.to(wide) * P.pow(2.0, other.to(wide))).to(dt)


@public("logaddexp")
def logaddexp2(input, other):
    """log2(2 ** input + 2 ** other), without overflow; floating-point operands only.

    >>> plugtorch.logaddexp2(plugtorch.tensor([1.0]), plugtorch.tensor([1.0])).tolist()
    [2.0]
    """
    from plugtorch.dispatch.ops.composite import _float_operands
    dt = _float_operands("logaddexp2", input, other)
    a, b = (v.to(dt) if isinstance(v, Tensor) else v for v in (input, other))
    if not isinstance(b, Tensor):
        b = P.full((), float(b), dtype=dt, device=a.device)
    ge = a >= b    # the larger picked by one test: a tie differentiates twice (see logaddexp)
    hi, lo = P.where(ge, a, b), P.where(ge, b, a)
    out = hi + (lo - hi).exp2().log1p() / math.log(2)
    return P.where(a.isinf() & (a == b), a, out)


@public("log2")
def frexp(input):
    """(mantissa, exponent) with input == mantissa * 2 ** exponent, 0.5 <= |mantissa| < 1;
    zeros, infinities and nan keep themselves with exponent 0. The exponent is int32.

    >>> plugtorch.frexp(plugtorch.tensor([3.0])).exponent.tolist()
    [2]
    """
    _check_tensor("frexp", input)
    dt = input.dtype
    if not dt.is_floating_point:
        raise RuntimeError(f"frexp(): only supports floating-point dtypes, got {dt}; convert with .float()")
    x = input.detach()
    w = x.float() if dt.itemsize < 4 else x
    finite = w.isfinite() & (w != 0)
    a = P.where(finite, w.abs(), 1.0)
    e = (a.log2().floor() + 1)
    half = (e / 2).floor()   # 2 ** -e in two factors: one would overflow for subnormals
    m = a * P.exp2(-half) * P.exp2(half - e)
    e = P.where(m >= 1, e + 1, P.where(m < 0.5, e - 1, e))
    e = P.where(finite, e, 0.0)
    half = (e / 2).floor()
    # the mantissa as input * 2 ** -e: autograd sees it (d mantissa / d input = 2 ** -exponent)
    mant = input * P.exp2(-half).to(dt) * P.exp2(half - e).to(dt)
    mant = P.where(finite, mant, input)
    return return_types.frexp(mant, e.to(_dtypes.int32))


@public("lgamma")
def mvlgamma(input, p):
    """The multivariate log-gamma function of dimension ``p``:
    p (p - 1) / 4 log(pi) + sum over j < p of lgamma(input - j / 2).

    >>> round(plugtorch.mvlgamma(plugtorch.tensor([3.0]), 2).item(), 4)
    1.5502
    """
    _check_tensor("mvlgamma", input)
    if p.__class__ is not int:
        raise TypeError(f"mvlgamma(): argument 'p' (position 2) must be int, not {type(p).__name__}")
    if p < 1:
        raise RuntimeError(f"mvlgamma(): p has to be greater than or equal to 1, got p={p}")
    if input.dtype is _dtypes.bool:   # (PyTorch's check: lgamma of a bool is no lgamma of 0 and 1)
        raise RuntimeError("mvlgamma(): The input tensor may not be a boolean tensor; convert it with .float() first")
    x = input if input.dtype.is_floating_point else input.to(M.float_result(input.dtype))
    out = P.lgamma(x)
    for j in range(1, p):
        out = out + P.lgamma(x - j / 2)
    return out + p * (p - 1) / 4 * math.log(math.pi)


@public("clone")
def positive(input):
    """The input itself (PyTorch's unary +); bool tensors are refused."""
    _check_tensor("positive", input)
    if input.dtype is _dtypes.bool:
        raise RuntimeError("positive(): The `+` operator, on a bool tensor is not supported.")
    return input
