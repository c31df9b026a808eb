"""The standard's dtypes, categories and type promotion; ``astype``, ``can_cast``, ``finfo``,
``iinfo``, ``isdtype``, ``result_type``.

The standard's promotion differs from PyTorch's in two ways that matter here: it never mixes
kinds (an integer array and a floating array, or bool and a number, do not promote: TypeError,
as array-api-strict), and a 0-d array is an array like any other (PyTorch lets a 0-d tensor of
the same kind give way to the other operand). Within one kind the lattices agree
(``uint8 + int8 -> int16``, ``float32 + float64 -> float64``), so promotion within a kind is
``plugtorch.promote_types``. Python scalars take the array's dtype, if they fit its kind.

>>> import plugtorch.array_api as xp
>>> xp.result_type(xp.uint8, xp.int8)
plugtorch.int16
"""
from __future__ import annotations

import builtins
import math
from typing import NamedTuple

from plugtorch import _dtypes as D
from plugtorch._tensor import Tensor

bool = D.bool
int8, int16, int32, int64 = D.int8, D.int16, D.int32, D.int64
uint8 = D.uint8
float32, float64 = D.float32, D.float64
complex64, complex128 = D.complex64, D.complex128

# the standard's dtypes plugtorch has (no uint16/32/64: see docs/array_api.md)
DTYPES = (bool, int8, int16, int32, int64, uint8, float32, float64, complex64, complex128)
_NAMES = {d: d.name for d in DTYPES}

_FLOATS = frozenset(D.float_dtypes)        # float16 and bfloat16 pass through where given
_INTS = frozenset(D.int_dtypes)
_COMPLEX = frozenset(D.complex_dtypes)
CATEGORIES = {
    "all": None,                            # None: any dtype
    "numeric": _INTS | _FLOATS | _COMPLEX,
    "real numeric": _INTS | _FLOATS,
    "integer": _INTS,
    "integer or boolean": _INTS | {bool},
    "boolean": frozenset({bool}),
    "floating-point": _FLOATS | _COMPLEX,
    "real floating-point": _FLOATS,
    "complex floating-point": _COMPLEX,
}
_PY_SCALARS = (builtins.bool, int, float, complex)


def check_array(fname: str, x, name: str = "x") -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}(): {name} must be an array (a plugtorch.Tensor), got {type(x).__name__}; "
                        "convert it with asarray() first")


def check_category(fname: str, x: Tensor, category: str) -> None:
    allowed = CATEGORIES[category]
    if allowed is not None and x.dtype not in allowed:
        raise TypeError(f"{fname}(): only {category} dtypes are allowed, got {x.dtype.name}")


def promote(d1, d2, fname: str = "result_type"):
    """The standard's promotion of two dtypes (TypeError across kinds)."""
    if d1 is d2:
        return d1
    if d1.category != d2.category and {d1.category, d2.category} != {D._FLOAT, D._COMPLEX}:
        raise TypeError(f"{fname}(): {d1.name} and {d2.name} do not promote: the Array API standard "
                        "does not mix booleans, integers and floating-point (real or complex); convert one "
                        "with astype()")
    return D.promote_types(d1, d2)


def check_scalar(fname: str, value, dtype) -> None:
    """A Python scalar may join an array of ``dtype`` only if it fits its kind (and an int, its range)."""
    if isinstance(value, builtins.bool):
        if dtype is not bool:
            raise TypeError(f"{fname}(): a Python bool can only be combined with a bool array, got {dtype.name}")
    elif isinstance(value, int):
        if dtype is bool:
            raise TypeError(f"{fname}(): a Python int cannot be combined with a bool array")
        if dtype in _INTS:
            info = D.iinfo(dtype)
            if not info.min <= value <= info.max:
                raise OverflowError(f"{fname}(): the Python int {value} does not fit {dtype.name} "
                                    f"[{info.min}, {info.max}]")
    elif isinstance(value, float):
        if dtype not in _FLOATS and dtype not in _COMPLEX:
            raise TypeError(f"{fname}(): a Python float can only be combined with a floating-point array, "
                            f"got {dtype.name}")
    elif isinstance(value, complex):
        if dtype not in _FLOATS and dtype not in _COMPLEX:
            raise TypeError(f"{fname}(): a Python complex can only be combined with a floating-point array, "
                            f"got {dtype.name}")
    else:
        raise TypeError(f"{fname}(): expected an array or a Python scalar, got {type(value).__name__}")


def operands(fname: str, x1, x2, category: str = "all"):
    """``(x1, x2, dtype)`` of a binary function: arrays cast to their common dtype (so a 0-d
    array promotes like any other), a Python scalar left as it is (plugtorch treats it as
    weak, which is the standard's rule once it fits the array's kind)."""
    s1, s2 = type(x1) in _PY_SCALARS, type(x2) in _PY_SCALARS
    if s1 or s2:
        if s1 and s2:
            raise TypeError(f"{fname}(): at least one argument must be an array, got two Python scalars")
        arr, scalar = (x2, x1) if s1 else (x1, x2)
        check_array(fname, arr, "x2" if s1 else "x1")
        check_category(fname, arr, category)
        check_scalar(fname, scalar, arr.dtype)
        if isinstance(scalar, complex) and arr.dtype in _FLOATS:   # float32 array + 1j: complex64
            return x1, x2, arr.dtype.to_complex()
        return x1, x2, arr.dtype
    check_array(fname, x1, "x1")
    check_array(fname, x2, "x2")
    check_category(fname, x1, category)
    check_category(fname, x2, category)
    dt = promote(x1.dtype, x2.dtype, fname)
    if x1.dtype is not dt:
        x1 = x1.to(dt)
    if x2.dtype is not dt:
        x2 = x2.to(dt)
    return x1, x2, dt


def raise_broadcast_error(fname: str, e: RuntimeError) -> None:
    """Shapes that do not broadcast are a ValueError in the standard (and NumPy); plugtorch's ops
    raise PyTorch's RuntimeError: re-raise it as ValueError with the same message."""
    if "broadcast" in str(e):
        raise ValueError(str(e)) from e


# ---- data type functions --------------------------------------------------------------------
def astype(x: Tensor, dtype, /, *, copy: builtins.bool = True, device=None) -> Tensor:
    """``x`` converted to ``dtype`` (and moved to ``device``); a new array unless ``copy=False``
    and nothing changes."""
    check_array("astype", x)
    dtype = D.to_dtype(dtype)
    out = x
    if device is not None and out.device != device:
        out = out.to(device)
        copy = False
    if out.dtype is not dtype:
        out = out.to(dtype)
        copy = False
    return out.clone() if copy else out


def can_cast(from_, to, /) -> builtins.bool:
    """Whether the standard's promotion turns ``from_`` (a dtype or array) into ``to``."""
    if isinstance(from_, Tensor):
        from_ = from_.dtype
    _check_dtype("can_cast", from_)
    _check_dtype("can_cast", to)
    try:
        return promote(from_, to) is to
    except TypeError:
        return False


def _check_dtype(fname, d):
    if not isinstance(d, D.dtype):
        raise TypeError(f"{fname}(): expected a dtype, got {type(d).__name__}")


class finfo_object(NamedTuple):
    bits: int
    eps: float
    max: float
    min: float
    smallest_normal: float
    dtype: D.dtype


class iinfo_object(NamedTuple):
    bits: int
    max: int
    min: int
    dtype: D.dtype


def finfo(type, /) -> finfo_object:
    """Machine limits of a floating-point dtype (or an array's)."""
    d = type.dtype if isinstance(type, Tensor) else type
    _check_dtype("finfo", d)
    if d not in _FLOATS and d not in _COMPLEX:
        raise ValueError(f"finfo(): {d.name} is not a floating-point dtype; use iinfo() for integers")
    d = d.to_real()   # a complex dtype's: those of its parts (bits and dtype too), as the standard says
    f = D.finfo(d)
    return finfo_object(8 * d.itemsize, float(f.eps), float(f.max), float(f.min), float(f.tiny), d)


def iinfo(type, /) -> iinfo_object:
    """Machine limits of an integer dtype (or an array's)."""
    d = type.dtype if isinstance(type, Tensor) else type
    _check_dtype("iinfo", d)
    if d not in _INTS:
        raise ValueError(f"iinfo(): {d.name} is not an integer dtype; use finfo() for floating-point")
    i = D.iinfo(d)
    return iinfo_object(8 * d.itemsize, int(i.max), int(i.min), d)


_KINDS = {
    "bool": lambda d: d is bool,
    "signed integer": lambda d: d in _INTS and d.is_signed,
    "unsigned integer": lambda d: d in _INTS and not d.is_signed,
    "integral": lambda d: d in _INTS,
    "real floating": lambda d: d in _FLOATS,
    "complex floating": lambda d: d in _COMPLEX,
    "numeric": lambda d: d in _INTS or d in _FLOATS or d in _COMPLEX,
}


def isdtype(dtype, kind) -> builtins.bool:
    """Whether ``dtype`` is ``kind``: a dtype, one of the standard's kind names, or a tuple of those."""
    _check_dtype("isdtype", dtype)
    if isinstance(kind, tuple):
        return builtins.any(_isdtype_one(dtype, k) for k in kind)
    return _isdtype_one(dtype, kind)


def _isdtype_one(dtype, kind):
    if isinstance(kind, D.dtype):
        return dtype is kind
    if isinstance(kind, str):
        test = _KINDS.get(kind)
        if test is None:
            raise ValueError(f"isdtype(): unknown kind {kind!r}; expected one of {sorted(_KINDS)}")
        return test(dtype)
    raise TypeError(f"isdtype(): kind must be a dtype, a kind name or a tuple of them, got {type(kind).__name__}")


def result_type(*arrays_and_dtypes):
    """The dtype the standard's promotion gives these arrays, dtypes and Python scalars."""
    dtypes, scalars = [], []
    for a in arrays_and_dtypes:
        if isinstance(a, Tensor):
            dtypes.append(a.dtype)
        elif isinstance(a, D.dtype):
            dtypes.append(a)
        elif type(a) in _PY_SCALARS:
            scalars.append(a)
        else:
            raise TypeError(f"result_type(): expected arrays, dtypes or Python scalars, got {type(a).__name__}")
    if not dtypes:
        raise ValueError("result_type(): at least one array or dtype is required")
    out = dtypes[0]
    for d in dtypes[1:]:
        out = promote(out, d)
    for s in scalars:
        check_scalar("result_type", s, out)
        if isinstance(s, complex) and out in _FLOATS:
            out = out.to_complex()
    return out


def default_float(device=None):
    return D.get_default_dtype()


def scalar_dtype(value):
    """The standard's dtype of a Python scalar: bool, the default integer or the default float."""
    if isinstance(value, builtins.bool):
        return bool
    if isinstance(value, int):
        return int64
    if isinstance(value, float):
        return D.get_default_dtype()
    if isinstance(value, complex):
        return D.default_complex_dtype()
    raise TypeError(f"expected a Python scalar, got {type(value).__name__}")


e, inf, nan, pi = math.e, math.inf, math.nan, math.pi
newaxis = None
