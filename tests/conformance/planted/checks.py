"""Bugs the runner's own checks catch: kernel results checked themselves (array type, dtype,
0-d arrays, layout), NaN positions, signed zeros, and backward kernels (the failure names the
kernels that ran)."""
from __future__ import annotations

import numpy as np

from . import Bug

KERNEL_RESULT = "kernel result"


# ---- kernel results -----------------------------------------------------------------------
def _eq_in_operand_dtype(cpu):
    def eq(a, b, dtype):   # a C kernel writing 1.0/0.0 into an output buffer of the operands' dtype
        return cpu(a, b, dtype).astype(np.result_type(a, b))
    return eq


def _sum_to_scalar(cpu):
    def sum_(x, dims, keepdim, dtype):   # x.sum() without keepdims gives a NumPy scalar, not a 0-d array
        r = cpu(x, dims, keepdim, dtype)
        return r[()] if r.ndim == 0 else r
    return sum_


def _amax_to_float(cpu):
    def amax(x, dims, keepdim, dtype):   # the whole-tensor max read back as a Python number
        r = cpu(x, dims, keepdim, dtype)
        return r.item() if r.ndim == 0 else r
    return amax


def _sigmoid_in_float64(cpu):
    def sigmoid(x, dtype):   # computed in double for accuracy, never cast back
        return np.asarray(1.0 / (1.0 + np.exp(-x.astype(np.float64))))
    return sigmoid


def _cumsum_as_list(cpu):
    def cumsum(x, dim, dtype):   # a pure-Python scan handing back its list
        return cpu(x, dim, dtype).tolist()
    return cumsum


def _sort_int32_indices(cpu):
    def sort(x, dim, descending):   # indices written as C ints
        values, indices = cpu(x, dim, descending)
        return values, indices.astype(np.int32)
    return sort


def _permute_element_strides(cpu):
    def permute(x, dims):   # strides in elements (the docs' storage model) given to as_strided, which wants bytes
        st = [s // x.itemsize for s in x.strides]
        return np.lib.stride_tricks.as_strided(x, shape=[x.shape[d] for d in dims], strides=[st[d] for d in dims])
    return permute


def _expand_with_contiguous_strides(cpu):
    def expand(x, shape):   # strides of a fresh array of the new shape, on the old (smaller) buffer
        st, acc = [], x.itemsize
        for n in reversed(shape):
            st.append(acc)
            acc *= max(n, 1)
        return np.lib.stride_tricks.as_strided(x, tuple(shape), tuple(reversed(st)), writeable=False)
    return expand


# ---- NaN positions ------------------------------------------------------------------------
def _first_infinity_wins(x, axis):
    """Each position's first infinity along ``axis`` (0 where there is none) and where one was seen."""
    inf = np.where(np.isinf(x), x, 0).astype(np.float64)
    seen = np.cumsum(inf != 0, axis=axis) > 0
    first = np.where(np.cumsum(np.cumsum(inf != 0, axis=axis) > 0, axis=axis) == 1, inf, 0)
    return np.cumsum(first, axis=axis), seen


def _sum_stopping_at_infinity(cpu):
    def sum_(x, dims, keepdim, dtype):   # `if (isinf(acc)) break;`: inf + -inf is NaN, not inf
        r = cpu(x, dims, keepdim, dtype)
        if x.dtype.kind != "f" or x.ndim != 2 or dims not in ((1,), (-1,), 1, -1) or x.size == 0:
            return r
        first, seen = _first_infinity_wins(x, 1)
        stopped = seen[:, -1] & ~np.isnan(x).any(axis=1)
        out = np.where(stopped, first[:, -1], r.reshape(-1).astype(np.float64)).astype(r.dtype)
        return out.reshape(r.shape)
    return sum_


def _cumsum_stopping_at_infinity(cpu):
    def cumsum(x, dim, dtype):   # once the running sum is infinite it is copied along: inf + -inf gives inf
        r = cpu(x, dim, dtype)
        if x.dtype.kind != "f" or x.size == 0 or x.ndim == 0:
            return r
        first, seen = _first_infinity_wins(x, dim)
        nan_before = np.cumsum(np.isnan(x), axis=dim) > 0
        return np.asarray(np.where(seen & ~nan_before, first, r)).astype(r.dtype)
    return cumsum


# ---- signed zeros -------------------------------------------------------------------------
def _round_half_up(cpu):
    def round_(x, dtype):   # floor(x + 0.5): round(-0.3) is +0.0, not -0.0 (and 2.5 rounds up)
        if x.dtype.kind != "f":
            return cpu(x, dtype)
        return np.asarray(np.floor(x + x.dtype.type(0.5))).astype(x.dtype)
    return round_


def _trunc_by_fmod(cpu):
    def trunc(x, dtype):   # x - fmod(x, 1) for finite x: trunc(-0.3) is +0.0, not -0.0
        if x.dtype.kind != "f":
            return cpu(x, dtype)
        return np.asarray(np.where(np.isfinite(x), x - np.fmod(x, x.dtype.type(1)), x)).astype(x.dtype)
    return trunc


def _ceil_from_floor(cpu):
    def ceil(x, dtype):   # floor(x) + (x > floor(x)): ceil(-0.3) = -1 + 1 is +0.0, not -0.0
        if x.dtype.kind != "f":
            return cpu(x, dtype)
        f = np.floor(x)
        return np.asarray(f + (x > f).astype(x.dtype)).astype(x.dtype)
    return ceil


# ---- backward kernels ---------------------------------------------------------------------
def _linear_backward_unscaled_bias(cpu):
    def linear_backward(g, x, w, mask, dtype):   # the bias gradient summed over one row only
        gi, gw, gb = cpu(g, x, w, mask, dtype)
        if gb is not None and g.ndim > 1:
            gb = np.asarray(g.reshape(-1, g.shape[-1])[0]).astype(gb.dtype)
        return gi, gw, gb
    return linear_backward


def _cross_entropy_backward_without_weights(cpu):
    def cross_entropy_backward(g, x, t, w, ignore_index, reduction, ls):   # the class weights forgotten
        return cpu(g, x, t, None, ignore_index, reduction, ls)
    return cross_entropy_backward


def _wrong_result(name, op, make, dtype="float32"):
    """A kernel returning the wrong thing: the suite must say "kernel result"."""
    return Bug(name, "kernel result", op, {op: make}, dtypes=(dtype,), check=KERNEL_RESULT)


BUGS = [
    _wrong_result("eq returns 1.0/0.0 in the operands' dtype", "eq", _eq_in_operand_dtype),
    _wrong_result("sum of every element returns a NumPy scalar", "sum", _sum_to_scalar),
    _wrong_result("amax of every element returns a Python float", "amax", _amax_to_float),
    _wrong_result("sigmoid returns float64 for float32", "sigmoid", _sigmoid_in_float64),
    _wrong_result("cumsum returns a Python list", "cumsum", _cumsum_as_list, dtype="int64"),
    _wrong_result("sort returns int32 indices", "sort", _sort_int32_indices),
    _wrong_result("permute gives as_strided element strides", "permute", _permute_element_strides),
    _wrong_result("expand uses contiguous strides on the unexpanded buffer", "expand", _expand_with_contiguous_strides),
    Bug("sum stops at the first infinity", "nan position", "sum", {"sum": _sum_stopping_at_infinity},
        dtypes=("float32",)),
    Bug("cumsum stops at the first infinity", "nan position", "cumsum", {"cumsum": _cumsum_stopping_at_infinity},
        dtypes=("float32",)),
    Bug("round as floor(x + 0.5) loses -0.0", "signed zero", "round", {"round": _round_half_up}, dtypes=("float32",)),
    Bug("trunc as x - fmod(x, 1) loses -0.0", "signed zero", "trunc", {"trunc": _trunc_by_fmod}, dtypes=("float32",)),
    Bug("ceil from floor loses -0.0", "signed zero", "ceil", {"ceil": _ceil_from_floor}, dtypes=("float32",)),
    Bug("_linear_backward sums the bias gradient over one row", "gradient", "linear",
        {"_linear_backward": _linear_backward_unscaled_bias}, dtypes=("float32",), check="gradient"),
    Bug("_cross_entropy_backward ignores the class weights", "gradient", "cross_entropy",
        {"_cross_entropy_backward": _cross_entropy_backward_without_weights}, dtypes=("float32",), check="gradient"),
]
