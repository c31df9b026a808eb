"""complex64 and complex128 on OpenCL: float2 / double2 values (real part .x, imaginary .y).

The C helpers follow what the cpu kernels compute with NumPy (reciprocal, rsqrt and sigmoid
divide: rsqrt(0j) is PyTorch's inf+nanj): its complex loops (Smith's scaled division and
reciprocal, abs scaled by its larger part, the product with one fused multiply-add as its SIMD loop has it) and C99 Annex G's special values, as glibc's cexp, clog, csqrt,
ctanh ... give them (infinities and NaNs in either part, signed zeros). They are written once
over ``CT`` (the vector type) and ``RT`` (its real type), with FP_CONTRACT off so that no fused
multiply-add changes a product's rounding.

Ops a complex dtype has no kernel for raise ``MissingCapabilityError`` naming op, dtype and device.
"""
from __future__ import annotations

from plugtorch.backends.base import MissingCapabilityError

HELPERS = r"""
#pragma OPENCL FP_CONTRACT OFF
inline CT cx(RT re, RT im) { CT r; r.x = re; r.y = im; return r; }
/* NumPy's SIMD loop (contiguous arrays, the usual case): one product fused, fmaddsub's order */
inline CT cmul(CT a, CT b) { return cx(fma(a.x, b.x, -(a.y * b.y)), fma(a.x, b.y, a.y * b.x)); }
inline CT cdiv(CT a, CT b) {   /* NumPy's: Smith's algorithm, the larger part of b scaled out */
    const RT ar = fabs(b.x), ai = fabs(b.y);
    if (ar >= ai) {
        if (ar == 0 && ai == 0) return cx(a.x / ar, a.y / ai);
        const RT rat = b.y / b.x, scl = (RT)1 / (b.x + b.y * rat);
        return cx((a.x + a.y * rat) * scl, (a.y - a.x * rat) * scl);
    }
    const RT rat = b.x / b.y, scl = (RT)1 / (b.y + b.x * rat);
    return cx((a.x * rat + a.y) * scl, (a.y * rat - a.x) * scl);
}
inline RT cabs_(CT a) {   /* NumPy's loop: the larger part times sqrt(1 + r^2), r = smaller / larger */
    const RT x = fabs(a.x), y = fabs(a.y);   /* (selects, not fmax/isinf: 2x faster on PoCL) */
    const int g = x > y;
    const RT m = g ? x : y, r = (g ? y : x) / m;   /* a NaN part makes r NaN */
    const RT v = (x == 0 && y == 0) ? (RT)0 : m * sqrt(fma(r, r, (RT)1));
    return (x == INFINITY || y == INFINITY) ? (RT)INFINITY : v;
}
inline RT carg(CT a) { return atan2(a.y, a.x); }
inline int cnan(CT a) { return isnan(a.x) || isnan(a.y); }
inline int cinf(CT a) { return isinf(a.x) || isinf(a.y); }
inline int cfinite(CT a) { return isfinite(a.x) && isfinite(a.y); }
inline int cnonzero(CT a) { return a.x != 0 || a.y != 0; }
inline CT cexp_(CT a) {
    const RT x = a.x, y = a.y;
    if (y == 0) return cx(exp(x), y);
    if (isinf(x)) {
        if (x < 0) return isfinite(y) ? cx((RT)0 * cos(y), (RT)0 * sin(y)) : cx(0, copysign((RT)0, y));
        if (!isfinite(y)) return cx(x, y - y);
        return cx(x * cos(y), x * sin(y));
    }
    if (isnan(x) || !isfinite(y)) return cx(NAN, NAN);
    if (x > EXP_BIG) { const RT e = exp(x * (RT)0.5); return cx(e * cos(y) * e, e * sin(y) * e); }
    const RT e = exp(x);
    return cx(e * cos(y), e * sin(y));
}
inline CT clog_(CT a) {
    const RT x = a.x, y = a.y;
    if (isinf(x) || isinf(y)) return cx(INFINITY, atan2(y, x));
    if (isnan(x) || isnan(y)) return cx(NAN, NAN);
    const RT ax = fabs(x), ay = fabs(y), big = fmax(ax, ay), small = fmin(ax, ay);
    RT re;
    if (big == 0) re = -INFINITY;
    else if (big > (RT)0.5 && big < (RT)2)   /* |a| near 1: log1p keeps the small result's digits */
        re = (RT)0.5 * log1p((big - 1) * (big + 1) + small * small);
    else { const RT r = small / big; re = log(big) + (RT)0.5 * log1p(r * r); }   /* no overflow */
    return cx(re, atan2(y, x));
}
inline CT csqrt_(CT a) {       /* Kahan's, scaled where |a| may overflow (FreeBSD's csqrt) */
    const RT x = a.x, y = a.y;
    if (x == 0 && y == 0) return cx(0, y);
    if (isinf(y)) return cx(INFINITY, y);
    if (isnan(x)) return cx(x, (y - y) / (y - y));
    if (isinf(x)) {
        if (x < 0) return cx(fabs(y - y), copysign((RT)INFINITY, y));
        return cx(x, copysign(y - y, y));
    }
    if (isnan(y)) return cx(y, y);
    RT sx = x, sy = y, up = 1;
    if (fabs(x) >= SQRT_BIG || fabs(y) >= SQRT_BIG) { sx *= (RT)0.25; sy *= (RT)0.25; up = 2; }
    else if (fabs(x) <= SQRT_TINY && fabs(y) <= SQRT_TINY) { sx *= SQRT_UP; sy *= SQRT_UP; up = SQRT_DOWN; }
    if (sx >= 0) {
        const RT t = sqrt((sx + hypot(sx, sy)) * (RT)0.5);
        return cx(t * up, sy / (2 * t) * up);
    }
    const RT t = sqrt((-sx + hypot(sx, sy)) * (RT)0.5);
    return cx(fabs(sy) / (2 * t) * up, copysign(t, sy) * up);
}
inline CT ctanh_(CT a) {       /* FreeBSD's ctanh (Kahan) */
    const RT x = a.x, y = a.y;
    if (isnan(x)) return cx(x, y == 0 ? y : x);
    if (x == 0 && !isfinite(y)) return cx(x, y - y);
    if (isinf(x)) return cx(copysign((RT)1, x), isfinite(y) ? copysign((RT)0, sin(y) * cos(y)) : copysign((RT)0, y));
    if (!isfinite(y)) return cx(y - y, y - y);
    if (fabs(x) >= TANH_BIG) {
        const RT e = exp(-fabs(x));
        return cx(copysign((RT)1, x), (RT)4 * sin(y) * cos(y) * e * e);
    }
    const RT t = tan(y), beta = 1 + t * t, s = sinh(x), rho = sqrt(1 + s * s), den = 1 + beta * s * s;
    return cx(beta * rho * s / den, t / den);
}
inline RT cosh_half(RT ax) { const RT h = exp(ax * (RT)0.5); return (RT)0.5 * h * h; }
inline CT csinh_(CT a) {
    const RT x = a.x, y = a.y;
    if (y == 0) return cx(sinh(x), y);
    if (x == 0 && !isfinite(y)) return cx(x, y - y);
    if (isinf(x) && isfinite(y)) return cx(x * cos(y), INFINITY * sin(y));
    if (isinf(x)) return cx(x * x, y - y);
    if (fabs(x) > EXP_BIG) {   /* cosh(x) overflows where cosh(x) sin(y) need not */
        const RT h = exp(fabs(x) * (RT)0.5), c = (RT)0.5 * cos(y) * h, s = (RT)0.5 * sin(y) * h;
        return cx(copysign((RT)1, x) * c * h, s * h);
    }
    return cx(sinh(x) * cos(y), cosh(x) * sin(y));
}
inline CT ccosh_(CT a) {
    const RT x = a.x, y = a.y;
    if (y == 0) return cx(cosh(x), isnan(x) ? y : copysign((RT)0, x) * y);
    if (x == 0 && !isfinite(y)) return cx(y - y, (RT)0);
    if (isinf(x) && isfinite(y)) return cx(INFINITY * cos(y), x * sin(y));
    if (isinf(x)) return cx(x * x, x * (y - y));
    if (fabs(x) > EXP_BIG) {
        const RT h = exp(fabs(x) * (RT)0.5), c = (RT)0.5 * cos(y) * h, s = (RT)0.5 * sin(y) * h;
        return cx(c * h, copysign((RT)1, x) * s * h);
    }
    return cx(cosh(x) * cos(y), sinh(x) * sin(y));
}
/* NumPy's nc_log2/log10 (clog's parts scaled), nc_exp2, nc_expm1 and nc_log1p */
inline CT clog2_(CT a) { const CT l = clog_(a); return cx(l.x * LOG2E, l.y * LOG2E); }
inline CT clog10_(CT a) { const CT l = clog_(a); return cx(l.x * LOG10E, l.y * LOG10E); }
inline CT cexp2_(CT a) { return cexp_(cx(a.x * LN2, a.y * LN2)); }
inline CT cexpm1_(CT a) {
    const RT h = sin(a.y / 2);
    return cx(expm1(a.x) * cos(a.y) - 2 * h * h, exp(a.x) * sin(a.y));
}
inline CT clog1p_(CT a) { return cx(log(hypot(a.x + 1, a.y)), atan2(a.y, a.x + 1)); }
/* NumPy's nc_pow: small integer exponents by repeated (plain) products, others cexp(b log a) */
inline CT cmul_plain(CT a, CT b) { return cx(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x); }
inline CT cmul_c99(CT z, CT w) {   /* C's z * w (libgcc's __mulsc3: infinities recovered from NaNs) */
    RT a = z.x, b = z.y, c = w.x, d = w.y;
    const RT ac = a * c, bd = b * d, ad = a * d, bc = b * c, x = ac - bd, y = ad + bc;
    if (!(isnan(x) && isnan(y))) return cx(x, y);
    int recalc = 0;
    if (isinf(a) || isinf(b)) {
        a = copysign(isinf(a) ? (RT)1 : (RT)0, a); b = copysign(isinf(b) ? (RT)1 : (RT)0, b);
        if (isnan(c)) c = copysign((RT)0, c);
        if (isnan(d)) d = copysign((RT)0, d);
        recalc = 1;
    }
    if (isinf(c) || isinf(d)) {
        c = copysign(isinf(c) ? (RT)1 : (RT)0, c); d = copysign(isinf(d) ? (RT)1 : (RT)0, d);
        if (isnan(a)) a = copysign((RT)0, a);
        if (isnan(b)) b = copysign((RT)0, b);
        recalc = 1;
    }
    if (!recalc && (isinf(ac) || isinf(bd) || isinf(ad) || isinf(bc))) {
        if (isnan(a)) a = copysign((RT)0, a);
        if (isnan(b)) b = copysign((RT)0, b);
        if (isnan(c)) c = copysign((RT)0, c);
        if (isnan(d)) d = copysign((RT)0, d);
        recalc = 1;
    }
    return recalc ? cx(INFINITY * (a * c - b * d), INFINITY * (a * d + b * c)) : cx(x, y);
}
inline CT cpow_(CT a, CT b) {
    const RT br = b.x, bi = b.y;
    if (br == 0 && bi == 0) return cx(1, 0);
    if (a.x == 0 && a.y == 0) return br > 0 ? cx(0, 0) : cx(NAN, NAN);
    if (bi == 0 && br == trunc(br) && fabs(br) < 100) {
        int n = (int)br;
        if (n == 1) return a;
        if (n == 2) return cmul_plain(a, a);
        if (n == 3) return cmul_plain(cmul_plain(a, a), a);
        if (n < 0) n = -n;
        CT r = cx(1, 0), p = a;
        for (int mask = 1;; mask <<= 1) {
            if (n & mask) r = cmul_plain(r, p);
            if (n < (mask << 1)) break;
            p = cmul_plain(p, p);
        }
        return br < 0 ? cdiv(cx(1, 0), r) : r;
    }
    return cexp_(cmul_c99(b, clog_(a)));   /* glibc's cpow: C's complex product */
}
inline RT x2y2m1(RT x, RT y) {   /* x^2 + y^2 - 1 with the squares' rounding errors kept (fma) */
    const RT xx = x * x, yy = y * y, ex = fma(x, x, -xx), ey = fma(y, y, -yy);
    return ((xx - 1) + yy) + (ex + ey);
}
inline CT catan_(CT a) {        /* glibc's catan */
    const RT x = a.x, y = a.y;
    if (!isfinite(x) || !isfinite(y)) {
        if (isinf(x)) return cx(copysign(PI_2, x), copysign((RT)0, y));
        if (isinf(y)) return cx(isnan(x) ? (RT)NAN : copysign(PI_2, x), copysign((RT)0, y));
        if (y == 0) return cx(NAN, copysign((RT)0, y));
        return cx(NAN, NAN);
    }
    if (x == 0 && y == 0) return a;
    if (fabs(x) >= 16 / EPS || fabs(y) >= 16 / EPS) {
        RT im;
        if (fabs(x) <= 1) im = 1 / y;
        else if (fabs(y) <= 1) im = y / x / x;
        else { const RT h = hypot(x / 2, y / 2); im = y / h / h / 4; }
        return cx(copysign(PI_2, x), im);
    }
    RT ax = fabs(x), ay = fabs(y), den;
    if (ax < ay) { const RT t = ax; ax = ay; ay = t; }
    if (ay < EPS / 2) { den = (1 - ax) * (1 + ax); if (den == 0) den = 0; }
    else if (ax >= 1) den = (1 - ax) * (1 + ax) - ay * ay;
    else if (ax >= (RT)0.75 || ay >= (RT)0.5) den = -x2y2m1(ax, ay);
    else den = (1 - ax) * (1 + ax) - ay * ay;
    const RT re = (RT)0.5 * atan2(2 * x, den);
    if (fabs(y) == 1 && fabs(x) < EPS * EPS)
        return cx(re, copysign((RT)0.5, y) * (LN2 - log(fabs(x))));
    const RT r2 = fabs(x) >= EPS * EPS ? x * x : (RT)0;
    RT num = y + 1, den2 = y - 1;
    num = r2 + num * num;
    den2 = r2 + den2 * den2;
    const RT f = num / den2;
    return cx(re, f < (RT)0.5 ? (RT)0.25 * log(f) : (RT)0.25 * log1p(4 * y / den2));
}
/* casinh and cacos by Hull, Fairgrieve and Tang's algorithm (FreeBSD's catrig.c) */
inline RT cat_f(RT a, RT b, RT h) { return b < 0 ? (h - b) / 2 : (b == 0 ? a / 2 : a * a / (h + b) / 2); }
inline void cat_hard(RT x, RT y, RT* rx, int* B_ok, RT* B, RT* sq, RT* ny) {
    const RT R = hypot(x, y + 1), S = hypot(x, y - 1);
    RT A = (R + S) / 2;
    if (A < 1) A = 1;
    if (A < 10) {
        if (y == 1 && x < EPS * EPS / 128) *rx = sqrt(x);
        else if (x >= EPS * fabs(y - 1)) { const RT Am1 = cat_f(x, 1 + y, R) + cat_f(x, 1 - y, S); *rx = log1p(Am1 + sqrt(Am1 * (A + 1))); }
        else if (y < 1) *rx = x / sqrt((1 - y) * (1 + y));
        else *rx = log1p((y - 1) + sqrt((y - 1) * (y + 1)));
    } else *rx = log(A + sqrt(A * A - 1));
    *ny = y;
    if (y < FOUR_SQRT_MIN) { *B_ok = 0; *sq = A * (2 / EPS); *ny = y * (2 / EPS); return; }
    *B = y / A;
    *B_ok = 1;
    if (*B > (RT)0.6417) {
        *B_ok = 0;
        if (y == 1 && x < EPS / 128) *sq = sqrt(x) * sqrt((A + y) / 2);
        else if (x >= EPS * fabs(y - 1)) { const RT Amy = cat_f(x, y + 1, R) + cat_f(x, y - 1, S); *sq = sqrt(Amy * (A + y)); }
        else if (y > 1) { *sq = x * (4 / EPS / EPS) * y / sqrt((y + 1) * (y - 1)); *ny = y * (4 / EPS / EPS); }
        else *sq = sqrt((1 - y) * (1 + y));
    }
}
inline CT clog_large(RT x, RT y) {
    RT ax = fabs(x), ay = fabs(y);
    if (ax < ay) { const RT t = ax; ax = ay; ay = t; }
    if (ax > HALF_MAX) return cx(log(hypot(x / EULER, y / EULER)) + 1, atan2(y, x));
    if (ax > QUARTER_SQRT_MAX || ay < SQRT_MIN) return cx(log(hypot(x, y)), atan2(y, x));
    return cx(log(ax * ax + ay * ay) / 2, atan2(y, x));
}
inline CT casinh_(CT z) {
    const RT x = z.x, y = z.y, ax = fabs(x), ay = fabs(y);
    if (isnan(x) || isnan(y)) {
        if (isinf(x)) return cx(x, y + y);
        if (isinf(y)) return cx(y, x + x);
        if (y == 0) return cx(x + x, y);
        return cx(NAN, NAN);
    }
    if (ax > 1 / EPS || ay > 1 / EPS) {
        const CT w = signbit(x) ? clog_large(-x, -y) : clog_large(x, y);
        return cx(copysign(w.x + LN2, x), copysign(w.y, y));
    }
    if (x == 0 && y == 0) return z;
    if (ax < SQRT_6_EPS / 4 && ay < SQRT_6_EPS / 4) return z;
    RT rx, B, sq, ny;
    int B_ok;
    cat_hard(ax, ay, &rx, &B_ok, &B, &sq, &ny);
    return cx(copysign(rx, x), copysign(B_ok ? asin(B) : atan2(ny, sq), y));
}
inline CT casin_(CT z) {
    if ((isnan(z.x) || isnan(z.y)) && (isinf(z.x) || isinf(z.y)))   /* glibc's sign of the infinity */
        return cx(NAN, copysign((RT)INFINITY, z.y));
    const CT w = casinh_(cx(z.y, z.x));
    return cx(w.y, w.x);
}
inline CT cacos_(CT z) {
    const RT x = z.x, y = z.y, ax = fabs(x), ay = fabs(y);
    const int sx = signbit(x), sy = signbit(y);
    if (isnan(x) || isnan(y)) {
        if (isinf(x)) return cx(y + y, -INFINITY);
        if (isinf(y)) return cx(x + x, -y);
        if (x == 0) return cx(PI_2, y + y);
        return cx(NAN, NAN);
    }
    if (ax > 1 / EPS || ay > 1 / EPS) {
        const CT w = clog_large(x, y);
        const RT ry = w.x + LN2;
        return cx(fabs(w.y), sy ? ry : -ry);
    }
    if (x == 1 && y == 0) return cx(0, -y);
    if (ax < SQRT_6_EPS / 4 && ay < SQRT_6_EPS / 4) return cx(PI_2 - x, -y);
    RT ry, B, sq, nx;
    int B_ok;
    cat_hard(ay, ax, &ry, &B_ok, &B, &sq, &nx);
    const RT rx = B_ok ? acos(sx ? -B : B) : atan2(sq, sx ? -nx : nx);
    return cx(rx, sy ? ry : -ry);
}
/* sin(z) = -i sinh(iz), cos(z) = cosh(iz), tan(z) = -i tanh(iz) */
inline CT csin_(CT a) {
    if (isinf(a.y) && !isfinite(a.x)) return cx(a.x - a.x, fabs(a.y));   /* glibc's signs */
    const CT r = csinh_(cx(-a.y, a.x));
    return cx(r.y, -r.x);
}
inline CT ccos_(CT a) { return ccosh_(cx(-a.y, a.x)); }
inline CT ctan_(CT a) { const CT r = ctanh_(cx(-a.y, a.x)); return cx(r.y, -r.x); }
"""

# per precision: overflow thresholds of exp, sqrt's scaling, tanh's saturation
_CONSTS = {
    "float": dict(EXP_BIG="88.7f", SQRT_BIG="0x1p126f", SQRT_TINY="0x1p-100f", SQRT_UP="0x1p50f",
                  SQRT_DOWN="0x1p-25f", TANH_BIG="9.0f", LOG2E="1.44269504f", LOG10E="0.434294482f",
                  LN2="0.693147181f", EPS="0x1p-23f", PI_2="1.57079633f",
                  FOUR_SQRT_MIN="0x1p-61f", QUARTER_SQRT_MAX="0x1p61f", SQRT_MIN="0x1p-63f",
                  SQRT_6_EPS="8.4572793338e-4f", HALF_MAX="0x1.fffffep126f", EULER="2.71828183f"),
    "double": dict(EXP_BIG="709.7", SQRT_BIG="0x1p1022", SQRT_TINY="0x1p-900", SQRT_UP="0x1p450",
                   SQRT_DOWN="0x1p-225", TANH_BIG="22.0", LOG2E="1.4426950408889634",
                   LOG10E="0.4342944819032518", LN2="0.6931471805599453", EPS="0x1p-52",
                   PI_2="1.5707963267948966", FOUR_SQRT_MIN="0x1p-509", QUARTER_SQRT_MAX="0x1p509",
                   SQRT_MIN="0x1p-511", SQRT_6_EPS="3.6500241499888571e-8", HALF_MAX="0x1.fffffffffffffp1022",
                   EULER="2.718281828459045"),
}


def helpers(real: str) -> str:
    """The helpers for ``real`` ("float" or "double") parts."""
    defs = "".join(f"#define {k} {v}\n" for k, v in _CONSTS[real].items())
    undef = "".join(f"#undef {k}\n" for k in _CONSTS[real])
    return f"typedef {real}2 CT;\ntypedef {real} RT;\n{defs}{HELPERS}{undef}"


# unary ops: a complex result, a real one (abs, angle, real, imag) and a bool one
UNARY_COMPLEX = {
    "neg": "(-x0)", "conj": "cx(x0.x, -x0.y)", "exp": "cexp_(x0)", "log": "clog_(x0)",
    "sqrt": "csqrt_(x0)", "rsqrt": "cdiv(cx(1, 0), csqrt_(x0))", "reciprocal": "cdiv(cx(1, 0), x0)",
    "sin": "csin_(x0)", "cos": "ccos_(x0)", "tan": "ctan_(x0)", "sinh": "csinh_(x0)",
    "cosh": "ccosh_(x0)", "tanh": "ctanh_(x0)", "sigmoid": "cdiv(cx(1, 0), cx(1, 0) + cexp_(-x0))",
    "sgn": "(cnonzero(x0) ? x0 / cabs_(x0) : x0)", "log2": "clog2_(x0)", "log10": "clog10_(x0)",
    "exp2": "cexp2_(x0)", "expm1": "cexpm1_(x0)", "log1p": "clog1p_(x0)", "atan": "catan_(x0)",
    "asin": "casin_(x0)", "acos": "cacos_(x0)",
}
UNARY_REAL = {"abs": "cabs_(x0)", "angle": "carg(x0)", "real": "x0.x", "imag": "x0.y"}
UNARY_BOOL = {"isnan": "cnan(x0)", "isinf": "cinf(x0)", "isfinite": "cfinite(x0)",
              "logical_not": "(!cnonzero(x0))"}
BINARY = {"add": "(x0 + x1)", "sub": "(x0 - x1)", "mul": "cmul(x0, x1)", "div": "cdiv(x0, x1)",
          "pow": "cpow_(x0, x1)"}
COMPARE = {"eq": "(x0.x == x1.x && x0.y == x1.y)", "ne": "(x0.x != x1.x || x0.y != x1.y)",
           "logical_and": "(cnonzero(x0) && cnonzero(x1))", "logical_or": "(cnonzero(x0) || cnonzero(x1))",
           "logical_xor": "(cnonzero(x0) != cnonzero(x1))"}
UNARY = {**UNARY_COMPLEX, **UNARY_REAL, **UNARY_BOOL}


def unsupported(op: str, dtype, dev, what: str = "") -> MissingCapabilityError:
    """The error of an op the opencl backend has no kernel for in a complex ``dtype`` (``what``:
    the form of the op that lacks one, when others have one)."""
    name = getattr(dtype, "name", str(dtype))
    where = f"the OpenCL device '{dev.name}'" if dev is not None else "OpenCL devices"
    return MissingCapabilityError(op, "opencl", f"{name} kernels",
                                  f"{what or op} has no {name} kernel on {where}; "
                                  f"run it on cpu (x.cpu()) or in a real dtype")
