"""References of the reductions, scans and softmax: sums in float64 (int64 for integers, as PyTorch)."""
from __future__ import annotations

import math

import numpy as np

from .common import B, I64, U8, axes, cast, dtype_of, result


REFERENCES = {}


def _acc_dtype(d):
    return I64 if not d.is_floating_point else d


def _reduce(np_fn, result_dtype):
    def ref(input, dim=None, keepdim=False, *, dtype=None):
        d = dtype if dtype is not None else result_dtype(dtype_of(input))
        acc = np.float64 if d.is_floating_point else np.int64
        x = cast(input, d) if dtype is not None else input
        with np.errstate(all="ignore"):
            r = np_fn(x.astype(acc), axis=axes(dim, input.ndim), keepdims=bool(keepdim))
        return result(r, d)
    return ref


def _minmax(np_fn):
    def ref(input, dim=None, keepdim=False, *, dtype=None):
        d = dtype_of(input)
        ax = axes(dim, input.ndim)
        x = input.astype(np.float64) if d.is_floating_point else input
        if x.size == 0:
            return None
        return result(np_fn(x, axis=ax, keepdims=bool(keepdim)), d)
    return ref


def _all_any(np_fn):
    """uint8 in, uint8 out (PyTorch keeps it for backward compatibility); ``dim=[]`` reduces
    nothing here, unlike the other reductions."""
    def ref(input, dim=None, keepdim=False, *, dtype=None):
        d = U8 if dtype_of(input) is U8 else B
        axis = () if isinstance(dim, (list, tuple)) and not dim else axes(dim, input.ndim)
        return result(np_fn(input != 0, axis=axis, keepdims=bool(keepdim)), d)
    return ref


def _arg(np_fn):
    def ref(input, dim=None, keepdim=False):
        if dim is None and keepdim:
            return None
        x = input.astype(np.float64) if input.dtype.kind == "f" or str(input.dtype) == "bfloat16" else input
        if x.ndim == 0:
            return result(np.asarray(0), I64)
        if dim is None:
            return result(np_fn(x.reshape(-1)), I64) if x.size else None
        ax = int(dim) % x.ndim
        if x.shape[ax] == 0:
            return None
        r = np_fn(x, axis=ax)
        return result(np.expand_dims(r, ax) if keepdim else r, I64)
    return ref


def _mean(input, dim=None, keepdim=False, *, dtype=None):
    d = dtype or dtype_of(input)
    if not d.is_floating_point:
        return None
    with np.errstate(all="ignore"):
        return result(np.mean(input.astype(np.float64), axis=axes(dim, input.ndim), keepdims=bool(keepdim)), d)


def _count_nonzero(input, dim=None):
    return result(np.count_nonzero(input, axis=axes(dim, input.ndim)), I64)


def _scan(np_fn):
    def ref(input, dim, *, dtype=None):
        d = dtype if dtype is not None else _acc_dtype(dtype_of(input))
        x = cast(input, d) if dtype is not None else input
        acc = np.float64 if d.is_floating_point else np.int64
        if x.ndim == 0:
            return result(x, d)
        with np.errstate(all="ignore"):
            return result(np_fn(x.astype(acc), axis=int(dim) % x.ndim), d)
    return ref


def _var(sqrt, with_mean=False):
    def ref(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
        d = dtype_of(input)
        if not d.is_floating_point:
            return None
        ddof = correction if correction is not None else (0 if unbiased is False else 1)
        ax = axes(dim, input.ndim)
        x = input.astype(np.float64)
        with np.errstate(all="ignore"):
            n = x.size if ax is None else math.prod(x.shape[a] for a in (ax if isinstance(ax, tuple) else (ax,)))
            m = np.mean(x, axis=ax, keepdims=True) if n else np.full([1] * x.ndim, np.nan)
            ss = np.sum((x - m) ** 2, axis=ax, keepdims=bool(keepdim))
            v = ss / max(n - ddof, 0)
            r = np.sqrt(v) if sqrt else v
            out = result(r, d)
            if with_mean:
                out += result(np.mean(x, axis=ax, keepdims=bool(keepdim)) if n else np.full(np.shape(r), np.nan), d)
        return out
    return ref


def _logsumexp(input, dim, keepdim=False):
    d = dtype_of(input)
    if not d.is_floating_point:
        return None
    x = input.astype(np.float64)
    ax = axes(dim, x.ndim)
    with np.errstate(all="ignore"):
        if x.ndim == 0:
            return result(x, d)
        m = np.max(x, axis=ax, keepdims=True) if x.size else np.zeros([1] * x.ndim)
        m = np.where(np.isfinite(m), m, 0.0)
        r = np.log(np.sum(np.exp(x - m), axis=ax, keepdims=True)) + m
        if not keepdim:
            r = np.squeeze(r, axis=ax)
    return result(r, d)


def _softmax(log):
    def ref(input, dim, dtype=None):
        d = dtype or dtype_of(input)
        if not d.is_floating_point:
            return None
        x = input.astype(np.float64)
        if x.ndim == 0:
            return result(np.zeros(()) if log else np.ones(()), d)
        ax = int(dim) % x.ndim
        with np.errstate(all="ignore"):
            m = np.max(x, axis=ax, keepdims=True) if x.size else 0.0
            e = x - m
            s = np.sum(np.exp(e), axis=ax, keepdims=True)
            r = e - np.log(s) if log else np.exp(e) / s
        return result(r, d)
    return ref


REFERENCES.update({
    "sum": _reduce(np.sum, _acc_dtype), "prod": _reduce(np.prod, _acc_dtype),
    "amax": _minmax(np.max), "amin": _minmax(np.min), "all": _all_any(np.all), "any": _all_any(np.any),
    "argmax": _arg(np.argmax), "argmin": _arg(np.argmin), "mean": _mean, "count_nonzero": _count_nonzero,
    "cumsum": _scan(np.cumsum), "cumprod": _scan(np.cumprod), "var": _var(False), "std": _var(True),
    "var_mean": _var(False, True), "std_mean": _var(True, True), "logsumexp": _logsumexp,
    "softmax": _softmax(False), "log_softmax": _softmax(True),
})
