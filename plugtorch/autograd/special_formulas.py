"""Backward formulas of the special functions (``dispatch/ops/special.py``), as PyTorch's
derivatives.yaml defines them. Arguments PyTorch does not differentiate (zeta's and gammainc's
first, polygamma's order) get None."""
from __future__ import annotations

import math

import plugtorch as pt
from plugtorch.autograd.formulas import _zero_grad, derivative

_SQRT_PI_2 = math.sqrt(math.pi) / 2
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)

derivative("acosh", lambda g, x: (g * (x * x - 1).rsqrt(),))
derivative("asinh", lambda g, x: (g * (x * x + 1).rsqrt(),))
derivative("atanh", lambda g, x: (g / (1 - x * x),))
derivative("erfc", lambda g, x: (-_TWO_OVER_SQRT_PI * g * (-(x * x)).exp(),))
derivative("erfinv", lambda g, x, result: (g * _SQRT_PI_2 * (result * result).exp(),), save=(), result=True)
derivative("lgamma", lambda g, x: (g * pt.digamma(x),))
derivative("digamma", lambda g, x: (g * pt.polygamma(1, x),))
derivative("polygamma", lambda g, n, x: (None, g * pt.polygamma(n + 1, x)), save=("x",))
derivative("i0", lambda g, x: (g * pt.special_i1(x),))


def _sinc_grad(g, x):
    px = x * math.pi
    d = (px * px.cos() - px.sin()) / (px * x)
    return (g * pt.where(x == 0, 0.0, d),)


derivative("sinc", _sinc_grad)
derivative("special_erfcx", lambda g, x, result: (g * (2 * x * result - _TWO_OVER_SQRT_PI),), result=True)
derivative("special_ndtri", lambda g, x, result: (g * math.sqrt(2 * math.pi) * (result * result / 2).exp(),),
           save=(), result=True)
derivative("special_log_ndtr", lambda g, x, result: (g / math.sqrt(2 * math.pi) * (-(result + x * x / 2)).exp(),),
           result=True)
derivative("special_i0e", lambda g, x, result: (g * (pt.special_i1e(x) - x.sign() * result),), result=True)


def _nonzero(x):
    # x with its zeros replaced by 1: the branch where() does not take at 0 must stay finite, or
    # its zero gradient times 1/0 makes the second derivative nan there
    return pt.where(x == 0, 1.0, x)


derivative("special_i1", lambda g, x, result: (
    g * pt.where(x == 0, 0.5, pt.i0(x) - result / _nonzero(x)),), result=True)
derivative("special_i1e", lambda g, x, result: (
    g * pt.where(x == 0, 0.5, pt.special_i0e(x) - result * (x.sign() + _nonzero(x).reciprocal())),), result=True)


def _copysign_grad(g, x, other, result):
    # sign(x) * sign(result): +-1 where the magnitude carries through, 0 at x == 0; other only
    # picks a sign, so a tensor other gets zeros (PyTorch's), not None
    return g * x.sign() * result.sign(), _zero_grad(g, other)


derivative("copysign", _copysign_grad, save=("x",), result=True)
# nextafter moves x by one ulp: PyTorch passes the gradient to x and gives other zeros
derivative("nextafter", lambda g, x, other: (g, pt.zeros_like(g)), save=(), shapes=False)


def _xlog1py_grad(g, x, y):
    gx = g * pt.special_xlog1py(x != 0, y) if isinstance(x, pt.Tensor) else None
    gy = g * x / (y + 1) if isinstance(y, pt.Tensor) else None
    return gx, gy


derivative("special_xlog1py", _xlog1py_grad)


def _no_derivative(op, arg, t):
    """Refuse (as PyTorch) the gradient of an argument that has no formula, instead of a silent 0."""
    if isinstance(t, pt.Tensor) and t.requires_grad:
        raise NotImplementedError(f"{op}(): the derivative with respect to its first argument {arg} is not "
                                  f"implemented (as in PyTorch); pass {arg} detached (or as a number) to "
                                  "differentiate the other argument")


def _zeta_grad(g, x, q):
    _no_derivative("special.zeta", "x", x)
    return None, g * -x * pt.special_zeta(x + 1.0, q)


derivative("special_zeta", _zeta_grad)


def _gammainc_grad(sign):
    def f(g, a, x):
        _no_derivative("special.gammainc" if sign > 0 else "special.gammaincc", "a", a)
        # d/dx P(a, x) = x^(a-1) e^-x / Gamma(a)
        lgamma_a = pt.lgamma(a) if isinstance(a, pt.Tensor) else math.lgamma(a)
        return None, sign * g * ((a - 1) * x.log() - x - lgamma_a).exp()
    return f


derivative("special_gammainc", _gammainc_grad(1))
derivative("special_gammaincc", _gammainc_grad(-1))
