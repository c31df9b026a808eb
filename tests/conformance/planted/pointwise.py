"""Pointwise kernel bugs the always-present samples catch: type promotion inside the kernel,
integer division by zero (and the wrong exception for it), hard numerics at the dtype's edges,
and signed zeros.

Kernels receive the operands' own native arrays (an int8 and an int16 array for int8 + int16),
Python numbers for scalars (and for a 0-d cpu tensor beside a device tensor), and the result's
dtype; each bug below is a way a backend author could mishandle that.
"""
from __future__ import annotations

import numpy as np

from plugtorch import _dtypes

from . import Bug


def _arrays(*xs):
    return all(isinstance(x, np.ndarray) for x in xs)


def _array(make):
    """Wrap a broken kernel so that its 0-d results are arrays, as a backend's are (the bug under
    test is the arithmetic, not NumPy's habit of returning scalars)."""
    def factory(cpu):
        k = make(cpu)
        return lambda *args: np.asarray(k(*args))
    return factory


# ---- promotion ----------------------------------------------------------------------------
def _in_first_operand_dtype(cpu):
    # an OpenCL-style kernel compiled for the first operand's type: the second array is converted
    # to it on load (int8 + int16 wraps in int8), the result stored as the result dtype
    def k(a, b, dtype):
        if _arrays(a, b) and a.dtype != b.dtype:
            return cpu(a, b.astype(a.dtype), _dtypes.from_numpy_dtype(a.dtype)).astype(dtype.numpy)
        return cpu(a, b, dtype)
    return k


def _half_pair_in_float16(cpu):
    # float16 * bfloat16 is float32; this kernel sees two 16-bit floats and multiplies in float16
    def k(a, b, dtype):
        if _arrays(a, b) and a.dtype != b.dtype and a.dtype.itemsize == b.dtype.itemsize == 2 and \
                dtype is _dtypes.float32 and a.dtype.kind != "i" and b.dtype.kind != "i":
            return np.multiply(a.astype(np.float16), b.astype(np.float16)).astype(np.float32)
        return cpu(a, b, dtype)
    return k


def _float_scalar_in_int_type(cpu):
    # the kernel's scalar parameter is declared with the tensor's C type: x // 2.5 divides by 2
    def k(a, b, dtype):
        if b.__class__ is float and isinstance(a, np.ndarray) and a.dtype.kind in "iu":
            b = float(int(b))
        return cpu(a, b, dtype)
    return k


def _bool_add_as_or(cpu):
    # the kernel picks its loop from the first array's dtype: bool + uint8 tensors done as logical or
    def k(a, b, dtype):
        if _arrays(a, b) and a.dtype == np.bool_:
            return np.logical_or(a, b).astype(dtype.numpy)
        return cpu(a, b, dtype)
    return k


def _where_in_input_dtype(cpu):
    # where(c, int8, float32): the other branch converted to the input's dtype (truncated)
    def k(c, a, b, dtype):
        if _arrays(a, b) and a.dtype != b.dtype:
            return cpu(c, a, b.astype(a.dtype), _dtypes.from_numpy_dtype(a.dtype)).astype(dtype.numpy)
        return cpu(c, a, b, dtype)
    return k


def _compare_in_first_dtype(cpu):
    # lt(uint8, int8): the int8 operand converted to uint8 (-56 becomes 200) before comparing
    def k(a, b, dtype):
        if _arrays(a, b) and a.dtype != b.dtype:
            return cpu(a, b.astype(a.dtype), _dtypes.from_numpy_dtype(a.dtype))
        return cpu(a, b, dtype)
    return k


def _zero_dim_read_as_result_dtype(cpu):
    # a 0-d operand's buffer read through a pointer of the result's type: a 0-d float64 beside a
    # float32 tensor is read as the first 4 bytes of the double
    def k(a, b, dtype):
        if _arrays(a, b) and b.ndim == 0 and b.dtype != dtype.numpy:
            raw = (b.tobytes() + bytes(8))[:dtype.numpy.itemsize]
            b = np.frombuffer(raw, dtype=dtype.numpy).reshape(())
        return cpu(a, b, dtype)
    return k


# ---- division by zero ---------------------------------------------------------------------
def _zero_divisor_gives(fill):
    # a C kernel guarding `b == 0 ? fill : a / b` instead of raising as PyTorch does on cpu
    def make(cpu):
        def k(a, b, dtype):
            if dtype.numpy.kind in "iu":
                zero = np.asarray(b) == 0
                if zero.any():
                    safe = np.where(zero, 1, b).astype(np.asarray(b).dtype) if hasattr(b, "dtype") else 1
                    r = cpu(a, safe, dtype)
                    other = np.broadcast_to(np.asarray(a).astype(dtype.numpy), r.shape) if fill == "dividend" else 0
                    return np.where(np.broadcast_to(zero, r.shape), other, r).astype(r.dtype)
            return cpu(a, b, dtype)
        return k
    return make


def _scalar_zero_unchecked(cpu):
    # the zero check reads the divisor tensor back; a Python 0 divisor skips it and gives zeros
    def k(a, b, dtype):
        if not hasattr(b, "dtype") and b == 0 and dtype.numpy.kind in "iu":
            return np.zeros(np.shape(a), dtype.numpy)
        return cpu(a, b, dtype)
    return k


def _python_zero_division(cpu):
    # the right check, the wrong exception: Python's ZeroDivisionError where PyTorch raises a
    # RuntimeError ("ZeroDivisionError"), so `except RuntimeError` in user code misses it
    def k(a, b, dtype):
        if dtype.numpy.kind in "iu" and bool(np.any(np.asarray(b) == 0)):
            raise ZeroDivisionError("integer modulo by zero")
        return cpu(a, b, dtype)
    return k


# ---- hard numerics ------------------------------------------------------------------------
def _exp2_via_exp(cpu):
    # exp2(x) = exp(x * ln 2) in the input's precision: the product's rounding error grows with x
    # (2e-6 relative near float32's overflow at 128)
    def k(x, dtype):
        d = dtype.numpy
        return np.exp(x.astype(d) * d.type(np.log(2))).astype(d)
    return k


def _sigmoid_in_half(cpu):
    # 1 / (1 + exp(-x)) in float16 arithmetic: exp(11.1) overflows, sigmoid(-11.09) becomes 0
    def k(x, dtype):
        if dtype.numpy == np.float16:
            x = x.astype(np.float16)
            one = np.float16(1)
            return np.divide(one, np.add(one, np.exp(-x, dtype=np.float16), dtype=np.float16), dtype=np.float16)
        return cpu(x, dtype)
    return k


def _log_flushes_subnormals(cpu):
    # a kernel built with denormals-are-zero (fast math) that does not declare flushes_subnormals:
    # log(1e-40) is -inf instead of -92.1
    def k(x, dtype):
        d = dtype.numpy
        x = x.astype(d)
        if d.kind == "f":
            x = np.where(np.abs(x) < np.finfo(d).tiny, np.zeros((), d), x)
        return cpu(x, dtype)
    return k


def _cosh_overflows_early(cpu):
    # (exp(x) + exp(-x)) / 2 in float16 arithmetic: exp(x) overflows past 11.09, where cosh itself
    # stays finite up to 11.78
    def k(x, dtype):
        d = dtype.numpy
        if d == np.float16:
            x = x.astype(np.float16)
            return ((np.exp(x) + np.exp(-x)) / np.float16(2)).astype(d)
        return cpu(x, dtype)
    return k


# ---- signed zero --------------------------------------------------------------------------
def _neg_as_zero_minus(cpu):
    # 0 - x: neg(0.0) is +0.0, not -0.0
    def k(x, dtype):
        return np.subtract(np.zeros((), x.dtype), x).astype(dtype.numpy)
    return k


def _round_through_int(cpu):
    # rint through an integer conversion for the values that fit: the sign of -0.4 is lost
    def k(x, dtype):
        r = cpu(x, dtype)
        if r.dtype.kind != "f":
            return r
        fits = np.isfinite(r) & (np.abs(r) < 2 ** 31)
        return np.where(fits, np.where(fits, r, 0).astype(np.int64), r).astype(r.dtype)
    return k


def _abs_by_compare(cpu):
    # x < 0 ? -x : x: abs(-0.0) stays -0.0
    def k(x, dtype):
        return np.where(x < 0, -x, x).astype(dtype.numpy)
    return k


def _mul_with_zero_bias(cpu):
    # a fused multiply-add kernel used for mul with a zero addend: a * b + 0.0 turns -0.0 into +0.0
    def k(a, b, dtype):
        r = cpu(a, b, dtype)
        return (r + np.zeros((), r.dtype)).astype(r.dtype) if r.dtype.kind == "f" else r
    return k


BUGS = [
    Bug("add computes two arrays in the first one's dtype", "promotion", "add",
        {"add": _array(_in_first_operand_dtype)}, dtypes=("int8", "uint8"), check="forward"),
    Bug("mul computes float16 * bfloat16 in float16", "promotion", "mul",
        {"mul": _array(_half_pair_in_float16)}, dtypes=("float16", "bfloat16"), check="forward"),
    Bug("floor_divide casts a Python float to the tensor's integer type", "promotion", "floor_divide",
        {"floor_divide": _array(_float_scalar_in_int_type)}, dtypes=("int16", "int32"), check="forward"),
    Bug("add of bool and int tensors done as logical or", "promotion", "add",
        {"add": _array(_bool_add_as_or)}, dtypes=("bool",), check="forward"),
    Bug("where computes in the input's dtype", "promotion", "where",
        {"where": _array(_where_in_input_dtype)}, dtypes=("int8", "float32"), check="forward"),
    Bug("lt converts the second array to the first's dtype", "promotion", "lt",
        {"lt": _array(_compare_in_first_dtype)}, dtypes=("uint8", "int8"), check="forward"),
    Bug("sub reads a 0-d operand as the result's dtype", "promotion", "sub",
        {"sub": _array(_zero_dim_read_as_result_dtype)}, dtypes=("float32", "bfloat16"), check="forward"),
    Bug("integer floor_divide by zero gives 0", "division by zero", "floor_divide",
        {"floor_divide": _array(_zero_divisor_gives(0))}, dtypes=("int32", "uint8"), check="error input"),
    Bug("integer remainder by zero gives the dividend", "division by zero", "remainder",
        {"remainder": _array(_zero_divisor_gives("dividend"))}, dtypes=("int64", "int8"), check="error input"),
    Bug("integer fmod by a Python 0 gives zeros", "division by zero", "fmod",
        {"fmod": _array(_scalar_zero_unchecked)}, dtypes=("int16",), check="error input"),
    Bug("remainder by zero raises Python's ZeroDivisionError", "error type", "remainder",
        {"remainder": _array(_python_zero_division)}, dtypes=("int32",), check="error input"),
    Bug("exp2 as exp(x * ln 2)", "hard numerics", "exp2", {"exp2": _array(_exp2_via_exp)}, dtypes=("float32",)),
    Bug("sigmoid in float16 arithmetic", "hard numerics", "sigmoid", {"sigmoid": _array(_sigmoid_in_half)},
        dtypes=("float16",)),
    Bug("log flushes subnormal inputs to zero", "hard numerics", "log", {"log": _array(_log_flushes_subnormals)},
        dtypes=("float32",)),
    Bug("cosh in float16 overflows early", "hard numerics", "cosh", {"cosh": _array(_cosh_overflows_early)},
        dtypes=("float16",)),
    Bug("neg as 0 - x", "signed zero", "neg", {"neg": _array(_neg_as_zero_minus)}, dtypes=("float32",)),
    Bug("round loses the sign of -0.4", "signed zero", "round", {"round": _array(_round_through_int)},
        dtypes=("float32", "bfloat16")),
    Bug("abs keeps -0.0", "signed zero", "abs", {"abs": _array(_abs_by_compare)}, dtypes=("float64",)),
    Bug("mul turns -0.0 into +0.0", "signed zero", "mul", {"mul": _array(_mul_with_zero_bias)}, dtypes=("float32",)),
]
