"""Checks of non-tensor arguments that many metas share: int arguments (sizes, counts, ``k``),
Python scalars that must fit a dtype, and index ranges.

PyTorch's argument parser refuses a float where an int is expected, and its checked scalar
conversion refuses a value the target dtype cannot hold; each check here raises what PyTorch
raises, with a message naming the op and the argument.

>>> as_int("topk", "k", 2)
2
"""
from __future__ import annotations

import math
import re

from plugtorch import _dtypes
from plugtorch.dispatch import meta as M


def as_int(op: str, name: str, value) -> int:
    """``value`` as an int: ints, NumPy integers and one-element integer tensors pass; a float
    (even 2.0) or anything else is a TypeError, as in PyTorch.

    >>> as_int("chunk", "chunks", 2.5)
    Traceback (most recent call last):
    TypeError: chunk(): argument 'chunks' must be int, not float
    """
    if value.__class__ is int:
        return value
    if isinstance(value, M.Tensor):
        if value._dtype.category != _dtypes._FLOAT and value.numel() == 1:
            return int(value.item())
    elif not isinstance(value, float) and hasattr(value, "__index__"):
        return value.__index__()
    raise TypeError(f"{op}(): argument '{name}' must be int, not {type(value).__name__}")


def as_ints(op: str, name: str, values) -> tuple:
    """A sequence of int arguments (``split``'s sizes, ``roll``'s shifts); TypeError naming a float."""
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"{op}(): argument '{name}' must be tuple of ints, not {type(values).__name__}")
    out = []
    for i, v in enumerate(values):
        if v.__class__ is not int and (isinstance(v, float) or not hasattr(v, "__index__")):
            raise TypeError(f"{op}(): argument '{name}' must be tuple of ints, but found element of type "
                            f"{type(v).__name__} at pos {i}")
        out.append(v if v.__class__ is int else v.__index__())
    return tuple(out)


def check_nonneg(op: str, name: str, value: int, what: str = "non-negative") -> int:
    if value < 0:
        raise RuntimeError(f"{op}(): {name} must be {what}, got {value}")
    return value


# the bits of a floating dtype's significand: integers up to 2**digits are exact in it
MANTISSA_DIGITS = {_dtypes.float16: 11, _dtypes.bfloat16: 8, _dtypes.float32: 24, _dtypes.float64: 53}

_INT64_MIN, _UINT64_END = -(1 << 63), 1 << 64
_LIMITS: dict = {}   # dtype -> (lowest, highest) of the values it holds


def _limits(dtype):
    r = _LIMITS.get(dtype)
    if r is None:
        if dtype.category == _dtypes._FLOAT:
            hi = _dtypes.finfo(dtype).max
            r = (-hi, hi)
        else:
            ii = _dtypes.iinfo(dtype)
            r = (ii.min, ii.max)
        r = _LIMITS[dtype] = r
    return r


def fit_scalar(op: str, value, dtype):
    """PyTorch's checked conversion of a Python scalar to ``dtype`` (``full``, ``fill_``,
    ``masked_fill``, ``clamp``, a ``where`` or ``index_put`` value ...): RuntimeError when
    ``dtype`` cannot hold it; returns the value to store.

    As in PyTorch: bool holds any number (an int within 64 bits); inf and nan fit every floating dtype; a float must lie in
    an integer dtype's range (nan and inf never do); an int may go down to -max for an unsigned
    dtype, where it wraps (two's complement: -1 is 255 in uint8); an int outside 64 bits is an
    OverflowError whatever the dtype. Arithmetic (``x + 300`` on int8) is not checked: it wraps,
    as PyTorch's does.

    >>> fit_scalar("full", 300, _dtypes.int8)
    Traceback (most recent call last):
    RuntimeError: full(): value 300 cannot be converted to type int8 without overflow (int8 holds [-128, 127])
    """
    cls = value.__class__
    if cls is bool:
        return value
    if dtype is _dtypes.bool:
        if cls is int and not _INT64_MIN <= value < -_INT64_MIN:
            if not _INT64_MIN <= value < _UINT64_END:
                raise OverflowError(f"{op}(): the Python int {value} is too big to convert: scalars must fit in 64 bits")
            return True   # (a uint64 value: no backend takes it as a Python int)
        return value
    if dtype.category == _dtypes._COMPLEX:
        return value   # holds every real and complex number (out-of-range ones become inf)
    if cls is complex:
        raise RuntimeError(f"{op}(): value {value!r} cannot be converted to type {dtype.name} without overflow "
                           "(a complex value needs a complex dtype: pass dtype=plugtorch.complex64)")
    if cls is not int and cls is not float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value   # not a real number: check_scalar reports it
        cls = int if isinstance(value, int) else float
    lo, hi = _limits(dtype)
    if cls is int:
        if not _INT64_MIN <= value < _UINT64_END:
            raise OverflowError(f"{op}(): the Python int {value} is too big to convert: scalars must fit in 64 bits")
        if lo <= value <= hi:
            return value
        if lo == 0 and -hi <= value < 0:
            return value + hi + 1   # unsigned: negative ints wrap, as PyTorch allows
    elif (float(lo) <= value <= float(hi)) or (dtype.category == _dtypes._FLOAT and not math.isfinite(value)):
        return value
    wrap = f"; negative ints down to {-hi} wrap" if lo == 0 else ""
    raise RuntimeError(f"{op}(): value {value!r} cannot be converted to type {dtype.name} without overflow "
                       f"({dtype.name} holds [{lo}, {hi}]{wrap})")


def int_too_big(op: str, value: int, dtype) -> OverflowError:
    """The error for a Python int operand outside 64 bits (``x < 2**64``, ``x + -2**63 - 1``):
    PyTorch converts a scalar operand to a 64-bit int first, whatever the tensor's dtype, and
    raises OverflowError for one that no 64-bit int holds."""
    return OverflowError(f"{op}(): the Python int {value} is too big to convert for a tensor of dtype {dtype.name}: "
                         "scalars must fit in 64 bits, [-2**63, 2**64 - 1]")


def check_values_fit(op: str, values, dtype) -> None:
    """``fit_scalar`` for an array of Python numbers (``tensor([300], dtype=int8)``): RuntimeError
    naming the first value an integer ``dtype`` cannot hold. Floating dtypes take anything here
    (out-of-range floats become inf, as in PyTorch's ``tensor``)."""
    if dtype.category != _dtypes._INT or values.size == 0:
        return
    import numpy as np
    lo, hi = _limits(dtype)
    kind = values.dtype.kind
    if kind == "f":
        bad = np.isnan(values) | (values < lo) | (values > float(hi))
    elif kind in "iu":
        bad = (values > hi) | (values < (-hi if lo == 0 else lo))
    else:
        return
    if bad.any():
        v = values[bad].flat[0]
        wrap = f"; negative ints down to {-hi} wrap" if lo == 0 else ""
        raise RuntimeError(f"{op}(): value {v.item()!r} cannot be converted to type {dtype.name} without overflow "
                           f"({dtype.name} holds [{lo}, {hi}]{wrap})")


def check_int64(op: str, leaves) -> None:
    """ValueError, as PyTorch's, for a Python int outside int64 (``tensor([2**63])``)."""
    for v in leaves:
        if v.__class__ is int and not _INT64_MIN <= v < -_INT64_MIN:
            raise ValueError(f"{op}(): Overflow when unpacking long long: the Python int {v} is outside int64's "
                             f"range [{_INT64_MIN}, {-_INT64_MIN - 1}]")


def index_range_error(op: str, bad: int, dim: int, size: int, cls=RuntimeError):
    return cls(f"{op}(): index {bad} is out of bounds for dimension {dim} with size {size}")


def index_bounds(index) -> tuple | None:
    """``(min, max)`` of an integer index tensor (one read-back), or None when it is empty."""
    if not index.numel():
        return None
    return int(index.amin()), int(index.amax())


def check_index_range(index, low: int, n: int, exc_type, message, eager_message) -> None:
    """``exc_type`` unless every element of integer tensor ``index`` is in [low, n): one read-back,
    through ``dispatcher.data_check`` so that a traced graph checks its own indices too.
    ``eager_message(lo, hi)`` words the error from the index's bounds; a replay says ``message``."""
    if not index.numel():
        return
    from plugtorch.dispatch.dispatcher import data_check
    flag = ((index < low) | (index >= n)).any()
    data_check(flag, exc_type, message, eager_message=lambda: eager_message(*index_bounds(index)))


_CALLEE_PREFIX = re.compile(r"^[\w.<>]+\(\) (?=takes |got |missing )")


def binding_error(name: str, signature, args, kwargs, error: TypeError):
    """The TypeError to raise for ``error``, raised while calling op ``name`` (whose arguments
    have ``signature``), when the arguments do not bind to it: Python's message names whatever
    function the op runs internally (``_unary_meta.<locals>.meta() got an unexpected keyword
    argument 'out'``); this one names the op, as PyTorch's (``relu() got an unexpected keyword
    argument 'out'``). None when the arguments bind: the TypeError came from inside the op and
    stands as it is. Called only after a TypeError, so a normal call pays nothing.

    >>> import inspect
    >>> sig = inspect.signature(lambda input: None)
    >>> str(binding_error("relu", sig, (1, 2), {}, TypeError("meta() takes 1 positional argument but 2 were given")))
    'relu() takes 1 positional argument but 2 were given'
    """
    try:
        signature.bind(*args, **kwargs)
    except TypeError as e:
        why = str(error)
        if _CALLEE_PREFIX.match(why):
            return TypeError(_CALLEE_PREFIX.sub(f"{name}() ", why, count=1))
        return TypeError(f"{name}(): {e} (expected {name}{signature})")
    return None
