"""The special functions OpenCL C gives (acosh, erfc, lgamma, copysign, nextafter ...), and
digamma, erfinv, zeta, polygamma and xlog1py written as PyTorch's kernels compute them, as
pointwise kernels, one small program per op and dtype signature (they are rare: compiling them
into every unary program would slow all of those). The others (the Bessel functions, erfcx, ndtri,
gammainc ...) have no kernel here: they run through host memory (``dispatch.host``).

Edge values follow the cpu kernels (PyTorch's): sinc(0) is 1, heaviside(nan) is 0, lgamma(-inf)
is inf (C99's). float16 and bfloat16 compute in float and round on store, as on cpu; their
nextafter steps the 16-bit pattern on the host, the one case C's nextafter in float cannot give.
"""
from __future__ import annotations

from plugtorch._caches import Memo
from plugtorch.backends.opencl import cltypes as T
from plugtorch.backends.opencl.buffer import CLArray
from plugtorch.backends.opencl.kernels import pointwise as P
from plugtorch.backends.opencl.kernels.elementwise import helpers
from plugtorch.dispatch.meta import broadcast_shapes

_CACHE = Memo(256, invalidate=False)   # (op, dtypes, device) -> its compiled Pointwise

GCD = r"""
inline CT igcd(CT a, CT b) {   /* PyTorch's calc_gcd: |MIN| stays MIN, as its abs cast back */
    a = a < 0 ? (CT)-a : a; b = b < 0 ? (CT)-b : b;
    /* b % -1 is b % 1 (0), and MIN % -1 traps on a CPU device (SIGFPE kills the process): the
       divisor is made 1 there by arithmetic, not by a select, which the compiler may turn into
       a division by a lane's -1 once the work-group loop is vectorized */
    while (a != 0) { const CT c = a; a = (CT)(b % NOT_MINUS_1(a)); b = c; }
    return b; }
inline CT ilcm(CT a, CT b) {   /* PyTorch's calc_lcm: |a / g * b| in C's int (long for 64 bits) */
    /* = |a| / |g| * |b| (wrapping as the signed product does), in unsigned arithmetic: no division
       by -1 or 0 in any lane (g is 0 only where a is) */
    const CT g = igcd(a, b);
    const UT ua = a < 0 ? (UT)0 - (UT)(WT)a : (UT)(WT)a;
    const UT ug = max(g < 0 ? (UT)0 - (UT)(WT)g : (UT)(WT)g, (UT)1);
    const UT ub = b < 0 ? (UT)0 - (UT)(WT)b : (UT)(WT)b;
    const WT r = (WT)((ua / ug) * ub); return (CT)(r < 0 ? -r : r); }
"""


def _sinc(dt):
    pi = "M_PI" if dt.itemsize == 8 else "M_PI_F"
    return f"(x0 == 0 ? (CT)1 : sin({pi} * x0) / ({pi} * x0))"


def _lit(v, dt):
    """A C literal of ``v`` in the compute type (float literals: no double on devices without fp64)."""
    return repr(float(v)) + ("" if dt.itemsize == 8 else "f")


# digamma as PyTorch's calc_digamma (Cephes): the reflection for negative x, the recurrence up to
# 10, then the asymptotic series
_PSI_A = (8.33333333333333333333E-2, -2.10927960927960927961E-2, 7.57575757575757575758E-3,
          -4.16666666666666666667E-3, 3.96825396825396825397E-3, -8.33333333333333333333E-3,
          8.33333333333333333333E-2)


def _digamma_helper(dt):
    pi = "M_PI" if dt.itemsize == 8 else "M_PI_F"
    poly = "0"
    for a in _PSI_A:
        poly = f"({poly}) * z + {_lit(a, dt)}"
    return f"""
inline CT fdigamma(CT x) {{
    if (x == 0) return copysign((CT)INFINITY, -x);
    CT refl = 0;
    if (x < 0) {{
        if (x == trunc(x)) return (CT)NAN;
        /* digamma(x) = digamma(1 - x) - pi / tan(pi x); tan has period pi, and x - rint(x) is
           exact, so the product pi x rounds no large argument (float32 near -10 lost 4 digits);
           at a half-integer tan is infinite and the term 0 (tan of the rounded pi / 2 is not:
           float32 digamma(-0.5) was 0.0364897, 80 ulps from 0.0364900) */
        const CT f = x - rint(x);
        refl = fabs(f) == {_lit(0.5, dt)} ? (CT)0 : -{pi} / tan({pi} * f);
        x = 1 - x;
    }}
    CT r = 0;
    while (x < 10) {{ r -= 1 / x; x += 1; }}
    if (x == 10) return refl + r + {_lit(2.25175258906672110764, dt)};
    CT y = 0;
    if (x < {_lit(1e17, dt)}) {{ const CT z = 1 / (x * x); y = z * ({poly}); }}
    return refl + r + log(x) - {_lit(0.5, dt)} / x - y;
}}
"""


# erfinv as PyTorch's calc_erfinv: a rational first guess, then two Newton steps on erf
def _erfinv_helper(dt):
    def c(v):
        return _lit(v, dt)
    a = [c(v) for v in (0.886226899, -1.645349621, 0.914624893, -0.140543331)]
    b = [c(v) for v in (-2.118377725, 1.442710462, -0.329097515, 0.012229801)]
    cc = [c(v) for v in (-1.970840454, -1.624906493, 3.429567803, 1.641345311)]
    d = [c(v) for v in (3.543889200, 1.637067800)]
    k = c(1.1283791670955126)   # 2 / sqrt(pi)
    return f"""
inline CT ferfinv(CT y) {{
    const CT ya = fabs(y);
    if (ya > 1) return (CT)NAN;
    if (ya == 1) return copysign((CT)INFINITY, y);
    CT x;
    if (ya <= {c(0.7)}) {{
        const CT z = y * y;
        const CT num = ((({a[3]} * z + {a[2]}) * z + {a[1]}) * z + {a[0]});
        const CT dem = (((({b[3]} * z + {b[2]}) * z + {b[1]}) * z + {b[0]}) * z + 1);
        x = y * num / dem;
    }} else {{
        const CT z = sqrt(-log((1 - ya) / 2));
        const CT num = (({cc[3]} * z + {cc[2]}) * z + {cc[1]}) * z + {cc[0]};
        const CT dem = ({d[1]} * z + {d[0]}) * z + 1;
        x = copysign(num, y) / dem;
    }}
    x = x - (erf(x) - y) / ({k} * exp(-x * x));
    x = x - (erf(x) - y) / ({k} * exp(-x * x));
    return x;
}}
"""


# the Hurwitz zeta function as PyTorch's (Cephes'): the sum up to a > 9, then the Euler-Maclaurin
# tail with (2k)! / B_2k; float kernels accumulate in double where the device has it (as PyTorch's
# cpu kernel does), since about 20 float terms would drift past float32's tolerance
_ZETA_A = (12.0, -720.0, 30240.0, -1209600.0, 47900160.0, -1.8924375803183791606e9, 7.47242496e10,
           -2.950130727918164224e12, 1.1646782814350067249e14, -4.5979787224074726105e15,
           1.8152105401943546773e17, -7.1661652561756670113e18)


def _zeta_helper(dt, dev):
    wide = dt.itemsize == 8 or dev.fp64
    zt = "double" if wide else "float"

    def c(v):
        return repr(float(v)) + ("" if wide else "f")
    table = ", ".join(c(v) for v in _ZETA_A)
    return f"""
inline CT fzeta(CT xc, CT qc) {{
    const {zt} x = xc, q = qc, MACHEP = {c(1.11022302462515654042E-16)};
    const {zt} A[12] = {{{table}}};
    if (x == 1) return (CT)INFINITY;
    if (x < 1) return (CT)NAN;
    if (q == INFINITY) return 0;   /* (SciPy's limit; the series would give inf * 0) */
    if (q <= 0) {{
        if (q == floor(q)) return (CT)INFINITY;
        if (x != floor(x)) return (CT)NAN;
    }}
    {zt} s = pow(q, -x), a = q, b = 0;
    int i = 0;
    while (i < 9 || a <= 9) {{
        i += 1; a += 1; b = pow(a, -x); s += b;
        if (-MACHEP * s < b && b < MACHEP * s) return (CT)s;
    }}
    const {zt} w = a;
    s += b * w / (x - 1);
    s -= {c(0.5)} * b;
    a = 1;
    {zt} k = 0;
    for (int j = 0; j < 12; j++) {{
        a *= x + k; b /= w;
        {zt} t = a * b / A[j];
        s = s + t;
        if (fabs(t / s) < MACHEP) return (CT)s;
        k += 1; a *= x + k; b /= w; k += 1;
    }}
    return (CT)s;
}}
"""


def _polygamma_helper(dt, dev):
    # polygamma(n, x) = (-1)^(n+1) n! zeta(n + 1, x) for n >= 1 (n passed as x1), digamma for n = 0
    return _digamma_helper(dt) + _zeta_helper(dt, dev) + """
inline CT fpolygamma(CT x, CT n) {
    if (n == 0) return fdigamma(x);
    if (x == -INFINITY) return (CT)NAN;   /* (as on cpu: no limit there) */
    const CT sign = fmod(n, (CT)2) == 1 ? (CT)1 : (CT)-1;
    return sign * exp(lgamma(n + 1)) * fzeta(n + 1, x);
}
"""


UNARY = {"acosh": "acosh(x0)", "asinh": "asinh(x0)", "atanh": "atanh(x0)", "erfc": "erfc(x0)",
         "lgamma": "lgamma(x0)", "sinc": _sinc, "digamma": "fdigamma(x0)", "erfinv": "ferfinv(x0)"}
_UNARY_HELPERS = {"digamma": lambda dt, dev: _digamma_helper(dt), "erfinv": lambda dt, dev: _erfinv_helper(dt)}
BINARY = {"copysign": "copysign(x0, x1)", "nextafter": "nextafter(x0, x1)",
          "heaviside": "(x0 == 0 ? x1 : (CT)(x0 > 0))", "gcd": "igcd(x0, x1)", "lcm": "ilcm(x0, x1)",
          # scipy's and PyTorch's xlog1py: 0 where x is 0, unless y is nan
          "special_xlog1py": "(x0 == 0 && !isnan(x1) ? (CT)0 : x0 * log1p(x1))",
          "special_zeta": "fzeta(x0, x1)"}
def _gcd_helper(dt, dev):
    wide = "long" if dt.itemsize == 8 else "ulong" if dt.kind == "u" and dt.itemsize == 4 else \
        "uint" if dt.kind == "u" else "int"
    unsigned = wide if wide.startswith("u") else "u" + wide
    # a signed divisor of -1 becomes 1 (same remainder, 0); an unsigned one is never -1
    fix = "#define NOT_MINUS_1(a) (a)" if dt.kind == "u" else \
        "#define NOT_MINUS_1(a) ((CT)((a) + (CT)(((a) == (CT)-1) << 1)))"
    return f"typedef {wide} WT;\ntypedef {unsigned} UT;\n{fix}\n" + GCD


_BINARY_HELPERS = {"gcd": _gcd_helper, "lcm": _gcd_helper, "special_zeta": _zeta_helper}


def _run(name, expr, operands, targets, out_dt, extra=None):
    """Launch op ``name`` (C ``expr`` in x0, x1) over broadcast ``operands`` (CLArrays or scalars);
    ``extra(dtype, dev)`` gives the helper functions ``expr`` calls (built on a cache miss only)."""
    arrays = [x for x in operands if x.__class__ is CLArray]
    dev = arrays[0].dev
    shape = arrays[0].shape
    contiguous = arrays[0].contiguous
    for x in arrays[1:]:
        if x.shape != shape or not x.contiguous:
            contiguous = False
        if x.shape != shape:
            shape = broadcast_shapes(shape, x.shape)
    if contiguous and any(x.shape != shape for x in arrays):
        contiguous = False
    in_dts = tuple(x.dtype if x.__class__ is CLArray else None for x in operands)
    targets = tuple(targets)
    key = (name, in_dts, targets, out_dt, dev)
    pw = _CACHE.get(key)
    if pw is None:
        src = P.source(in_dts, targets, out_dt, {name: expr},
                       helpers(targets[-1]) + (extra(targets[-1], dev) if extra else ""))
        pw = _CACHE[key] = P.Pointwise(dev, ("special", name, in_dts, targets, out_dt), src, in_dts, targets, name)
    vals = [x if x.__class__ is CLArray else T.scalar(tg, x) for x, tg in zip(operands, targets)]
    return P.run(pw, dev.empty(shape, out_dt), vals, shape, contiguous)


def _unary(name):
    def k(x, dtype):
        d = dtype.numpy
        expr = UNARY[name]
        return _run(name, expr(d) if callable(expr) else expr, (x,), (d,), d, _UNARY_HELPERS.get(name))
    k.__name__ = name
    return k


def _signbit(x, dtype):
    d = x.dtype
    expr = "(signbit(x0) != 0)" if T.is_float(d) else "(x0 < 0)" if d.kind == "i" else "0"
    return _run("signbit", expr, (x,), (d,), T.BOOL)


def _binary(name):
    def k(a, b, dtype):
        d = dtype.numpy
        if name == "nextafter" and d in T.HALVES:
            return _nextafter_half(a, b, dtype)
        return _run(name, BINARY[name], (a, b), (d, d), d, _BINARY_HELPERS.get(name))
    k.__name__ = name
    return k


def _nextafter_half(a, b, dtype):
    from plugtorch.backends.cpu.special_kernels import KERNELS as CPU
    from plugtorch.backends.opencl import runtime
    dev = a.dev
    host = [runtime.to_host(v) if v.__class__ is CLArray else v for v in (a, b)]
    return runtime.from_host(dev, CPU["nextafter"](*host, dtype))


def _polygamma(n, x, dtype):
    d = dtype.numpy
    return _run("polygamma", "fpolygamma(x0, x1)", (x, n), (d, d), d, _polygamma_helper)


KERNELS = {name: _unary(name) for name in UNARY}
KERNELS.update({name: _binary(name) for name in BINARY})
KERNELS["signbit"] = _signbit
KERNELS["polygamma"] = _polygamma
