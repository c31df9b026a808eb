"""How each plugtorch dtype is stored and computed in OpenCL C.

bool is stored as uchar holding 0 or 1. float16 and bfloat16 are stored as ushort (their bit
patterns) and computed in float, so every device supports them (no cl_khr_fp16 needed): loads
widen exactly, stores round to nearest even as NumPy (float16) and ml_dtypes (bfloat16) do on
cpu, overflow to inf and subnormals included, and a float64 value is rounded to float16 once.

float16 conversions are integer bit manipulation that needs no float denormals; where the
compiler offers x86's F16C instructions (PoCL on x86-64) they do it in one instruction, and
contiguous all-float16 pointwise kernels convert eight values at a time (``F16_VEC``). Only NaN
payloads may differ between the two (F16C quiets a signalling NaN; NumPy keeps it).

complex64 and complex128 are stored and computed as float2 and double2 (real part ``.x``,
imaginary ``.y``: NumPy's memory layout); their math is in kernels/complex.py. A real value
becomes complex with a zero imaginary part; a complex one becomes real by its real part (bool:
whether either part is non-zero), as NumPy's casts on cpu.
"""
from __future__ import annotations

import numpy as np

from plugtorch import _dtypes

STORAGE = {  # numpy dtype -> OpenCL storage type
    np.dtype(np.bool_): "uchar", np.dtype(np.uint8): "uchar", np.dtype(np.int8): "char",
    np.dtype(np.int16): "short", np.dtype(np.int32): "int", np.dtype(np.int64): "long",
    np.dtype(np.float16): "ushort", _dtypes.bfloat16.numpy: "ushort",
    np.dtype(np.float32): "float", np.dtype(np.float64): "double",
    np.dtype(np.complex64): "float2", np.dtype(np.complex128): "double2",
}
BF16 = _dtypes.bfloat16.numpy
F16 = np.dtype(np.float16)
HALVES = (F16, BF16)   # 16-bit floats: ushort storage, float compute
BOOL = np.dtype(np.bool_)
FLOAT_KINDS = "f"
C64, C128 = np.dtype(np.complex64), np.dtype(np.complex128)

PRELUDE = r"""
#ifdef USE_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
/* float16 <-> float by bit manipulation: exact widening (subnormals through an integer
   conversion, so float denormals are never needed) and NumPy's rounding to nearest even */
inline float f16_load_bits(ushort h) {
    const uint a = (uint)h & 0x7fffu, s = ((uint)h & 0x8000u) << 16;
    const uint sub = as_uint((float)a * 0x1p-24f), nrm = (a << 13) + 0x38000000u;
    const uint r = a < 0x0400u ? sub : (a >= 0x7c00u ? ((a << 13) | 0x7f800000u) : nrm);
    return as_float(r | s);
}
inline ushort f16_store_bits(float f) {
    const uint u = as_uint(f), x = u & 0x7fffffffu, s = (u >> 16) & 0x8000u;
    const uint nrm = (x + 0xc8000fffu + ((x >> 13) & 1u)) >> 13;    /* rebias; carry rounds up */
    const uint sub = as_uint(as_float(x) + 0.5f) - 0x3f000000u;     /* below 2^-14: the FPU rounds */
    const uint m = (x & 0x7fffffu) >> 13, nan = 0x7c00u + m + (m == 0u);
    const uint h = x > 0x7f800000u ? nan : (x >= 0x47800000u ? 0x7c00u : (x < 0x38800000u ? sub : nrm));
    return (ushort)(h | s);
}
#if defined(__F16C__) && defined(__has_builtin) && !defined(F16_BITS)
#if __has_builtin(__builtin_ia32_vcvtph2ps256) && __has_builtin(__builtin_ia32_vcvtps2ph256)
#define F16_VEC 8   /* x86's F16C (PoCL on x86-64): one instruction converts, 8 at a time */
#endif
#endif
#ifdef F16_VEC      /* (rounding mode 0: to nearest even) */
typedef short f16_v8 __attribute__((ext_vector_type(8)));
typedef short f16_v8u __attribute__((ext_vector_type(8), aligned(2)));   /* unaligned access */
inline float f16_load(ushort h) { return __builtin_ia32_vcvtph2ps((f16_v8)((short)h, 0, 0, 0, 0, 0, 0, 0))[0]; }
inline ushort f16_store(float f) { return (ushort)__builtin_ia32_vcvtps2ph((float4)(f, 0.0f, 0.0f, 0.0f), 0)[0]; }
inline float8 f16_load8(__global const ushort* p) { return __builtin_ia32_vcvtph2ps256(*(__global const f16_v8u*)p); }
inline void f16_store8(float8 v, __global ushort* p) { *(__global f16_v8u*)p = __builtin_ia32_vcvtps2ph256(v, 0); }
#else
inline float f16_load(ushort h) { return f16_load_bits(h); }
inline ushort f16_store(float f) { return f16_store_bits(f); }
#endif
inline float f16r(float f) { return f16_load(f16_store(f)); }   /* round to float16 */
#ifdef USE_FP64
/* double -> float rounding to odd (truncate, then set the last bit if inexact): it keeps the tie
   information that a plain (float) cast would round away, so float16 and bfloat16 (fewer than 23
   bits) rounded from it are the double rounded once */
inline float f_odd_d(double d) {
    float f = (float)d;
    if ((double)f != d && d == d) {
        const uint m = as_uint(f) - ((d > 0 ? (double)f > d : (double)f < d) ? 1u : 0u);
        f = as_float(m | 1u);   /* (the sign bit is untouched: |f| > |d| implies f != 0) */
    }
    return f;
}
inline ushort f16_store_d(double d) { return f16_store(f_odd_d(d)); }
inline float f16r_d(double d) { return f16_load(f16_store_d(d)); }
#endif
inline float bf16_load(ushort x) { return as_float(((uint)x) << 16); }
inline ushort bf16_store(float f) {
    uint u = as_uint(f);
    if (isnan(f)) return (ushort)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (ushort)(u >> 16);
}
inline float bfr(float f) { return bf16_load(bf16_store(f)); }   /* round to bfloat16 */
#ifdef USE_FP64
inline float bfr_d(double d) { return bfr(f_odd_d(d)); }   /* double -> bfloat16 rounded once */
#endif
typedef struct { long nd; long n; long shape[8]; long st[4][8]; } Geo;
/* element offset of operand k at linear index i (dims are collapsed first, so nd is small;
   1-d needs no division and 32-bit division is far cheaper than 64-bit on CPUs) */
inline long geo_off(const Geo* g, long i, int k) {
    const int nd = (int)g->nd;
    if (nd == 1) return i * g->st[k][0];
    long off = 0;
    if (g->n <= 0x7fffffffL) {
        uint r = (uint)i;
        for (int d = nd - 1; d >= 0; --d) {
            const uint s = (uint)g->shape[d], c = r % s; r /= s; off += (long)c * g->st[k][d];
        }
        return off;
    }
    for (int d = nd - 1; d >= 0; --d) {
        const long s = g->shape[d], c = i % s; i /= s; off += c * g->st[k][d];
    }
    return off;
}
"""


def storage(dt) -> str:
    return STORAGE[dt]


def compute(dt) -> str:
    """The C type arithmetic on ``dt`` happens in."""
    if dt in HALVES:
        return "float"
    return STORAGE[dt]


def is_float(dt) -> bool:
    return dt.kind == "f" or dt == BF16


def is_complex(dt) -> bool:
    return dt.kind == "c"


def real_of(dt):
    """The NumPy dtype of a complex ``dt``'s parts."""
    return np.dtype(np.float64) if dt == C128 else np.dtype(np.float32)


def load(dt, expr, to=None) -> str:
    """C expression reading storage ``expr`` of dtype ``dt`` as C type ``to`` (default compute)."""
    v = f"bf16_load({expr})" if dt == BF16 else f"f16_load({expr})" if dt == F16 else f"({expr})"
    return v if to is None else f"(({to}){v})"


def convert(src_dt, dst_dt, expr) -> str:
    """C expression converting a computed value of ``src_dt`` to the compute type of ``dst_dt``."""
    ct = compute(dst_dt)
    if src_dt.kind == "c" or dst_dt.kind == "c":
        return _convert_complex(src_dt, dst_dt, expr)
    if dst_dt == BOOL:
        return f"((uchar)(({expr}) != 0))"
    if is_float(src_dt) and not is_float(dst_dt):
        # as NumPy (x86's cvtt): nan and values out of int32's (int64's) range give its minimum, which
        # a narrower type truncates (to 0); in range, a narrower type wraps (300.0 -> uint8 44)
        if ct == "long":
            return f"((({expr}) >= -0x1p63f && ({expr}) < 0x1p63f) ? (long)({expr}) : LONG_MIN)"
        return f"(({ct})((({expr}) >= -0x1p31f && ({expr}) < 0x1p31f) ? (int)({expr}) : INT_MIN))"
    if dst_dt == BF16 and src_dt != BF16:   # an operand cast to bfloat16 is rounded to it first,
        # as on cpu, although bfloat16 computes in float; a double is rounded once (as ml_dtypes)
        return f"bfr_d({expr})" if src_dt == np.float64 else f"bfr((float)({expr}))"
    if dst_dt == F16 and src_dt != F16:     # the same for float16; a double is rounded once
        return f"f16r_d({expr})" if src_dt == np.float64 else f"f16r((float)({expr}))"
    return f"(({ct})({expr}))"


def _convert_complex(src_dt, dst_dt, expr) -> str:
    if dst_dt.kind == "c":
        rt = STORAGE[real_of(dst_dt)]
        if src_dt.kind == "c":
            return f"convert_{rt}2({expr})"
        return f"(({rt}2)(({rt})({expr}), ({rt})0))"
    if dst_dt == BOOL:
        return f"((uchar)((({expr}).x != 0) || (({expr}).y != 0)))"
    return convert(real_of(src_dt), dst_dt, f"(({expr}).x)")


def store(dt, expr) -> str:
    """C expression turning a compute-type value into storage of ``dt``."""
    if dt == BF16:
        return f"bf16_store((float)({expr}))"
    if dt == F16:
        return f"f16_store((float)({expr}))"
    if dt == BOOL:
        return f"((uchar)(({expr}) != 0))"
    return f"(({STORAGE[dt]})({expr}))"


_F32_INF = 3.4028235677973366e38   # float32's largest finite value plus half an ulp: rounds to inf


def scalar(dt, value, rounded=True):
    """A Python scalar as the NumPy scalar passed for a compute-type ``dt`` kernel argument.

    A float16 or bfloat16 scalar is passed as a float32 holding the value rounded to the dtype,
    unless ``rounded`` is False (mul and div: PyTorch takes their scalar as a float32 and rounds
    only the result)."""
    if dt in HALVES:
        if not -_F32_INF < value < _F32_INF:   # rounds to float32's inf (or NaN): no NumPy warning
            with np.errstate(over="ignore", invalid="ignore"):
                return np.float32(value)
        if not rounded:
            return np.float32(value)
        if dt == F16:   # (NumPy rounds a double to float16 directly; 65520 and up become inf)
            if -65520.0 < value < 65520.0:
                return np.float32(np.float16(value))
            with np.errstate(over="ignore"):
                return np.float32(np.float16(value))
        import ml_dtypes
        return np.float32(ml_dtypes.bfloat16(value))
    if dt == BOOL:
        return np.uint8(bool(value))
    if dt.kind in "iu" and isinstance(value, float):
        return np.array(value).astype(dt)[()]
    try:
        return dt.type(value)
    except OverflowError:
        return np.array(value).astype(dt)[()]


# A Geo struct argument: declaring it as a void dtype makes PyOpenCL pass its bytes straight
# through (its generic set_arg path costs ~9 us per call on PoCL; this one ~0.2 us).
GEO = np.dtype([("v", np.int64, (42,))])


def scalar_numpy(dt):
    """The NumPy dtype of a compute-type ``dt`` kernel argument."""
    return np.dtype(np.float32) if dt in HALVES else np.dtype(np.uint8) if dt == BOOL else dt
