"""The standard's creation functions: ``asarray``, ``arange``, ``zeros`` ... ``from_dlpack``.

Without ``device=`` they make tensors on the default device (``plugtorch.set_default_device``
or ``PLUGTORCH_DEFAULT_DEVICE``); the ``*_like`` functions on their argument's device. Python
floats give the default floating dtype (``plugtorch.get_default_dtype()``, float32 unless set),
Python ints int64.

>>> import plugtorch.array_api as xp
>>> xp.asarray([[1, 2], [3, 4]]).dtype
plugtorch.int64
>>> xp.arange(5, 1).shape        # an empty range is an empty array
plugtorch.Size([0])
"""
from __future__ import annotations

import builtins
import math

import numpy as np

import plugtorch as pt
from plugtorch import _dtypes as D
from plugtorch._device import canonical
from plugtorch._ops_public import _flat
from plugtorch._tensor import Tensor
from plugtorch.array_api._dtypes import bool as _bool
from plugtorch.array_api._dtypes import check_array, int64, scalar_dtype

__all__ = ["arange", "asarray", "empty", "empty_like", "eye", "from_dlpack", "full", "full_like", "linspace",
           "meshgrid", "ones", "ones_like", "tril", "triu", "zeros", "zeros_like"]


def _dtype(d):
    return None if d is None else D.to_dtype(d)


def _shape(fname, shape):
    if isinstance(shape, int):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"{fname}(): shape must be an int or a tuple of ints, got {type(shape).__name__}") from None
    for s in shape:
        if isinstance(s, builtins.bool) or not isinstance(s, int) or s < 0:
            raise ValueError(f"{fname}(): shape must hold non-negative ints, got {shape}")
    return shape


def asarray(obj, /, *, dtype=None, device=None, copy=None) -> Tensor:
    """An array from a tensor, a nested sequence of Python scalars, a NumPy array or any object
    with ``__dlpack__`` or the buffer protocol. ``copy=None`` copies only when it must,
    ``copy=False`` never (ValueError when it would have to), ``copy=True`` always.

    >>> import plugtorch.array_api as xp
    >>> x = xp.asarray([1., 2.])
    >>> xp.asarray(x) is x
    True
    """
    dtype = _dtype(dtype)
    if isinstance(obj, Tensor):
        return _from_tensor(obj, dtype, device, copy)
    if isinstance(obj, np.generic):   # a NumPy scalar keeps its dtype (np.float64 is also a float)
        obj = np.asarray(obj)
    if isinstance(obj, np.ndarray) or (hasattr(obj, "__dlpack__") and not isinstance(obj, (builtins.bool, int, float))):
        if not isinstance(obj, np.ndarray):
            try:
                return _from_tensor(pt.from_dlpack(obj, copy=copy), dtype, device, None if copy else copy)
            except (BufferError, RuntimeError, TypeError) as e:
                if copy is False:
                    raise ValueError(f"asarray(): cannot share the memory of {type(obj).__name__} "
                                     f"({type(e).__name__}: {e}) and copy=False was given") from None
                obj = np.asarray(obj)
        if obj.dtype.kind in "OUS":
            raise TypeError(f"asarray(): cannot make an array of NumPy dtype {obj.dtype}")
        if copy is False or (copy is None and obj.flags.c_contiguous and obj.dtype.isnative):
            try:
                t = pt.from_numpy(obj)
            except (TypeError, ValueError):
                if copy is False:
                    raise ValueError(f"asarray(): a NumPy array of dtype {obj.dtype} cannot be shared "
                                     "without a copy, and copy=False was given") from None
            else:
                return _from_tensor(t, dtype, device, copy)
        return pt.tensor(obj, dtype=dtype, device=device)
    if copy is False:
        raise ValueError(f"asarray(): a {type(obj).__name__} cannot be shared as an array without a copy, "
                         "and copy=False was given")
    if isinstance(obj, (builtins.bool, int, float, complex)):
        dt = dtype or scalar_dtype(obj)
        _check_int(obj, dt)
        return pt.full((), obj, dtype=dt, device=device)
    if isinstance(obj, (list, tuple)):
        return _from_sequence(obj, dtype, device)
    try:
        arr = np.asarray(memoryview(obj))
    except TypeError:
        raise TypeError(f"asarray(): cannot make an array from {type(obj).__name__}: expected an array, "
                        "a Python scalar, a nested sequence or a buffer") from None
    return pt.tensor(arr, dtype=dtype, device=device)


def _from_tensor(t, dtype, device, copy):
    out = t
    if device is not None and canonical(device) is not out.device:
        if copy is False:
            raise ValueError(f"asarray(): moving the array from {out.device} to {device} needs a copy, "
                             "and copy=False was given")
        out = out.to(device)
    if dtype is not None and dtype is not out.dtype:
        if copy is False:
            raise ValueError(f"asarray(): converting {out.dtype.name} to {dtype.name} needs a copy, "
                             "and copy=False was given")
        out = out.to(dtype)
    if copy and out is t:
        out = out.clone()
    return out


def _check_int(value, dt):
    if isinstance(value, int) and not isinstance(value, builtins.bool) and dt.category == D._INT:
        info = D.iinfo(dt)
        if not info.min <= value <= info.max:
            raise OverflowError(f"asarray(): the Python int {value} does not fit {dt.name}")


def _from_sequence(seq, dtype, device):
    leaves = list(_flat(seq))
    if any(isinstance(v, Tensor) for v in leaves):
        if dtype is None:   # the arrays' promoted dtype, Python scalars joining it
            from plugtorch.array_api._dtypes import result_type
            dtype = result_type(*leaves)
        return pt.tensor(seq, dtype=dtype, device=device)
    if dtype is None:
        kinds = {type(v) for v in leaves}
        if kinds <= {builtins.bool}:
            dtype = _bool if leaves else D.get_default_dtype()
        elif kinds <= {int}:
            dtype = int64
        elif kinds <= {int, float}:
            dtype = D.get_default_dtype()
        elif kinds <= {int, float, complex}:
            dtype = D.default_complex_dtype()
        else:   # NumPy scalars and mixtures: as NumPy sees them
            return pt.tensor(np.asarray(seq), device=device)
    for v in leaves:
        _check_int(v, dtype)
    return pt.tensor(seq, dtype=dtype, device=device)


def arange(start, /, stop=None, step=1, *, dtype=None, device=None) -> Tensor:
    """``start, start + step, ...`` up to (not including) ``stop``; empty when the range is."""
    if stop is None:
        start, stop = 0, start
    dtype = _dtype(dtype)
    if dtype is None:
        dtype = int64 if all(isinstance(v, int) for v in (start, stop, step)) else D.get_default_dtype()
    if step == 0:
        raise ValueError("arange(): step must not be zero")
    n = math.ceil((stop - start) / step)
    if n <= 0:
        return pt.empty((0,), dtype=dtype, device=device)
    if dtype.category == D._INT and not all(isinstance(v, int) for v in (start, stop, step)):
        return pt.arange(start, stop, step, dtype=D.float64, device=device).to(dtype)
    out = pt.arange(start, stop, step, dtype=dtype, device=device)
    return out[:n] if out.shape[0] > n else out


def empty(shape, *, dtype=None, device=None) -> Tensor:
    return pt.empty(_shape("empty", shape), dtype=_dtype(dtype), device=device)


def zeros(shape, *, dtype=None, device=None) -> Tensor:
    return pt.zeros(_shape("zeros", shape), dtype=_dtype(dtype), device=device)


def ones(shape, *, dtype=None, device=None) -> Tensor:
    return pt.ones(_shape("ones", shape), dtype=_dtype(dtype), device=device)


def full(shape, fill_value, *, dtype=None, device=None) -> Tensor:
    """An array of ``shape`` filled with ``fill_value`` (its dtype inferred from the scalar)."""
    if isinstance(fill_value, Tensor):
        if fill_value.ndim:
            raise ValueError("full(): fill_value must be a scalar or a 0-d array")
        fill_value = fill_value.item()
    dt = _dtype(dtype) or scalar_dtype(fill_value)
    _check_int(fill_value, dt)
    return pt.full(_shape("full", shape), fill_value, dtype=dt, device=device)


def _like(fname, x, dtype, device):
    check_array(fname, x)
    return tuple(x.shape), _dtype(dtype) or x.dtype, x.device if device is None else device


def empty_like(x, /, *, dtype=None, device=None) -> Tensor:
    s, d, dev = _like("empty_like", x, dtype, device)
    return pt.empty(s, dtype=d, device=dev)


def zeros_like(x, /, *, dtype=None, device=None) -> Tensor:
    s, d, dev = _like("zeros_like", x, dtype, device)
    return pt.zeros(s, dtype=d, device=dev)


def ones_like(x, /, *, dtype=None, device=None) -> Tensor:
    s, d, dev = _like("ones_like", x, dtype, device)
    return pt.ones(s, dtype=d, device=dev)


def full_like(x, /, fill_value, *, dtype=None, device=None) -> Tensor:
    s, d, dev = _like("full_like", x, dtype, device)
    _check_int(fill_value, d)
    return pt.full(s, fill_value, dtype=d, device=dev)


def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None) -> Tensor:
    """Ones on the ``k``-th diagonal of an ``n_rows`` by ``n_cols`` array, zeros elsewhere."""
    n_cols = n_rows if n_cols is None else n_cols
    k = max(-n_rows, min(k, n_cols))   # a diagonal outside the array: all zeros (and k fits int64)
    r = pt.arange(n_rows, device=device).unsqueeze(1)
    c = pt.arange(n_cols, device=r.device).unsqueeze(0)
    return (r + k == c).to(_dtype(dtype) or D.get_default_dtype())


def linspace(start, stop, /, num, *, dtype=None, device=None, endpoint=True) -> Tensor:
    """``num`` evenly spaced values from ``start`` to ``stop`` (included unless ``endpoint=False``)."""
    is_complex = isinstance(start, complex) or isinstance(stop, complex)
    dt = _dtype(dtype) or (D.default_complex_dtype() if is_complex else D.get_default_dtype())
    if dt.is_complex:   # the real and the imaginary parts spaced alike
        start, stop = complex(start), complex(stop)
        parts = [linspace(a, b, num, dtype=dt.to_real(), device=device, endpoint=endpoint)
                 for a, b in ((start.real, stop.real), (start.imag, stop.imag))]
        return pt.complex(*parts)
    if not endpoint:
        if num == 0:
            return pt.empty((0,), dtype=dt, device=device)
        return pt.linspace(start, stop, num + 1, dtype=dt, device=device)[:num]
    return pt.linspace(start, stop, num, dtype=dt, device=device)


def meshgrid(*arrays, indexing="xy") -> list:
    """Coordinate arrays from 1-d arrays (``indexing='xy'``: Cartesian, ``'ij'``: matrix)."""
    for a in arrays:
        check_array("meshgrid", a, "arrays")
        if a.ndim != 1:
            raise ValueError(f"meshgrid(): every array must be 1-d, got shape {tuple(a.shape)}")
    if len({a.dtype for a in arrays}) > 1:
        raise ValueError("meshgrid(): all arrays must have the same dtype")
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid(): indexing must be 'xy' or 'ij', got {indexing!r}")
    return list(pt.meshgrid(*arrays, indexing=indexing)) if arrays else []


def tril(x, /, *, k=0) -> Tensor:
    check_array("tril", x)
    return pt.tril(x, k)


def triu(x, /, *, k=0) -> Tensor:
    check_array("triu", x)
    return pt.triu(x, k)


def from_dlpack(x, /, *, device=None, copy=None) -> Tensor:
    """An array from any DLPack producer (``plugtorch.from_dlpack``)."""
    return pt.from_dlpack(x, device=device, copy=copy)
