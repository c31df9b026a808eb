"""lgamma, digamma and erfinv written with plugtorch ops, for the distributions.

plugtorch has no registry ops for these yet; as compositions of existing ops they run on every
backend and autograd differentiates them (the derivative of ``lgamma`` is ``digamma``'s series).
``lgamma``/``digamma`` take positive arguments (all the distributions need): the recurrence
Gamma(x + 8) = x (x + 1) ... (x + 7) Gamma(x) moves x into the range where Stirling's series is
accurate to ~1e-13; ``erfinv`` is Giles' approximation refined by Newton steps on ``erf``.
"""
from __future__ import annotations

import math

import plugtorch as _pt

_SHIFT = 8
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def lgamma(x):
    """log Gamma(x) for x > 0 (matches scipy.special.gammaln to ~1e-13 in float64)."""
    z = x + _SHIFT
    shift = x.log()
    for i in range(1, _SHIFT):
        shift = shift + (x + i).log()
    r = z.reciprocal()
    r2 = r * r
    series = r * (1 / 12 + r2 * (-1 / 360 + r2 * (1 / 1260 + r2 * (-1 / 1680 + r2 * (1 / 1188)))))
    return (z - 0.5) * z.log() - z + _HALF_LOG_2PI + series - shift


def digamma(x):
    """d/dx log Gamma(x) for x > 0."""
    z = x + _SHIFT
    shift = x.reciprocal()
    for i in range(1, _SHIFT):
        shift = shift + (x + i).reciprocal()
    r = z.reciprocal()
    r2 = r * r
    series = r2 * (1 / 12 - r2 * (1 / 120 - r2 * (1 / 252 - r2 * (1 / 240 - r2 * (1 / 132)))))
    return z.log() - 0.5 * r - series - shift


def lbeta(a, b):
    return lgamma(a) + lgamma(b) - lgamma(a + b)


_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
            -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
         -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def _horner(coeffs, w):
    p = w * 0 + coeffs[0]
    for c in coeffs[1:]:
        p = p * w + c
    return p


def erfinv(y):
    """Inverse error function: erf(erfinv(y)) == y on (-1, 1); +-inf at +-1, nan outside."""
    inside = y.abs() < 1
    ys = _pt.where(inside, y, y * 0)   # keeps nan/inf out of the branches autograd walks
    w = -((1 - ys) * (1 + ys)).log()
    central = _horner(_CENTRAL, w - 2.5)
    tail = _horner(_TAIL, w.clamp(min=5).sqrt() - 3)
    x = _pt.where(w < 5, central, tail) * ys
    # two Newton steps where erf is well conditioned: erf(x) - y is exact to the dtype's absolute
    # precision, so the step's error is about eps / erf'(x); in the far tails (and in float32 past
    # 0.9) Giles' polynomial, within ~3e-7 relative, is the better answer
    limit = 0.999999 if y.dtype == _pt.float64 else 0.9
    near = ys.abs() < limit
    for _ in range(2):
        x = _pt.where(near, x - (_pt.erf(x) - ys) / (2 / math.sqrt(math.pi) * (-x * x).exp()), x)
    edge = _pt.where(y.abs() == 1, y * math.inf, y * math.nan)
    return _pt.where(inside, x, edge)
