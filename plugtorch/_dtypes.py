"""dtypes, PyTorch's type promotion, finfo and iinfo.

>>> import plugtorch as pt
>>> pt.promote_types(pt.int8, pt.float16)
plugtorch.float16
"""
from __future__ import annotations

import math
import threading

import ml_dtypes
import numpy as np

from plugtorch import _caches

__all__ = [
    "dtype", "bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
    "float32", "float64", "complex64", "complex128", "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz",
    "float8_e5m2fnuz", "promote_types", "result_type", "set_default_dtype",
    "get_default_dtype", "finfo", "iinfo", "from_numpy_dtype",
]

_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3  # promotion categories, ordered


class dtype:
    """A tensor element type. Compare with ``is`` or ``==``; hashable."""

    __slots__ = ("name", "itemsize", "category", "is_signed", "numpy", "_rank")

    def __init__(self, name, numpy_dtype, category, is_signed, rank):
        self.name = name
        self.numpy = np.dtype(numpy_dtype)
        self.itemsize = self.numpy.itemsize
        self.category = category
        self.is_signed = is_signed
        self._rank = rank

    @property
    def is_floating_point(self) -> builtins_bool:
        return self.category == _FLOAT

    @property
    def is_complex(self) -> builtins_bool:
        return self.category == _COMPLEX

    def to_real(self):
        """The real dtype of a complex one's parts (complex64 -> float32); others are their own.

        >>> import plugtorch as pt
        >>> pt.complex128.to_real()
        plugtorch.float64
        """
        return _TO_REAL.get(self, self)

    def to_complex(self):
        """The complex dtype whose parts are this float dtype (float64 -> complex128; float16 and
        bfloat16 -> complex64, as plugtorch has no complex32); complex dtypes are their own.

        >>> import plugtorch as pt
        >>> pt.float32.to_complex()
        plugtorch.complex64
        """
        if self.category == _COMPLEX:
            return self
        if self.category != _FLOAT:
            raise RuntimeError(f"to_complex(): {self} has no complex counterpart (only floating-point "
                               "dtypes have one)")
        return complex128 if self is float64 else complex64

    def __repr__(self):
        return f"plugtorch.{self.name}"

    def __reduce__(self):
        return self.name   # pickled by reference: plugtorch._dtypes.<name>


builtins_bool = __builtins__["bool"] if isinstance(__builtins__, dict) else __builtins__.bool


bool = dtype("bool", np.bool_, _BOOL, False, 0)
uint8 = dtype("uint8", np.uint8, _INT, False, 1)
int8 = dtype("int8", np.int8, _INT, True, 2)
int16 = dtype("int16", np.int16, _INT, True, 3)
int32 = dtype("int32", np.int32, _INT, True, 4)
int64 = dtype("int64", np.int64, _INT, True, 5)
float16 = dtype("float16", np.float16, _FLOAT, True, 6)
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16, _FLOAT, True, 7)
float32 = dtype("float32", np.float32, _FLOAT, True, 8)
float64 = dtype("float64", np.float64, _FLOAT, True, 9)
complex64 = dtype("complex64", np.complex64, _COMPLEX, True, 10)
complex128 = dtype("complex128", np.complex128, _COMPLEX, True, 11)
cfloat, cdouble = complex64, complex128
# 8-bit floats (ml_dtypes' NumPy types), as PyTorch's: storage and conversion types. They take part
# in no promotion, and most ops refuse them, as PyTorch's CPU kernels do; convert to a wider
# float to compute (x.float()), and back with .to(plugtorch.float8_e4m3fn).
float8_e4m3fn = dtype("float8_e4m3fn", ml_dtypes.float8_e4m3fn, _FLOAT, True, 12)
float8_e5m2 = dtype("float8_e5m2", ml_dtypes.float8_e5m2, _FLOAT, True, 13)
float8_e4m3fnuz = dtype("float8_e4m3fnuz", ml_dtypes.float8_e4m3fnuz, _FLOAT, True, 14)
float8_e5m2fnuz = dtype("float8_e5m2fnuz", ml_dtypes.float8_e5m2fnuz, _FLOAT, True, 15)
float8_dtypes = (float8_e4m3fn, float8_e5m2, float8_e4m3fnuz, float8_e5m2fnuz)
_F8_NUMPY = frozenset(d.numpy for d in float8_dtypes)
_F8_SATURATES = {float8_e4m3fn.numpy: 448.0}


def host_cast(x: np.ndarray, d) -> np.ndarray:
    """``x.astype(d)`` for host arrays, with PyTorch's float8 conversions: to float8_e4m3fn (from
    float32, as PyTorch converts) +-inf and values past 448 saturate to +-448, where ml_dtypes gives
    nan; nan stays nan. From a float8 type to an integer, bool or bfloat16, through float32."""
    d = np.dtype(d)
    if d in _F8_SATURATES and x.dtype != d:
        y = np.asarray(x.real if x.dtype.kind == "c" else x, dtype=np.float32)
        lim = _F8_SATURATES[d]
        with np.errstate(invalid="ignore"):
            return np.clip(y, -lim, lim).astype(d)
    if x.dtype in _F8_NUMPY and x.dtype != d and (d.kind in "iub" or d == bfloat16.numpy):
        with np.errstate(invalid="ignore"):
            return x.astype(np.float32).astype(d)
    try:
        return x.astype(d, copy=False)
    except (RuntimeWarning, FloatingPointError):   # overflow to inf, nan to int: silent, as in PyTorch,
        with np.errstate(all="ignore"):           # under a strict warning filter too
            return x.astype(d, copy=False)

real_dtypes = (bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)
all_dtypes = real_dtypes + (complex64, complex128)
float_dtypes = (float16, bfloat16, float32, float64)
int_dtypes = (uint8, int8, int16, int32, int64)
complex_dtypes = (complex64, complex128)
_TO_REAL = {complex64: float32, complex128: float64}

_BY_NUMPY = {d.numpy: d for d in all_dtypes + float8_dtypes}
_BY_NAME = {d.name: d for d in all_dtypes + float8_dtypes}
_BY_NAME.update(half=float16, float=float32, double=float64, long=int64, int=int32, short=int16,
                cfloat=complex64, cdouble=complex128)


def from_numpy_dtype(np_dtype) -> dtype:
    """The plugtorch dtype of a NumPy dtype; TypeError for ones plugtorch lacks."""
    try:
        return _BY_NUMPY[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(
            f"can't convert NumPy dtype {np_dtype}: plugtorch supports "
            + ", ".join(d.name for d in all_dtypes)) from None


def _promote_pair(a: dtype, b: dtype) -> dtype:
    if a is b:
        return a
    if a.category != b.category:
        hi, lo = (a, b) if a.category > b.category else (b, a)
        if hi.category == _COMPLEX and lo.category == _FLOAT:
            # a complex type wide enough for both: complex64 with float64 is complex128
            return complex128 if lo is float64 else hi
        return hi
    if a.category == _INT:
        # uint8 with a signed type: the smallest signed type holding both (PyTorch).
        if a is uint8 or b is uint8:
            other = b if a is uint8 else a
            return int16 if other is int8 else other
        return a if a._rank > b._rank else b
    if {a, b} == {float16, bfloat16}:
        return float32
    return a if a._rank > b._rank else b


class _PromotionTable(dict):
    def __missing__(self, key):
        a, b = key
        if not (isinstance(a, dtype) and isinstance(b, dtype)):
            raise KeyError(key)
        if a is b:
            return a
        raise RuntimeError(f"Promotion for Float8 Types is not supported, attempted to promote {a} and {b}; "
                           "convert the float8 tensor first (x.float() or x.to(other.dtype))")


_PROMOTE = _PromotionTable({(a, b): _promote_pair(a, b) for a in all_dtypes for b in all_dtypes})


def promote_types(type1: dtype, type2: dtype) -> dtype:
    """The smallest dtype both can be cast to without losing kind (PyTorch's table).

    >>> promote_types(uint8, int8)
    plugtorch.int16
    """
    return _PROMOTE[type1, type2]


class _DefaultDtype(threading.local):
    value = float32


_default = _DefaultDtype()


def set_default_dtype(d: dtype) -> None:
    """Set the dtype of float literals and float factory results (float32 at start)."""
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point dtypes are allowed, got {d}")
    if d is not _default.value:
        _default.value = d
        # memoised dispatch decisions (int tensor * 0.5 -> default float) depend on it
        _caches.invalidate()


def get_default_dtype() -> dtype:
    return _default.value


def default_complex_dtype() -> dtype:
    """The dtype of Python complex numbers: complex128 when the default dtype is float64, else
    complex64 (PyTorch's complex32 for a float16 default does not exist in plugtorch)."""
    return complex128 if _default.value is float64 else complex64


def scalar_dtype(value) -> dtype:
    """dtype a Python scalar gets when it becomes a tensor on its own."""
    t = type(value)
    if t is builtins_bool or t is np.bool_:
        return bool
    if t is int or isinstance(value, (int, np.integer)):
        return int64
    if isinstance(value, (float, np.floating)):
        return _default.value
    if isinstance(value, (complex, np.complexfloating)):
        return default_complex_dtype()
    raise TypeError(f"expected a number, got {type(value).__name__}")


def _scalar_category(value) -> int:
    t = type(value)
    if t is float:
        return _FLOAT
    if t is int:
        return _INT
    if t is builtins_bool:
        return _BOOL
    if t is complex:
        return _COMPLEX
    return scalar_dtype(value).category


def result_type(*operands) -> dtype:
    """PyTorch's promotion over tensors and scalars.

    Dimensioned tensors win over 0-d tensors, which win over Python scalars, unless
    a weaker operand is of a higher category (bool < integer < float): then the result
    is that category's default (Python float -> default dtype, int -> int64).

    >>> import plugtorch as pt
    >>> pt.result_type(pt.ones(2, dtype=pt.int8), 3)
    plugtorch.int8
    """
    dim_t = zero_t = None
    scalar_cat = -1
    for o in operands:
        d = getattr(o, "_dtype", None)
        if d is not None:
            if o.ndim:
                dim_t = d if dim_t is None else _PROMOTE[dim_t, d]
            else:
                zero_t = d if zero_t is None else _PROMOTE[zero_t, d]
        elif isinstance(o, dtype):
            dim_t = o if dim_t is None else _PROMOTE[dim_t, o]
        else:
            scalar_cat = max(scalar_cat, _scalar_category(o))
    return combine_weak(dim_t, zero_t, scalar_cat)


def combine_weak(dim_t, zero_t, scalar_cat: int) -> dtype:
    res = dim_t
    if zero_t is not None:
        if res is None:
            res = zero_t
        elif zero_t.category > res.category:
            # a complex 0-d tensor keeps a float tensor's precision (float64 -> complex128)
            res = res.to_complex() if zero_t.category == _COMPLEX and res.category == _FLOAT else zero_t
        # same or lower category: the dimensioned type wins
    if scalar_cat >= 0:
        if res is None:
            res = (bool, int64, _default.value, None)[scalar_cat] or default_complex_dtype()
        elif scalar_cat > res.category:
            if scalar_cat == _COMPLEX:
                res = res.to_complex() if res.category == _FLOAT else default_complex_dtype()
            else:
                res = int64 if scalar_cat == _INT else _default.value
    return res


class finfo:
    """Machine limits of a floating-point dtype (``plugtorch.finfo(plugtorch.float16).max``); of a
    complex dtype, those of its parts (``finfo(complex64).dtype == "float32"``, as PyTorch's)."""

    def __init__(self, type: dtype = None):
        type = type or _default.value
        if not isinstance(type, dtype) or not (type.is_floating_point or type.is_complex):
            raise TypeError(f"finfo: expected a floating-point or complex dtype, got {type}")
        type = type.to_real()
        fi = ml_dtypes.finfo(type.numpy)
        self.dtype = type.name
        self.bits = type.itemsize * 8
        self.eps = float(fi.eps)
        self.max = float(fi.max)
        self.min = float(fi.min)
        self.tiny = self.smallest_normal = float(fi.tiny)
        # 10 ** -digits10 as a Python float (1e-06 for float32), as PyTorch's (C++'s digits10:
        # floor(mantissa bits * log10(2)); 1.0 for the float8 types); NumPy's is rounded to the dtype
        self.resolution = 10.0 ** -int(math.floor(int(fi.nmant) * math.log10(2)))

    def __eq__(self, other):
        return isinstance(other, finfo) and other.dtype == self.dtype

    def __hash__(self):
        return hash(("finfo", self.dtype))

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Machine limits of an integer dtype (``plugtorch.iinfo(plugtorch.int8).min == -128``)."""

    def __init__(self, type: dtype):
        if not isinstance(type, dtype) or type.category >= _FLOAT:
            raise TypeError(f"iinfo: expected an integer or bool dtype, got {type}")
        ii = np.iinfo(type.numpy) if type is not bool else None
        self.dtype = type.name
        self.bits = type.itemsize * 8
        self.max = ii.max if ii else 1
        self.min = ii.min if ii else 0

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def to_dtype(value) -> dtype:
    """Accept a plugtorch dtype, a NumPy dtype/type or a name ("float32")."""
    if isinstance(value, dtype):
        return value
    if isinstance(value, str) and value in _BY_NAME:
        return _BY_NAME[value]
    if value is float:
        return float64
    if value is int:
        return int64
    if value is builtins_bool:
        return bool
    if value is complex:
        return complex128
    try:
        return from_numpy_dtype(value)
    except TypeError:
        raise TypeError(f"expected a plugtorch dtype, got {value!r}") from None
