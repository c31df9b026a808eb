"""The standard's element-wise functions, generated from tables over plugtorch ops.

Each function checks its inputs' dtype category as array-api-strict does (TypeError outside
it), promotes two arrays by the standard's rules (``_dtypes.operands``) and calls the plugtorch
op. The few functions plugtorch has no op for (``acosh``, ``copysign``, ``hypot``,
``nextafter``, ``signbit`` ...) are short compositions of ops, so they run on every backend.
Where the standard's special cases differ from PyTorch's numerics (``sign(nan)``,
``floor_divide`` by infinity, the sign of a zero ``remainder``) the result is corrected with
``where``.

>>> import plugtorch.array_api as xp
>>> xp.add(xp.asarray([1, 2], dtype=xp.int8), xp.asarray(3, dtype=xp.int16)).dtype
plugtorch.int16
"""
from __future__ import annotations

import math

import plugtorch as pt
from plugtorch import _dtypes as D
from plugtorch._tensor import Tensor
from plugtorch.array_api._dtypes import check_array, check_category, operands, raise_broadcast_error

__all__: list = []

_SAME_WIDTH_INT = {8: D.int64, 4: D.int32, 2: D.int16}


def _unary(name, category, fn):
    def f(x: Tensor, /) -> Tensor:
        check_array(name, x)
        check_category(name, x, category)
        return fn(x)
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``{name}(x)`` element-wise (the Array API standard; {category} dtypes)."
    __all__.append(name)
    return f


def _binary(name, category, fn):
    def f(x1, x2, /) -> Tensor:
        x1, x2, dt = operands(name, x1, x2, category)
        if not isinstance(x1, Tensor):   # the ops take a Python scalar second, not first
            x1 = pt.full((), x1, dtype=dt, device=x2.device)
        try:
            return fn(x1, x2)
        except RuntimeError as e:
            raise_broadcast_error(name, e)
            raise
    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"``{name}(x1, x2)`` element-wise with broadcasting (the Array API standard; {category} dtypes)."
    __all__.append(name)
    return f


def _tensors(fn):
    """``fn`` for compositions that need two tensors: a Python scalar becomes a 0-d tensor of
    the other operand's dtype (it fits that dtype: ``operands`` checked)."""
    def g(x1, x2):
        if not isinstance(x2, Tensor):
            x2 = pt.full((), x2, dtype=x1.dtype, device=x1.device)
        return fn(x1, x2)
    return g


def _float_only(fn, int_fn=None):
    """``fn`` on floating arrays; integer and bool arrays are returned as they are (ceil, floor ...)."""
    def g(x):
        return fn(x) if x.dtype.is_floating_point else (x if int_fn is None else int_fn(x))
    return g


# ---- compositions for functions plugtorch has no op for -------------------------------------
def _signbit(x):
    return x.view(_SAME_WIDTH_INT[x.dtype.itemsize]) < 0   # the sign bit, so -0.0 and -nan count


def _copysign(x1, x2):
    m = pt.abs(x1)
    return pt.where(_signbit(x2), -m, m)


def _acosh(x):
    if x.dtype.is_complex:   # C99: cacosh(z) = +-i cacos(z), the sign giving a real part >= 0
        w = pt.acos(x)
        return pt.where(_signbit(pt.imag(w)), _times_i(w), _times_i(w, -1))
    t = x - 1
    small = pt.log1p(t + pt.sqrt(2 * t + t * t))                      # accurate near 1
    large = pt.log(x) + pt.log1p(pt.sqrt(1 - 1 / (x * x)))            # no overflow of x * x
    return pt.where(x < 1, math.nan, pt.where(x < 2, small, large))   # no cancellation to 0 far below 1


def _times_i(z, sign=1):
    """i * z (sign -1: -i * z) exactly: the parts swapped and one negated (no 0 * inf)."""
    re, im = pt.real(z), pt.imag(z)
    return pt.complex(-im, re) if sign > 0 else pt.complex(im, -re)


def _asinh(x):
    if x.dtype.is_complex:   # C99: casinh(z) = -i casin(iz), keeping casin's accuracy and special values
        return _times_i(pt.asin(_times_i(x)), -1)
    a = pt.abs(x)
    small = pt.log1p(a + a * a / (1 + pt.sqrt(1 + a * a)))
    large = pt.log(a) + math.log(2.0)                                  # a * a would overflow
    r = pt.where(a < 2.0 ** 28, small, large)
    return pt.where(_signbit(x), -r, r)                                 # asinh(-0.0) is -0.0


def _expm1(x):
    if x.dtype.is_complex:   # NumPy's complex expm1 misses the standard's special cases: exp(z) - 1 there
        out = pt.where(pt.isfinite(x), pt.expm1(x), pt.exp(x) - 1)
        im = pt.imag(x)
        return pt.where(x == 0, pt.complex(pt.zeros_like(im), im), out)   # +-0 + 0j: +0 + 0j (NumPy: -0)
    return pt.expm1(x)


def _atanh(x):
    if x.dtype.is_complex:   # C99: catanh(z) = -i catan(iz)
        return _times_i(pt.atan(_times_i(x)), -1)
    return 0.5 * pt.log1p(2 * x / (1 - x))


def _hypot(x1, x2):
    a, b = pt.abs(x1), pt.abs(x2)
    hi, lo = pt.maximum(a, b), pt.minimum(a, b)
    r = pt.where(hi == 0, 0.0, lo / hi)
    out = hi * pt.sqrt(1 + r * r)                                      # no overflow of a * a
    return pt.where(pt.isinf(a) | pt.isinf(b), math.inf, out)         # hypot(inf, nan) is inf


def _nextafter(x1, x2):
    it = _SAME_WIDTH_INT[x1.dtype.itemsize]
    bits = x1.view(it)
    # IEEE floats are sign and magnitude: one step away from zero is +1 on the integer bits
    away = (x2 > x1) == (x1 > 0)
    step = pt.where(away, bits + 1, bits - 1).view(x1.dtype)
    tiny = pt.where(x2 > 0, 1, D.iinfo(it).min + 1).to(it).view(x1.dtype)   # ±the smallest subnormal
    out = pt.where(x1 == 0, tiny, step)
    out = pt.where(x1 == x2, x2, out)
    return pt.where(pt.isnan(x1) | pt.isnan(x2), math.nan, out)


def _sign(x):
    if x.dtype.is_complex:
        return pt.sgn(x)    # z / |z|, 0 for 0
    s = pt.sign(x)
    return pt.where(pt.isnan(x), x, s) if x.dtype.is_floating_point else s   # sign(nan) is nan


def _floor_divide(x1, x2):
    q = pt.floor_divide(x1, x2)
    if not q.dtype.is_floating_point:
        return q
    # the standard's special cases: x / ±inf is a signed zero, ±inf / x a signed infinity
    # (Python's and PyTorch's floor division give -1.0 and nan there)
    inf_case = (pt.isinf(x2) & pt.isfinite(x1)) | (pt.isinf(x1) & pt.isfinite(x2))
    return pt.where(inf_case, x1 / x2, q)


def _remainder(x1, x2):
    r = pt.remainder(x1, x2)
    if not r.dtype.is_floating_point:
        return r
    zero = _copysign(pt.zeros_like(r), x2)
    return pt.where(r == 0, zero, r)                                   # a zero has the divisor's sign


def _shift(name, op):
    def f(x1, x2):
        if not isinstance(x2, Tensor) and x2 < 0:
            raise ValueError(f"{name}(): the shift must be non-negative, got {x2}")
        return op(x1, x2)
    return f


def _copy(x):
    return x.clone()


def _round(x):
    if x.dtype.is_complex:   # each part to the nearest integer, as NumPy's
        return pt.complex(pt.round(pt.real(x)), pt.round(pt.imag(x)))
    return _float_only(pt.round)(x)


def _part(fn):
    """real/imag/conj: a copy for real input (real, conj) and complex ones' parts (a new array,
    as the standard asks of every function)."""
    def f(x):
        return fn(x).clone() if x.dtype.is_complex else x.clone()
    return f


_UNARY = {
    "abs": ("numeric", pt.abs),
    "acos": ("floating-point", pt.acos),
    "acosh": ("floating-point", _acosh),
    "asin": ("floating-point", pt.asin),
    "asinh": ("floating-point", _asinh),
    "atan": ("floating-point", pt.atan),
    "atanh": ("floating-point", _atanh),
    "bitwise_invert": ("integer or boolean", pt.bitwise_not),
    "ceil": ("real numeric", _float_only(pt.ceil)),
    "conj": ("numeric", _part(pt.conj)),
    "cos": ("floating-point", pt.cos),
    "cosh": ("floating-point", pt.cosh),
    "exp": ("floating-point", pt.exp),
    "expm1": ("floating-point", _expm1),
    "floor": ("real numeric", _float_only(pt.floor)),
    "imag": ("complex floating-point", _part(pt.imag)),
    "isfinite": ("numeric", pt.isfinite),
    "isinf": ("numeric", pt.isinf),
    "isnan": ("numeric", pt.isnan),
    "log": ("floating-point", pt.log),
    "log10": ("floating-point", pt.log10),
    "log1p": ("floating-point", pt.log1p),
    "log2": ("floating-point", pt.log2),
    "logical_not": ("boolean", pt.logical_not),
    "negative": ("numeric", pt.neg),
    "positive": ("numeric", _copy),
    "real": ("numeric", _part(pt.real)),
    "reciprocal": ("floating-point", pt.reciprocal),
    "round": ("numeric", _round),
    "sign": ("numeric", _sign),
    "signbit": ("real floating-point", _signbit),
    "sin": ("floating-point", pt.sin),
    "sinh": ("floating-point", pt.sinh),
    "sqrt": ("floating-point", pt.sqrt),
    "square": ("numeric", pt.square),
    "tan": ("floating-point", pt.tan),
    "tanh": ("floating-point", pt.tanh),
    "trunc": ("real numeric", _float_only(pt.trunc)),
}

_BINARY = {
    "add": ("numeric", pt.add),
    "atan2": ("real floating-point", pt.atan2),
    "bitwise_and": ("integer or boolean", pt.bitwise_and),
    "bitwise_left_shift": ("integer", _shift("bitwise_left_shift", pt.bitwise_left_shift)),
    "bitwise_or": ("integer or boolean", pt.bitwise_or),
    "bitwise_right_shift": ("integer", _shift("bitwise_right_shift", pt.bitwise_right_shift)),
    "bitwise_xor": ("integer or boolean", pt.bitwise_xor),
    "copysign": ("real floating-point", _tensors(_copysign)),
    "divide": ("floating-point", pt.true_divide),
    "equal": ("all", pt.eq),
    "floor_divide": ("real numeric", _tensors(_floor_divide)),
    "greater": ("real numeric", pt.gt),
    "greater_equal": ("real numeric", pt.ge),
    "hypot": ("real floating-point", _tensors(_hypot)),
    "less": ("real numeric", pt.lt),
    "less_equal": ("real numeric", pt.le),
    "logaddexp": ("real floating-point", pt.logaddexp),
    "logical_and": ("boolean", pt.logical_and),
    "logical_or": ("boolean", pt.logical_or),
    "logical_xor": ("boolean", pt.logical_xor),
    "maximum": ("real numeric", pt.maximum),
    "minimum": ("real numeric", pt.minimum),
    "multiply": ("numeric", pt.mul),
    "nextafter": ("real floating-point", _tensors(_nextafter)),
    "not_equal": ("all", pt.ne),
    "pow": ("numeric", pt.pow),
    "remainder": ("real numeric", _tensors(_remainder)),
    "subtract": ("numeric", pt.sub),
}

for _name, (_cat, _fn) in _UNARY.items():
    globals()[_name] = _unary(_name, _cat, _fn)
for _name, (_cat, _fn) in _BINARY.items():
    globals()[_name] = _binary(_name, _cat, _fn)


def _scalar_operand(fname, v, x):
    """A Python scalar or array bound of ``clip`` as a tensor of ``x``'s dtype on its device."""
    if isinstance(v, Tensor):
        check_category(fname, v, "real numeric")
        if v.dtype.is_floating_point != x.dtype.is_floating_point:
            raise TypeError(f"{fname}(): the bounds must be of x's kind ({x.dtype.name}), got {v.dtype.name}")
        return v.to(device=x.device, dtype=x.dtype)
    if type(v) not in (int, float):
        raise TypeError(f"{fname}(): min and max must be None, int, float or an array, got {type(v).__name__}")
    if isinstance(v, float) and not x.dtype.is_floating_point:
        raise TypeError(f"{fname}(): a float bound cannot clip the integer array x ({x.dtype.name})")
    return pt.full((), v, dtype=x.dtype, device=x.device)


def clip(x: Tensor, /, min=None, max=None) -> Tensor:
    """``x`` limited to ``[min, max]`` (each a Python scalar, an array or None); the result has
    ``x``'s dtype, nan stays nan and a nan bound gives nan.

    >>> import plugtorch.array_api as xp
    >>> xp.clip(xp.asarray([1, 5, 9]), 2, 6).tolist()
    [2, 5, 6]
    """
    check_array("clip", x)
    check_category("clip", x, "real numeric")
    if not x.dtype.is_floating_point:   # a Python int beyond the dtype's range clips nothing
        info = D.iinfo(x.dtype)
        if type(min) is int and min <= info.min:
            min = None
        if type(max) is int and max >= info.max:
            max = None
    out = x
    if min is not None:
        out = pt.maximum(out, _scalar_operand("clip", min, x))
    if max is not None:
        out = pt.minimum(out, _scalar_operand("clip", max, x))
    return out.clone() if out is x else out


__all__.append("clip")
