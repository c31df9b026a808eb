"""Bugs in sorting (ties) and in numerically hard reductions: each is a kernel a backend author
could write, that the drawn samples miss and the always-present rows of conformance/opdb/hard.py
catch."""
from __future__ import annotations

import numpy as np

from plugtorch import _dtypes

from . import Bug

_BF16 = _dtypes.bfloat16.numpy


def _keys(x):
    return x.astype(np.float32) if x.dtype == _BF16 else x


def _heapsort(cpu):
    """A sort that is not stable (heapsort), whatever ``stable`` says."""
    def sort(x, dim, descending):
        if x.ndim == 0:
            return cpu(x, dim, descending)
        k = _keys(x)
        idx = np.argsort(-k if descending and k.dtype.kind == "f" else k, axis=dim, kind="heapsort")
        if descending and k.dtype.kind != "f":
            idx = np.flip(idx, dim)
        idx = idx.astype(np.int64)
        return np.take_along_axis(x, idx, axis=dim), idx
    return sort


def _descending_by_reversing(cpu):
    """Descending as the ascending stable sort reversed: equal values come out in reverse order."""
    def sort(x, dim, descending):
        v, i = cpu(x, dim, False)
        if descending and x.ndim:
            v, i = np.flip(v, dim).copy(), np.flip(i, dim).copy()
        return v, i
    return sort


def _descending_by_negating(cpu):
    """Descending as the ascending stable sort of -x: ties keep their order, but nan, which sorts
    as the largest value, comes last instead of first."""
    def sort(x, dim, descending):
        if not descending or x.ndim == 0:
            return cpu(x, dim, descending)
        idx = np.argsort(-_keys(x).astype(np.float64), axis=dim, kind="stable").astype(np.int64)
        return np.take_along_axis(x, idx, axis=dim), idx
    return sort


def _indices_by_search(cpu):
    """Sorted values right, but each index found by searching the row for its value: equal values
    all get the index of the first of them."""
    def sort(x, dim, descending):
        v, i = cpu(x, dim, descending)
        if x.ndim == 0 or x.size == 0:
            return v, i
        xs, vs = np.moveaxis(_keys(x), dim, -1), np.moveaxis(_keys(v), dim, -1)
        hit = (vs[..., :, None] == xs[..., None, :]) | (np.isnan(vs[..., :, None]) & np.isnan(xs[..., None, :])) \
            if xs.dtype.kind == "f" else vs[..., :, None] == xs[..., None, :]
        return v, np.moveaxis(np.argmax(hit, axis=-1), -1, dim).astype(np.int64)
    return sort


def _mode_largest(cpu):
    """mode picking the largest of equally frequent values (its scan over the sorted runs keeps a
    run as long as the best with >=, where > keeps the first)."""
    def mode(x, dim, keepdim):
        if dim is None:
            return cpu(x, dim, keepdim)
        xm = np.moveaxis(_keys(x), dim, -1)
        rows = xm.reshape(-1, xm.shape[-1])
        vals, idx = np.empty(len(rows), dtype=x.dtype), np.empty(len(rows), dtype=np.int64)
        for r, row in enumerate(rows):
            u, c = np.unique(row, return_counts=True)
            j = len(c) - 1 - int(np.argmax(c[::-1]))        # the last of the most frequent
            vals[r], idx[r] = u[j], np.nonzero(row == u[j])[0][-1]
        shape = xm.shape[:-1]
        vals, idx = vals.reshape(shape), idx.reshape(shape)
        if keepdim:
            vals, idx = np.expand_dims(vals, dim), np.expand_dims(idx, dim)
        return vals, idx
    return mode


def _log_of_softmax(cpu):
    """log_softmax as log(softmax(x)): the max is subtracted, but a probability that underflows to
    0 gives -inf where the answer is a finite, very negative number."""
    def log_softmax(x, dim, dtype):
        d = dtype.numpy
        s = x.astype(np.float32 if d in (np.float16, _BF16) else d)
        if s.size == 0:
            return s.astype(d)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
            e = np.exp(s - s.max(axis=dim, keepdims=True))
            return np.asarray(np.log(e / e.sum(axis=dim, keepdims=True)).astype(d))
    return log_softmax


def _cross_entropy_no_max(cpu):
    """cross_entropy's common case (2-d logits, class indices, mean) as mean(log(sum(exp(x))) -
    x[target]), without subtracting each row's max: exp overflows for large logits."""
    def cross_entropy(x, t, w, ignore_index, reduction, ls, dtype):
        if x.ndim != 2 or w is not None or ls or reduction != "mean" or t.dtype.kind not in "iu" or not t.size:
            return cpu(x, t, w, ignore_index, reduction, ls, dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            lse = np.log(np.exp(x).sum(axis=1))
            return np.asarray((lse - x[np.arange(len(t)), t]).mean(), dtype=x.dtype)
    return cross_entropy


def _native(x, dim):
    """cumsum element by element in the input's own precision."""
    with np.errstate(over="ignore", invalid="ignore"):
        if x.ndim == 0:
            return x.copy()
        xm = np.moveaxis(x, dim, -1)
        out = np.empty_like(xm)
        acc = np.zeros(xm.shape[:-1], dtype=x.dtype)
        for j in range(xm.shape[-1]):
            acc = (acc + xm[..., j]).astype(x.dtype)
            out[..., j] = acc
        return np.moveaxis(out, -1, dim)


def _cumsum_in_half(cpu):
    """cumsum of float16/bfloat16 with a float16/bfloat16 running total."""
    def cumsum(x, dim, dtype):
        if dtype.numpy in (np.float16, _BF16) and x.dtype == dtype.numpy:
            return _native(x, dim)
        return cpu(x, dim, dtype)
    return cumsum


def _sum_in_half(cpu):
    """sum of float16/bfloat16 accumulated in float16/bfloat16 (a C kernel with a half accumulator;
    NumPy's own float16 sums accumulate in float32, so the loop is spelled out)."""
    def sum_(x, dims, keepdim, dtype):
        if dtype.numpy not in (np.float16, _BF16) or x.dtype != dtype.numpy or not x.size or not dims:
            return cpu(x, dims, keepdim, dtype)
        rest = [d for d in range(x.ndim) if d not in dims]
        xm = np.transpose(x, rest + list(dims)).reshape([x.shape[d] for d in rest] + [-1])
        acc = np.zeros(xm.shape[:-1], dtype=x.dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            for j in range(xm.shape[-1]):
                acc = (acc + xm[..., j]).astype(x.dtype)
        if keepdim:
            acc = acc.reshape([1 if d in dims else x.shape[d] for d in range(x.ndim)])
        return np.asarray(acc, dtype=x.dtype)
    return sum_


def _cumprod_in_half(cpu):
    """cumprod of float16/bfloat16 with a float16/bfloat16 running product."""
    def cumprod(x, dim, dtype):
        if dtype.numpy in (np.float16, _BF16) and x.dtype == dtype.numpy and x.ndim:
            with np.errstate(over="ignore", invalid="ignore"):
                return np.multiply.accumulate(x, axis=dim, dtype=x.dtype)
        return cpu(x, dim, dtype)
    return cumprod


def _amax_from_lowest(cpu):
    """amax starting from the dtype's lowest finite value instead of -inf: a row of -inf gives
    -FLT_MAX (and softmax/log_softmax/logsumexp, built on amax, go wrong with it)."""
    def amax(x, dims, keepdim, dtype):
        r = cpu(x, dims, keepdim, dtype)
        if r.dtype.kind == "f" or r.dtype == _BF16:
            lowest = np.finfo(np.float32 if r.dtype == _BF16 else r.dtype).min
            with np.errstate(over="ignore"):
                r = np.where(np.isneginf(r.astype(np.float32)), np.float32(lowest), r).astype(r.dtype)
        return r
    return amax


BUGS = [
    Bug("sort is a heapsort (unstable)", "ties", "sort", {"sort": _heapsort}),
    Bug("sort descending sorts the negated keys (nan lands last)", "ties", "sort", {"sort": _descending_by_negating}),
    Bug("argsort descending reverses the ascending stable sort", "ties", "argsort", {"sort": _descending_by_reversing}),
    # (a backend without its own topk kernel: topk decomposes to the sort that has the bug)
    Bug("topk indices found by searching the row (ties share one index)", "ties", "topk", {"sort": _indices_by_search},
        drop=("topk",)),
    Bug("mode picks the largest of equally frequent values", "ties", "mode", {"mode": _mode_largest}),
    Bug("log_softmax as log(softmax(x))", "hard numerics", "log_softmax", {"log_softmax": _log_of_softmax}),
    Bug("cross_entropy's logsumexp without the max", "hard numerics", "cross_entropy",
        {"cross_entropy": _cross_entropy_no_max}),
    Bug("cumsum accumulates float16 in float16", "hard numerics", "cumsum", {"cumsum": _cumsum_in_half},
        dtypes=("float16",)),
    Bug("cumprod accumulates float16 in float16", "hard numerics", "cumprod", {"cumprod": _cumprod_in_half},
        dtypes=("float16",)),
    Bug("sum accumulates float16 in float16", "hard numerics", "sum", {"sum": _sum_in_half}, dtypes=("float16",)),
    Bug("amax starts from the lowest finite value, not -inf", "hard numerics", "amax", {"amax": _amax_from_lowest}),
]
