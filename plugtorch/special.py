"""plugtorch.special: PyTorch's torch.special.

Most names are aliases of plugtorch functions (expit is sigmoid, gammaln is lgamma, psi is
digamma); the functions of their own (erfcx, ndtri, the Bessel functions ...) are registry ops
named ``special_<name>`` (``dispatch/ops/special.py``), so every backend, autograd and the
conformance suite see them; entr, ndtr and multigammaln are short compositions of ops.

>>> import plugtorch
>>> plugtorch.special.expit(plugtorch.tensor([0.0])).tolist()
[0.5]
"""
from __future__ import annotations

import math

from plugtorch import _ops_public as P
from plugtorch._tensor import Tensor
from plugtorch.dispatch import meta as M

__all__ = [
    "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "digamma", "entr", "erf", "erfc", "erfcx",
    "erfinv", "exp2", "expit", "expm1", "gammainc", "gammaincc", "gammaln", "i0", "i0e", "i1", "i1e", "log1p",
    "log_ndtr", "log_softmax", "logit", "logsumexp", "modified_bessel_i0", "modified_bessel_i1",
    "modified_bessel_k0", "modified_bessel_k1", "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round",
    "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "sinc", "softmax", "spherical_bessel_j0",
    "xlog1py", "xlogy", "zeta",
    "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
    "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l",
    "legendre_polynomial_p",
]

# ---- aliases of plugtorch functions ----------------------------------------------------------
expit = P.sigmoid
erf = P.erf
erfc = P.erfc
erfinv = P.erfinv
exp2 = P.exp2
expm1 = P.expm1
log1p = P.log1p
logit = P.logit
xlogy = P.xlogy
sinc = P.sinc
i0 = P.i0
gammaln = P.lgamma
digamma = P.digamma
psi = P.digamma
polygamma = P.polygamma
multigammaln = P.mvlgamma
round = P.round
logsumexp = P.logsumexp

# ---- registry ops of their own -----------------------------------------------------------------
erfcx = P.special_erfcx
ndtri = P.special_ndtri
log_ndtr = P.special_log_ndtr
i0e = P.special_i0e
i1 = P.special_i1
i1e = P.special_i1e
xlog1py = P.special_xlog1py
zeta = P.special_zeta
gammainc = P.special_gammainc
gammaincc = P.special_gammaincc
bessel_j0 = P.special_bessel_j0
bessel_j1 = P.special_bessel_j1
bessel_y0 = P.special_bessel_y0
bessel_y1 = P.special_bessel_y1
modified_bessel_i0 = P.special_modified_bessel_i0
modified_bessel_i1 = P.special_modified_bessel_i1
modified_bessel_k0 = P.special_modified_bessel_k0
modified_bessel_k1 = P.special_modified_bessel_k1
scaled_modified_bessel_k0 = P.special_scaled_modified_bessel_k0
scaled_modified_bessel_k1 = P.special_scaled_modified_bessel_k1
spherical_bessel_j0 = P.special_spherical_bessel_j0
airy_ai = P.special_airy_ai
chebyshev_polynomial_t = P.special_chebyshev_polynomial_t
chebyshev_polynomial_u = P.special_chebyshev_polynomial_u
chebyshev_polynomial_v = P.special_chebyshev_polynomial_v
chebyshev_polynomial_w = P.special_chebyshev_polynomial_w
shifted_chebyshev_polynomial_t = P.special_shifted_chebyshev_polynomial_t
shifted_chebyshev_polynomial_u = P.special_shifted_chebyshev_polynomial_u
shifted_chebyshev_polynomial_v = P.special_shifted_chebyshev_polynomial_v
shifted_chebyshev_polynomial_w = P.special_shifted_chebyshev_polynomial_w
hermite_polynomial_h = P.special_hermite_polynomial_h
hermite_polynomial_he = P.special_hermite_polynomial_he
laguerre_polynomial_l = P.special_laguerre_polynomial_l
legendre_polynomial_p = P.special_legendre_polynomial_p


# ---- compositions ------------------------------------------------------------------------------
def _float_input(op, input):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if input.dtype.is_complex:
        raise M.not_implemented_for(op, input.dtype, "complex tensors are not supported")
    return input if input.dtype.is_floating_point else input.to(M.float_result(input.dtype))


def entr(input):
    """Elementwise entropy: -x log x for x > 0, 0 at 0, -inf for x < 0 (nan stays nan).

    >>> plugtorch.special.entr(plugtorch.tensor([0.0, 1.0, -1.0])).tolist()
    [0.0, -0.0, -inf]
    """
    x = _float_input("entr", input)
    out = -x * P.where(x > 0, x, 1.0).log()
    return P.where(x == 0, 0.0, P.where(x < 0, -math.inf, out))


def ndtr(input):
    """The standard normal distribution function, erfc(-x / sqrt(2)) / 2 (accurate in the left tail).

    >>> plugtorch.special.ndtr(plugtorch.tensor([0.0])).tolist()
    [0.5]
    """
    x = _float_input("ndtr", input)
    return P.erfc(x * -math.sqrt(0.5)) * 0.5


def softmax(input, dim, *, dtype=None):
    """Alias of plugtorch.softmax (``dim`` required, ``dtype`` keyword-only as in torch.special)."""
    return P.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    """Alias of plugtorch.log_softmax (``dim`` required, ``dtype`` keyword-only as in torch.special)."""
    return P.log_softmax(input, dim, dtype=dtype)


# out= for the functions whose torch.special counterpart takes it (plugtorch/_out.py)
from plugtorch import _out  # noqa: E402

_out.install(globals(), "special")
