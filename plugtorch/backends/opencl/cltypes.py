"""How each plugtorch dtype is stored and computed in OpenCL C.

bool is stored as uchar holding 0 or 1. bfloat16 is stored as ushort (its bit pattern) and
computed in float: loads widen exactly, stores round to nearest even, as ml_dtypes does on cpu.
float16 needs cl_khr_fp16 (PoCL's CPU device lacks it, so it is refused there).
"""
from __future__ import annotations

import numpy as np

from plugtorch import _dtypes

STORAGE = {  # numpy dtype -> OpenCL storage type
    np.dtype(np.bool_): "uchar", np.dtype(np.uint8): "uchar", np.dtype(np.int8): "char",
    np.dtype(np.int16): "short", np.dtype(np.int32): "int", np.dtype(np.int64): "long",
    np.dtype(np.float16): "half", _dtypes.bfloat16.numpy: "ushort",
    np.dtype(np.float32): "float", np.dtype(np.float64): "double",
}
BF16 = _dtypes.bfloat16.numpy
BOOL = np.dtype(np.bool_)
FLOAT_KINDS = "f"

PRELUDE = r"""
#ifdef USE_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
#ifdef USE_FP16
#pragma OPENCL EXTENSION cl_khr_fp16 : enable
#endif
inline float bf16_load(ushort x) { return as_float(((uint)x) << 16); }
inline ushort bf16_store(float f) {
    uint u = as_uint(f);
    if (isnan(f)) return (ushort)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (ushort)(u >> 16);
}
inline float bfr(float f) { return bf16_load(bf16_store(f)); }   /* round to bfloat16 */
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
    if dt == BF16:
        return "float"
    return STORAGE[dt]


def is_float(dt) -> bool:
    return dt.kind == "f" or dt == BF16


def load(dt, expr, to=None) -> str:
    """C expression reading storage ``expr`` of dtype ``dt`` as C type ``to`` (default compute)."""
    v = f"bf16_load({expr})" if dt == BF16 else f"({expr})"
    return v if to is None else f"(({to}){v})"


def convert(src_dt, dst_dt, expr) -> str:
    """C expression converting a computed value of ``src_dt`` to the compute type of ``dst_dt``."""
    ct = compute(dst_dt)
    if dst_dt == BOOL:
        return f"((uchar)(({expr}) != 0))"
    if is_float(src_dt) and not is_float(dst_dt) and ct != "long":
        return f"(({ct})(long)({expr}))"   # float -> small int wraps like NumPy (via int64)
    if dst_dt == BF16 and src_dt != BF16:   # an operand cast to bfloat16 is rounded to it first,
        return f"bfr((float)({expr}))"     # as on cpu, although bfloat16 computes in float
    return f"(({ct})({expr}))"


def store(dt, expr) -> str:
    """C expression turning a compute-type value into storage of ``dt``."""
    if dt == BF16:
        return f"bf16_store((float)({expr}))"
    if dt == BOOL:
        return f"((uchar)(({expr}) != 0))"
    return f"(({STORAGE[dt]})({expr}))"


def scalar(dt, value, rounded=True):
    """A Python scalar as the NumPy scalar passed for a compute-type ``dt`` kernel argument.

    A bfloat16 scalar is rounded to bfloat16 unless ``rounded`` is False (mul and div: PyTorch
    takes their scalar as a float32 and rounds only the result)."""
    if dt == BF16:
        if not rounded:
            return np.float32(value)
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
    return np.dtype(np.float32) if dt == BF16 else np.dtype(np.uint8) if dt == BOOL else dt
