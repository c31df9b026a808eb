"""What the references share: PyTorch's type promotion written out, and casts PyTorch's way.

>>> promote_types(plugtorch.int8, plugtorch.uint8)
plugtorch.int16
"""
from __future__ import annotations

import math

import numpy as np

import plugtorch as pt
from plugtorch import _dtypes
from plugtorch.conformance.entry import Input

B, U8, I8, I16, I32, I64 = pt.bool, pt.uint8, pt.int8, pt.int16, pt.int32, pt.int64
F16, BF16, F32, F64 = pt.float16, pt.bfloat16, pt.float32, pt.float64
HALF = (F16, BF16)


# ---- PyTorch's promotion, written out ---------------------------------------------------------
def _category(d) -> int:
    return 0 if d is B else 2 if d.is_floating_point else 1


def promote_types(a, b):
    """PyTorch's lattice: uint8 with a signed int needs the next wider signed int; float16
    with bfloat16 meets in float32; otherwise the higher category, then the wider type."""
    if a is None or a is b:
        return b
    if b is None:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb:
        return a if ca > cb else b
    if ca == 1 and U8 in (a, b):
        other = b if a is U8 else a
        return I16 if other is I8 else other
    if ca == 2 and {a, b} == {F16, BF16}:
        return F32
    return a if a.itemsize >= b.itemsize else b


def _combine(higher, lower):
    """c10's combine_categories: a lower-priority group only raises the category."""
    if higher is not None and higher.is_floating_point:
        return higher
    if higher is B or (lower is not None and lower.is_floating_point):
        return promote_types(higher, lower)
    return higher if higher is not None else lower


def promoted_dtype(operands):
    """The result dtype of a pointwise op on ``operands`` (Inputs and Python numbers)."""
    dim_t = zero_t = wrapped = None
    for o in operands:
        if isinstance(o, Input):
            if len(o.shape):
                dim_t = promote_types(dim_t, o.dtype)
            else:
                zero_t = promote_types(zero_t, o.dtype)
        elif isinstance(o, bool):
            wrapped = promote_types(wrapped, B)
        elif isinstance(o, int):
            wrapped = promote_types(wrapped, I64)
        elif isinstance(o, float):
            wrapped = promote_types(wrapped, _dtypes.get_default_dtype())
    return _combine(dim_t, _combine(zero_t, wrapped))


# ---- helpers ----------------------------------------------------------------------------------
def np_type(d):
    return d.numpy


def opmath(d):
    return np.float32 if d in HALF else np_type(d)


def dtype_of(a):
    return _dtypes.from_numpy_dtype(a.dtype)


def cast(v, d):
    """``v`` (array or Python number) in dtype ``d`` the way PyTorch casts: integers wrap."""
    with np.errstate(all="ignore"):
        if isinstance(v, np.ndarray):
            if d is B:
                return v != 0 if v.dtype != bool else v
            if not d.is_floating_point and v.dtype.kind == "f":
                return v.astype(np.float64).astype(np.int64).astype(np_type(d))
            return v.astype(np_type(d))
        if d is B:
            return np.asarray(bool(v))
        if d.is_floating_point:
            return np.asarray(v, dtype=np.float64).astype(np_type(d))
        if isinstance(v, float):
            v = int(v) if math.isfinite(v) else 0
        return np.asarray(int(v)).astype(np.int64).astype(np_type(d))


def result(a, d):
    with np.errstate(all="ignore"):
        return [(np.asarray(cast(np.asarray(a), d)), d)]


def float_result(d):
    return d if d.is_floating_point else _dtypes.get_default_dtype()


def axes(dim, ndim):
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        return None
    if isinstance(dim, (list, tuple)):
        return tuple(int(d) % max(ndim, 1) for d in dim) if ndim else None
    return int(dim) % max(ndim, 1) if ndim else None


def as_operand(v):
    """Host values back into something ``promoted_dtype`` reads (arrays carry their shape)."""
    if isinstance(v, np.ndarray):
        return Input(v) if v.ndim else Input(v.reshape(()), shape=())
    return v


def operand_in(v, d):
    a = cast(v, d)
    return a.astype(opmath(d)) if d.is_floating_point else a
