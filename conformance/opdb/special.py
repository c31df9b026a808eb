"""The special functions (dispatch/ops/special.py): a few samples each, in the function's domain
(gradients are compared there), plus one sample of edge values (0, -0.0, +-inf, nan, poles)."""
from __future__ import annotations

import math

import numpy as np

import plugtorch as pt

from ..entry import Entry, ErrorInput, Input, Sample

_INF, _NAN = math.inf, math.nan
F = (pt.float32, pt.float64)
FI = F + (pt.int64,)   # an integer input: promoted to the default float
EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -2.0, 40.0, -40.0, _INF, -_INF, _NAN, 1e-30]

# name: (low, high) of the differentiable samples
_DOMAIN = {
    "acosh": (1.1, 4.0), "asinh": (-3.0, 3.0), "atanh": (-0.9, 0.9), "erfc": (-2.0, 2.0), "erfinv": (-0.9, 0.9),
    "lgamma": (0.2, 5.0), "digamma": (0.2, 5.0), "i0": (-3.0, 3.0), "sinc": (-2.0, 2.0),
    "special_erfcx": (-2.0, 3.0), "special_ndtri": (0.05, 0.95), "special_log_ndtr": (-4.0, 3.0),
    "special_i0e": (-3.0, 3.0), "special_i1": (-3.0, 3.0), "special_i1e": (-3.0, 3.0),
}


def _values(ctx, values, dtype=None):
    d = dtype or ctx.dtype
    return Input(np.array(values, dtype=np.float64).astype(d.numpy), d, requires_grad=False)


def _unary(name):
    lo, hi = _DOMAIN.get(name, (0.1, 6.0))

    def gen(ctx):
        if not ctx.dtype.is_floating_point:
            return [Sample(ctx.input((3, 4), low=0, high=6))]
        return [Sample(ctx.input((3, 4), low=lo, high=hi)),
                Sample(ctx.input((2, 3), layout="transposed", low=lo, high=hi)),
                Sample(ctx.input((), low=lo, high=hi)),
                Sample(_values(ctx, EDGES), name="edge values")]
    return gen


def _not_tensor(name):
    return lambda ctx: [ErrorInput(Sample([0.5]), TypeError, name)]


def _binary(name, lows=(0.2, 0.2), highs=(4.0, 4.0), scalar=None, edges=None):
    def gen(ctx):
        lo = lows if ctx.dtype.is_floating_point else (1, 1)
        hi = highs if ctx.dtype.is_floating_point else (30, 30)
        out = [Sample(ctx.input((3, 4), low=lo[0], high=hi[0]), ctx.input((3, 4), low=lo[1], high=hi[1])),
               Sample(ctx.input((2, 3), layout="transposed", low=lo[0], high=hi[0]), ctx.input((3,), low=lo[1], high=hi[1]))]
        if scalar is not None:
            out.append(Sample(ctx.input((4,), low=lo[0], high=hi[0]), scalar))
        if edges is not None and ctx.dtype.is_floating_point:
            out.append(Sample(_values(ctx, edges[0]), _values(ctx, edges[1]), name="edge values"))
        return out
    return gen


_E = ([0.0, -0.0, 1.5, -2.0, _INF, -_INF, _NAN, 3.0, 0.5, 1.0], [-1.0, 1.0, -0.0, 2.0, -3.0, 0.0, 1.0, _NAN, 0.25, 1.0])


def _constant_first(gen):
    """The samples of ``gen`` with the first argument not differentiated: the op has no
    derivative for it (zeta's x, gammainc's a) and raises when asked for one, as PyTorch."""
    def constant(ctx):
        out = list(gen(ctx))
        for s in out:
            if isinstance(s.args[0], Input):
                s.args[0].requires_grad = False
        return out
    return constant


def _polygamma_samples(ctx):
    lo, hi = (0.3, 5.0) if ctx.dtype.is_floating_point else (1, 6)
    out = [Sample(n, ctx.input((3, 4), low=lo, high=hi)) for n in (0, 1, 3)]
    if ctx.dtype.is_floating_point:
        out.append(Sample(2, _values(ctx, [0.0, -0.0, -1.0, 1e-3, 30.0, _INF, -_INF, _NAN]), name="edge values"))
    return out


ENTRIES = []
for _name in ("acosh", "asinh", "atanh", "erfc", "erfinv", "lgamma", "digamma", "i0", "sinc", "special_erfcx",
              "special_ndtri", "special_log_ndtr", "special_i0e", "special_i1", "special_i1e", "special_bessel_j0",
              "special_bessel_j1", "special_bessel_y0", "special_bessel_y1", "special_modified_bessel_i0",
              "special_modified_bessel_i1", "special_modified_bessel_k0", "special_modified_bessel_k1",
              "special_scaled_modified_bessel_k0", "special_scaled_modified_bessel_k1",
              "special_spherical_bessel_j0", "special_airy_ai"):
    ENTRIES.append(Entry(_name, samples=_unary(_name), dtypes=FI, error_inputs=_not_tensor(_name)))

ENTRIES += [
    Entry("signbit", samples=lambda ctx: [Sample(ctx.input((3, 4))), Sample(_values(ctx, EDGES), name="edge values")]
          if ctx.dtype.is_floating_point else [Sample(ctx.input((3, 4)))], dtypes=F + (pt.int64, pt.bool)),
    Entry("copysign", samples=_binary("copysign", (-3.0, -3.0), (3.0, 3.0), scalar=-1.0, edges=_E), dtypes=FI),
    Entry("nextafter", samples=_binary("nextafter", (-3.0, -3.0), (3.0, 3.0), edges=_E), dtypes=F,
          error_inputs=lambda ctx: [ErrorInput(Sample(ctx.input((2,), dtype=pt.int64), ctx.input((2,), dtype=pt.int64)),
                                               NotImplementedError, "nextafter")]),
    Entry("heaviside", samples=_binary("heaviside", (-2.0, -2.0), (2.0, 2.0), edges=_E), dtypes=FI,
          error_inputs=lambda ctx: [ErrorInput(Sample(ctx.input((2,)), ctx.input((2,), dtype=pt.int32)), RuntimeError,
                                               "different dtypes")]),
    Entry("gcd", samples=_binary("gcd"), dtypes=(pt.int32, pt.int64),
          error_inputs=lambda ctx: [ErrorInput(Sample(ctx.input((2,), dtype=pt.float32), ctx.input((2,), dtype=pt.float32)),
                                               NotImplementedError, "gcd")]),
    Entry("lcm", samples=_binary("lcm"), dtypes=(pt.int32, pt.int64)),
    Entry("special_xlog1py", samples=_binary("special_xlog1py", (-2.0, -0.9), (2.0, 3.0), scalar=2.0, edges=_E), dtypes=FI),
    Entry("special_zeta", samples=_constant_first(_binary(
        "special_zeta", (1.5, 0.2), (5.0, 4.0), scalar=2.0, edges=([2.0, 2.0, _INF, _INF, 1.0, 0.5, 3.0, 1.5, 2.0, 2.0],
                                                                  [_INF, -_INF, 2.0, 1.0, 1.0, 1.0, _NAN, -0.0, -2.5, -3.0]))),
          dtypes=FI),
    Entry("special_gammainc", samples=_constant_first(_binary("special_gammainc", edges=_E)), dtypes=F,
          error_inputs=lambda ctx: [ErrorInput(Sample(ctx.input((2,), dtype=pt.int64), ctx.input((2,), dtype=pt.int64)),
                                               NotImplementedError, "gammainc")]),
    Entry("special_gammaincc", samples=_constant_first(_binary("special_gammaincc", edges=_E)), dtypes=F),
    Entry("polygamma", samples=_polygamma_samples, dtypes=FI,
          error_inputs=lambda ctx: [ErrorInput(Sample(-1, ctx.input((2,))), RuntimeError, "negative n")]),
]


def _polynomial_samples(ctx):
    return [Sample(ctx.input((3, 4), low=-1.5, high=1.5), 3),
            Sample(ctx.input((2, 3), layout="transposed", low=-1.5, high=1.5), ctx.input((3,), low=-1.0, high=7.0)),
            Sample(0.5, ctx.input((4,), low=0.0, high=6.0))]


for _n in ("chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
           "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
           "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l",
           "legendre_polynomial_p"):
    ENTRIES.append(Entry("special_" + _n, samples=_polynomial_samples, dtypes=F))
