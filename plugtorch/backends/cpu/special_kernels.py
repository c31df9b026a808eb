"""cpu kernels of the special functions (``dispatch/ops/special.py``): NumPy and scipy.special,
with PyTorch's values where they differ (lgamma(-inf) is inf, heaviside(nan) is 0).

float16 and bfloat16 compute in float32 and round once, as PyTorch's kernels do.
scipy.special is imported on first use (it takes a quarter of a second).
"""
from __future__ import annotations

import warnings

import numpy as np

from plugtorch import _dtypes
from plugtorch.backends.cpu.blockwise import blockwise

warnings.filterwarnings("ignore", category=RuntimeWarning, module=__name__)

_HALF = (_dtypes.float16.numpy, _dtypes.bfloat16.numpy)
_SP = []


def _sp():
    if not _SP:
        import scipy.special
        _SP.append(scipy.special)
    return _SP[0]


def _work(d):
    """The dtype a float result of dtype ``d`` is computed in."""
    return np.dtype(np.float32) if d in _HALF else d


def _as(x, w):
    return np.asarray(x).astype(w, copy=False) if hasattr(x, "dtype") else np.asarray(x, dtype=w)


def _sinc(x):
    with np.errstate(all="ignore"):
        return np.sinc(x)


_LGAMMA_1P = []   # (-1)^k zeta(k) / k for k = 30 .. 2: lgamma(1 + z) = -euler_gamma z + sum of c_k z^k


def _lgamma_near_1_and_2(x, r):
    """lgamma of float64 ``x`` within 1/4 of 1 or 2 by its Taylor series at 1 (Abramowitz & Stegun
    6.1.33; the tail is below 1e-19): SciPy's gammaln loses relative accuracy at the zeros, 3584 ulps
    at 0.999 and 1.7e7 at 0.9999999; torch's libm lgamma is exact to an ulp there."""
    near1, near2 = np.abs(x - 1) <= 0.25, np.abs(x - 2) <= 0.25
    if not (near1.any() or near2.any()):
        return r
    if not _LGAMMA_1P:
        k = np.arange(30, 1, -1)
        _LGAMMA_1P.append((-1.0) ** k * _sp().zeta(k.astype(np.float64)) / k)
    z = np.where(near1, x - 1, np.where(near2, x - 2, 0.0))
    acc = np.zeros_like(z)
    for c in _LGAMMA_1P[0]:
        acc = (acc + c) * z
    series = (acc - np.euler_gamma) * z + 0.0   # (+ 0.0: lgamma(1) is +0, not -0)
    return np.where(near1, series, np.where(near2, series + np.log1p(z), r))


def _lgamma(x):
    r = _sp().gammaln(x)
    r = np.where(x == -np.inf, np.inf, r).astype(r.dtype, copy=False)   # PyTorch: lgamma(-inf) = inf
    if r.dtype != np.float64:
        return r   # (float32 is computed in double inside SciPy)
    r = _lgamma_near_1_and_2(x, r)
    # SciPy's gammaln is inf for float64 subnormals (1/x overflows); there lgamma(x) = -log|x| - gamma x
    # to far below an ulp (lgamma(5e-324) = 744.44)
    sub = (x != 0) & (np.abs(x) < np.finfo(r.dtype).tiny)
    return np.where(sub, -np.log(np.abs(np.where(sub, x, 1))), r) if sub.any() else r


def _erfinv(x):
    r = _sp().erfinv(x)
    return np.where(x == 0, x, r).astype(r.dtype, copy=False)   # erfinv(-0.0) is -0.0


def _spherical_j0(x):
    with np.errstate(all="ignore"):
        r = np.sin(x) / x
    return np.where(x == 0, 1, np.where(np.isinf(x), 0, r)).astype(x.dtype, copy=False)


# erfc(z) = t exp(P(t) - z^2), t = 1 / (1 + z / 2), z >= 0: P of degree 12 fitted (Chebyshev, least
# squares) to log(erfc(z) / t) + z^2 on [0, 10.6] (past that float32's erfc is 0); its relative
# error is under 6e-10, so float32 results are within 1 ulp of the exact value (the tests sweep
# every 2**-16 against math.erfc). Evaluated in float64 blocks that stay in the cache: 3 to 10
# times faster than SciPy's erfc for float32 (which runs the double-precision Cephes code).
_ERFC_P = (-1.2655045663664843, 0.9997359317069416, 0.3791168903540909, 0.0454666055404549, 0.14286843382775816,
           -1.0996250862500214, 2.731662808085664, -5.874892693717227, 8.690776299362144, -8.01260228021285,
           4.472138943615597, -1.3988287581884724, 0.18968747282079618)
_BLOCK = 1 << 15


def erfc_of_abs(a, out):
    """erfc(a) of a float64 array ``a`` >= 0 into ``out`` (float64, its shape; returned) by the
    formula above; ``a`` is left holding a^2 (its callers' scratch). The one evaluation of the
    polynomial: erfc_float32 and the gelu kernels (activation_kernels.py) share it, so gelu's
    values are its decomposition's erfc's bit for bit."""
    t = np.multiply(a, 0.5)
    t += 1
    np.divide(1, t, out=t)
    np.multiply(t, _ERFC_P[-1], out=out)
    for c in _ERFC_P[-2:0:-1]:
        out += c
        out *= t
    out += _ERFC_P[0]
    a *= a
    out -= a
    np.exp(out, out=out)
    out *= t
    return out


def erfc_float32(x):
    """erfc of a float32 array, float32 (nan stays nan, erfc(-inf) = 2, erfc(inf) = 0)."""
    def block(xb):
        z = xb.astype(np.float64)
        p = erfc_of_abs(np.abs(z), np.empty_like(z))
        return np.where(z < 0, 2 - p, p)   # erfc(-z) = 2 - erfc(z)
    return blockwise(block, [x], np.float32, _BLOCK)


def _erfc(x):
    return erfc_float32(x) if x.dtype == np.float32 else _sp().erfc(x)


# name -> f(x) on an array of the compute dtype (float32 or float64)
UNARY = {
    "acosh": np.arccosh, "asinh": np.arcsinh, "atanh": np.arctanh,
    "erfc": _erfc, "erfinv": lambda x: _erfinv(x), "lgamma": _lgamma,
    "digamma": lambda x: _sp().psi(x), "i0": lambda x: _sp().i0(x), "sinc": _sinc,
    "special_erfcx": lambda x: _sp().erfcx(x), "special_ndtri": lambda x: _sp().ndtri(x),
    "special_log_ndtr": lambda x: _sp().log_ndtr(x), "special_i0e": lambda x: _sp().i0e(x),
    "special_i1": lambda x: _sp().i1(x), "special_i1e": lambda x: _sp().i1e(x),
    "special_bessel_j0": lambda x: _sp().j0(x), "special_bessel_j1": lambda x: _sp().j1(x),
    "special_bessel_y0": lambda x: _sp().y0(x), "special_bessel_y1": lambda x: _sp().y1(x),
    "special_modified_bessel_i0": lambda x: _sp().i0(x), "special_modified_bessel_i1": lambda x: _sp().i1(x),
    "special_modified_bessel_k0": lambda x: _sp().k0(x), "special_modified_bessel_k1": lambda x: _sp().k1(x),
    "special_scaled_modified_bessel_k0": lambda x: _sp().k0e(x),
    "special_scaled_modified_bessel_k1": lambda x: _sp().k1e(x),
    "special_spherical_bessel_j0": _spherical_j0, "special_airy_ai": lambda x: _sp().airy(x)[0],
}


def _unary_kernel(f):
    def k(x, dtype):
        d = dtype.numpy
        with np.errstate(all="ignore"):
            r = f(_as(x, _work(d)))
        return np.asarray(r).astype(d, copy=False)
    return k


def _signbit(x, dtype):
    if x.dtype == np.bool_:
        return np.zeros(x.shape, np.bool_)
    return np.signbit(x.astype(np.float32) if x.dtype in _HALF else x)


def _nextafter(a, b):
    d = a.dtype
    if d != _dtypes.bfloat16.numpy:
        # C's nextafter(x, y) is y when x == y: NumPy's float16 returns x (nextafter(0.0, -0.0) gave 0.0)
        return np.where(a == b, b, np.nextafter(a, b)).astype(d, copy=False) if d == np.float16 else np.nextafter(a, b)
    # bfloat16 (ml_dtypes has no nextafter): step the 16-bit pattern towards b
    a, b = np.broadcast_arrays(a, b)
    bits = a.view(np.uint16).astype(np.int32)
    away = (a < b) == (a > 0)          # the magnitude grows
    step = np.where(away, bits + 1, bits - 1)
    tiny = np.where(b > a, 1, 0x8001)  # from zero: the smallest subnormal towards b
    out = np.where(a == 0, tiny, step).astype(np.uint16).view(d)
    return np.where(np.isnan(a) | np.isnan(b), np.nan, np.where(a == b, b, out)).astype(d)


def _heaviside(a, b):
    # PyTorch: values where input == 0, else input > 0 (nan gives 0, NumPy's heaviside gives nan)
    return np.where(a == 0, b, a > 0)


def _gcd(a, b):
    """PyTorch's calc_gcd: Euclid on |a|, |b| with C's remainder (|MIN| stays MIN, as its abs
    cast back to the dtype: gcd(-128, 6) is -2 in int8, where NumPy's is 2)."""
    a, b = (np.array(v) for v in np.broadcast_arrays(np.abs(a), np.abs(b)))
    while True:
        nz = a != 0
        if not nz.any():
            return b
        c = a
        a = np.where(nz, np.fmod(b, np.where(nz, a, 1)), 0).astype(b.dtype)
        b = np.where(nz, c, b)


def _lcm(a, b):
    """PyTorch's calc_lcm: |a / gcd * b| computed in C's int (for 8- and 16-bit types) and cast back."""
    g = _gcd(a, b)
    wide = np.int64 if g.dtype.itemsize < 4 else g.dtype
    with np.errstate(all="ignore"):
        r = np.abs(np.asarray(a, wide) // np.where(g == 0, 1, g).astype(wide) * np.asarray(b, wide))
    return np.where(g == 0, 0, r).astype(g.dtype)


def _gammainc(a, x):
    return _sp().gammainc(a, x)


def _gammaincc(a, x):
    return _sp().gammaincc(a, x)


# name -> (f(a, b), computes in a float dtype)
BINARY = {
    "copysign": (np.copysign, True), "nextafter": (_nextafter, False), "heaviside": (_heaviside, False),
    "gcd": (_gcd, False), "lcm": (_lcm, False),
    "special_xlog1py": (lambda a, b: _sp().xlog1py(a, b), True), "special_zeta": (lambda a, b: _sp().zeta(a, b), True),
    "special_gammainc": (_gammainc, True), "special_gammaincc": (_gammaincc, True),
}


def _binary_kernel(f, floating):
    def k(a, b, dtype):
        d = dtype.numpy
        w = _work(d) if floating else d
        with np.errstate(all="ignore"):
            r = f(_as(a, w), _as(b, w))
        return np.asarray(r).astype(d, copy=False)
    return k


def _polygamma(n, x, dtype):
    d = dtype.numpy
    x = _as(x, _work(d))
    with np.errstate(all="ignore"):
        r = _sp().psi(x) if n == 0 else _sp().polygamma(n, x.astype(np.float64)).astype(x.dtype)
        if n:   # (SciPy's polygamma(n, -inf) is +-inf; PyTorch's, and the limit's, undefined: nan)
            r = np.where(x == -np.inf, np.nan, r).astype(r.dtype, copy=False)
    return np.asarray(r).astype(d, copy=False)


def _polynomial(name):
    """p_n(x) of torch.special's orthogonal polynomial ``name``, n truncated to an integer
    (SciPy's recurrences for integer n); negative or nan n give 0, as in PyTorch."""
    shifted = name.startswith("shifted_")
    kind = name.replace("shifted_", "")

    def f(x, n):
        x, n = np.broadcast_arrays(x, n)
        ok = np.isfinite(n) & (n >= 0)
        k = np.where(ok, np.trunc(np.where(ok, n, 0)), 0).astype(np.int64)
        sp = _sp()
        t = 2 * x - 1 if shifted else x
        if kind == "chebyshev_polynomial_t":
            r = sp.eval_chebyt(k, t)
        elif kind == "chebyshev_polynomial_u":
            r = sp.eval_chebyu(k, t)
        elif kind in ("chebyshev_polynomial_v", "chebyshev_polynomial_w"):
            # V_n = U_n - U_(n-1), W_n = U_n + U_(n-1) (U_(-1) = 0)
            prev = np.where(k > 0, sp.eval_chebyu(np.maximum(k - 1, 0), t), 0)
            r = sp.eval_chebyu(k, t) + (prev if kind.endswith("w") else -prev)
        else:
            r = {"hermite_polynomial_h": sp.eval_hermite, "hermite_polynomial_he": sp.eval_hermitenorm,
                 "laguerre_polynomial_l": sp.eval_laguerre, "legendre_polynomial_p": sp.eval_legendre}[kind](k, t)
        return np.where(ok, r, 0).astype(x.dtype, copy=False)
    return f


for _n in ("chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
           "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l", "legendre_polynomial_p"):
    BINARY["special_" + _n] = (_polynomial(_n), True)
    if _n.startswith("chebyshev"):
        BINARY["special_shifted_" + _n] = (_polynomial("shifted_" + _n), True)

KERNELS = {name: _unary_kernel(f) for name, f in UNARY.items()}
KERNELS.update({name: _binary_kernel(f, fl) for name, (f, fl) in BINARY.items()})
KERNELS["signbit"] = _signbit
KERNELS["polygamma"] = _polygamma
