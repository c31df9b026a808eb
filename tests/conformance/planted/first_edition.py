"""Bugs the first edition of the suite already caught: wrong values, shapes, layouts, views,
mutated inputs, error types and gradients."""
from __future__ import annotations

import numpy as np

from . import Bug


def _scaled(cpu, factor=1 + 1e-3):
    def k(*args):
        r = cpu(*args)
        return np.asarray(r * factor).astype(r.dtype) if r.dtype.kind == "f" else r
    return k


def _permute_assuming_contiguous(cpu):
    def permute(x, dims):
        st = [x.itemsize * int(np.prod(x.shape[i + 1:])) for i in range(x.ndim)]
        return np.lib.stride_tricks.as_strided(x, shape=[x.shape[d] for d in dims], strides=[st[d] for d in dims])
    return permute


def _nanmax(cpu):
    def amax(x, dims, keepdim, dtype):
        if x.dtype.kind == "f" and x.size:
            return np.asarray(np.nanmax(x, axis=dims, keepdims=keepdim)).astype(dtype.numpy)
        return cpu(x, dims, keepdim, dtype)
    return amax


def _neg_in_place(cpu):
    def neg(x, dtype):
        np.negative(x, out=x)
        return x
    return neg


def _off_by_one_cumsum(cpu):
    def cumsum(x, dim, dtype):
        r = cpu(x, dim, dtype)
        if r.size == 0 or r.ndim == 0:
            return r
        out = np.array(r, copy=True)
        idx = [slice(None)] * r.ndim
        idx[dim] = slice(1, None)
        src = [slice(None)] * r.ndim
        src[dim] = slice(None, -1)
        out[tuple(idx)] = r[tuple(src)]      # shifted by one: an exclusive scan
        return out
    return cumsum


def _threshold_backward_wrong_side(cpu):
    def tb(grad, x, threshold, dtype):
        r = cpu(grad, x, threshold, dtype)
        return np.where(x == threshold, grad, r).astype(r.dtype)   # passes the gradient at the kink
    return tb


BUGS = [
    Bug("add off by 1e-3 relative", "values", "add", {"add": _scaled}, check="forward"),
    Bug("exp off by 1e-5 relative", "values", "exp", {"exp": lambda cpu: _scaled(cpu, 1 + 1e-5)}, check="forward"),
    Bug("sum ignores keepdim", "shape", "sum",
        {"sum": lambda cpu: lambda x, dims, keepdim, dtype: cpu(x, dims, False, dtype)}, check="shape"),
    Bug("permute assumes contiguous input", "layout", "permute", {"permute": _permute_assuming_contiguous}),
    Bug("permute copies", "views", "permute",
        {"permute": lambda cpu: lambda x, dims: np.transpose(x, dims).copy()}, check="view"),
    Bug("amax drops nan", "nan position", "amax", {"amax": _nanmax}),
    Bug("neg writes into its input", "input mutation", "neg", {"neg": _neg_in_place}, check="input modified"),
    Bug("cumsum is exclusive", "values", "cumsum", {"cumsum": _off_by_one_cumsum}),
    Bug("threshold_backward passes the gradient at the threshold", "gradient", "relu",
        {"threshold_backward": _threshold_backward_wrong_side}, check="gradient"),
]
