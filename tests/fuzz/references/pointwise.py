"""References of the elementwise ops: unary, binary (promoted PyTorch's way), clamp, where."""
from __future__ import annotations

import math

import numpy as np

from plugtorch import _dtypes

from .common import B, HALF, I64, as_operand, dtype_of, float_result, operand_in, opmath, promoted_dtype, result


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x.astype(np.float64)).astype(x.dtype) if x.size else x


def _sigmoid(x):
    with np.errstate(all="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


FLOAT_UNARY = {"exp": np.exp, "exp2": np.exp2, "expm1": np.expm1, "log": np.log, "log2": np.log2,
               "log10": np.log10, "log1p": np.log1p, "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x),
               "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
               "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh, "sigmoid": _sigmoid,
               "erf": _erf, "reciprocal": lambda x: 1 / x}


def _float_unary(fn):
    def ref(input):
        d = float_result(dtype_of(input))
        with np.errstate(all="ignore"):
            return result(fn(input.astype(opmath(d))), d)
    return ref


def _same_dtype_unary(fn, bool_fn=None):
    def ref(input):
        d = dtype_of(input)
        if d is B and bool_fn is not None:
            return result(bool_fn(input), d)
        x = input.astype(opmath(d)) if d.is_floating_point else input
        with np.errstate(all="ignore"):
            return result(fn(x), d)
    return ref


def _predicate(fn):
    def ref(input):
        d = dtype_of(input)
        x = input.astype(opmath(d)) if d.is_floating_point else input
        return result(fn(x), B)
    return ref


def _binary(fn, result_dtype=None, int_fn=None, bool_fn=None, float_only_result=False, opmath_scalar=False):
    """``fn`` on the operands promoted PyTorch's way; ``result_dtype`` maps the promoted dtype to the
    result's (comparisons give bool, true division a float). ``opmath_scalar`` (mul, div): with a
    float16/bfloat16 result, a scalar second operand (a Python number, or a 0-d array of another
    dtype) is taken as a float32, not first rounded to the half type, and the result rounded once,
    as PyTorch's kernels do: float16 -0.09515 * tensor(71003) is -6756, not -inf."""
    def ref(input, other, **kw):
        d = promoted_dtype([as_operand(input), as_operand(other)])
        out = result_dtype(d) if result_dtype else d
        # integer operands of a float-valued op (true division, atan2) are converted, not wrapped:
        # uint8 / -3 divides by -3.0; elsewhere a scalar takes the promoted dtype (uint8 < -3 wraps)
        compute = out if float_only_result and not d.is_floating_point else d
        x, y = operand_in(input, compute), operand_in(other, compute)
        if opmath_scalar and compute in HALF and (not isinstance(other, np.ndarray) or
                                                  (other.ndim == 0 and other.dtype != compute.numpy)):
            y = np.asarray(other).astype(np.float32)
        with np.errstate(all="ignore"):
            if d is B and bool_fn is not None:
                r = bool_fn(x, y)
            elif not compute.is_floating_point and int_fn is not None:
                r = int_fn(x, y)
                if r is None:
                    return None
            else:
                r = fn(x, y)
        return result(r, out)
    return ref


def _int_div(np_fn):
    def f(x, y):
        if np.any(np.asarray(y) == 0):
            return None    # PyTorch raises ZeroDivisionError (a RuntimeError) for integers
        return np_fn(x, y)
    return f


def _pow(input, exponent, **kw):
    """PyTorch: a Python exponent of 0.5 / -0.5 is sqrt / rsqrt (sqrt(-0.0) is -0.0, sqrt(-inf)
    nan, rsqrt(-0.0) -inf), any other exponent C's pow."""
    if isinstance(exponent, float) and exponent in (0.5, -0.5) and not isinstance(input, (int, float)):
        root = _binary(lambda x, y: np.sqrt(x) if y == 0.5 else 1 / np.sqrt(x))
        return root(input, exponent, **kw)
    return _binary(np.power, int_fn=_int_pow)(input, exponent, **kw)


def _int_pow(x, y):
    if np.any(np.asarray(y) < 0):
        return None
    return np.power(x.astype(np.int64), y.astype(np.int64))


def _bool_result(d):
    return B


def _square(input):
    if input.dtype == bool:
        return result(input.astype(np.int64) ** 2, I64)     # PyTorch squares bool as int64
    return _same_dtype_unary(lambda x: x * x)(input)


REFERENCES = {n: _float_unary(f) for n, f in FLOAT_UNARY.items()}
REFERENCES.update({
    "neg": _same_dtype_unary(np.negative), "abs": _same_dtype_unary(np.abs, lambda x: x),
    "sign": _same_dtype_unary(lambda x: np.where(x != x, 0, np.sign(x)), lambda x: x),    # sign(nan) is 0
    "floor": _same_dtype_unary(np.floor), "ceil": _same_dtype_unary(np.ceil), "trunc": _same_dtype_unary(np.trunc),
    "round": _same_dtype_unary(np.round), "square": _square,
    "relu": _same_dtype_unary(lambda x: np.where((x > 0) | (x != x), x, 0)),
    "frac": _same_dtype_unary(lambda x: x - np.trunc(x)),
    "bitwise_not": _same_dtype_unary(np.invert, np.logical_not),
    "isnan": _predicate(np.isnan), "isinf": _predicate(np.isinf), "isfinite": _predicate(np.isfinite),
    "logical_not": _predicate(np.logical_not),
    "add": _binary(np.add, bool_fn=np.logical_or), "sub": _binary(np.subtract),
    "mul": _binary(np.multiply, bool_fn=np.logical_and, opmath_scalar=True),
    "div": _binary(np.true_divide, result_dtype=float_result, float_only_result=True, opmath_scalar=True),
    "true_divide": _binary(np.true_divide, result_dtype=float_result, float_only_result=True, opmath_scalar=True),
    "floor_divide": _binary(np.floor_divide, int_fn=_int_div(np.floor_divide)),
    "remainder": _binary(np.remainder, int_fn=_int_div(np.remainder)),
    "fmod": _binary(np.fmod, int_fn=_int_div(np.fmod)),
    "atan2": _binary(np.arctan2, result_dtype=float_result, float_only_result=True),
    "pow": _pow,
    "maximum": _binary(np.maximum), "minimum": _binary(np.minimum),
    "eq": _binary(np.equal, result_dtype=_bool_result), "ne": _binary(np.not_equal, result_dtype=_bool_result),
    "lt": _binary(np.less, result_dtype=_bool_result), "le": _binary(np.less_equal, result_dtype=_bool_result),
    "gt": _binary(np.greater, result_dtype=_bool_result), "ge": _binary(np.greater_equal, result_dtype=_bool_result),
    "logical_and": _binary(np.logical_and, result_dtype=_bool_result),
    "logical_or": _binary(np.logical_or, result_dtype=_bool_result),
    "logical_xor": _binary(np.logical_xor, result_dtype=_bool_result),
    "bitwise_and": _binary(np.bitwise_and), "bitwise_or": _binary(np.bitwise_or),
    "bitwise_xor": _binary(np.bitwise_xor),
    "bitwise_left_shift": _binary(None, int_fn=lambda x, y: np.left_shift(x, y)),
    "bitwise_right_shift": _binary(None, int_fn=lambda x, y: np.right_shift(x, y)),
    "logaddexp": _binary(np.logaddexp),
})


def _rsub(input, other, alpha=1):
    if alpha != 1:
        return None
    return REFERENCES["sub"](other, input)


def _where(condition, input, other):
    d = promoted_dtype([as_operand(input), as_operand(other)])
    return result(np.where(condition, operand_in(input, d), operand_in(other, d)), d)


def _clamp(input, min=None, max=None):
    if min is None and max is None:
        return None
    d = promoted_dtype([as_operand(input)] + [as_operand(v) for v in (min, max) if v is not None])
    x = operand_in(input, d)
    with np.errstate(all="ignore"):
        if min is not None:
            lo = operand_in(min, d)
            x = np.where(np.isnan(x) if d.is_floating_point else False, x, np.maximum(x, lo))
        if max is not None:
            hi = operand_in(max, d)
            x = np.where(np.isnan(x) if d.is_floating_point else False, x, np.minimum(x, hi))
    return result(x, d)


def _lerp(input, end, weight):
    d = promoted_dtype([as_operand(input), as_operand(end)])
    if not d.is_floating_point or not isinstance(weight, (int, float)):
        return None
    a, b, w = operand_in(input, d), operand_in(end, d), float(weight)
    with np.errstate(all="ignore"):
        r = a + w * (b - a) if abs(w) < 0.5 else b - (b - a) * (1 - w)
    return result(r, d)


def _nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    d = dtype_of(input)
    if not d.is_floating_point:
        return result(input, d)
    fi = _dtypes.finfo(d)
    x = input.astype(np.float64)
    x = np.where(np.isnan(x), nan, x)
    x = np.where(np.isposinf(x), float(fi.max) if posinf is None else posinf, x)
    x = np.where(np.isneginf(x), float(fi.min) if neginf is None else neginf, x)
    return result(x, d)


def _threshold_backward(grad_output, input, threshold):
    # compared in the promoted dtype, the threshold converted to it (uint8: -1 is 255; 2.5 is 2)
    d = promoted_dtype([as_operand(grad_output), as_operand(input)])
    return result(np.where(operand_in(input, d) <= operand_in(threshold, d), 0, grad_output), d)


def _isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    d = promoted_dtype([as_operand(input), as_operand(other)])
    if not d.is_floating_point or dtype_of(input) is not dtype_of(other):
        return None     # PyTorch wants equal dtypes, and compares integers exactly
    a, b = input.astype(np.float64), other.astype(np.float64)
    with np.errstate(all="ignore"):
        return result(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=bool(equal_nan)), B)


REFERENCES.update({"isclose": _isclose, "rsub": _rsub, "where": _where, "clamp": _clamp, "lerp": _lerp,
                   "nan_to_num": _nan_to_num,
                   "clamp_min": lambda input, min: _clamp(input, min=min),
                   "clamp_max": lambda input, max: _clamp(input, max=max),
                   "threshold_backward": _threshold_backward})
