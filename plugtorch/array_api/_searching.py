"""Searching, sorting and set functions: ``argmax``, ``nonzero``, ``searchsorted``, ``where``,
``sort``/``argsort`` (stable by default), ``unique_all``/``counts``/``inverse``/``values``.

nan sorts after every number, as in NumPy, and each nan is a distinct value for the
``unique_*`` functions (the standard's rule: nan != nan).

>>> import plugtorch.array_api as xp
>>> xp.unique_counts(xp.asarray([3, 1, 3])).counts.tolist()
[1, 2]
"""
from __future__ import annotations

from typing import NamedTuple

import plugtorch as pt
from plugtorch import _dtypes as D
from plugtorch._tensor import Tensor
from plugtorch.array_api._dtypes import check_array, check_category, operands
from plugtorch.array_api._statistical import normalize_axis
from plugtorch.dispatch import meta as M

__all__ = ["argmax", "argmin", "argsort", "count_nonzero", "nonzero", "searchsorted", "sort", "unique_all",
           "unique_counts", "unique_inverse", "unique_values", "where"]


def _arg(fname, op, x, axis, keepdims):
    check_array(fname, x)
    check_category(fname, x, "real numeric")
    if x.numel() == 0:
        raise ValueError(f"{fname}(): an empty array has no {fname[3:]}imum")
    if axis is None:
        out = op(x.reshape(-1), dim=0)
        return out.reshape((1,) * x.ndim) if keepdims else out
    if x.ndim == 0:
        normalize_axis(fname, axis, 0)
    return op(x, dim=M.wrap_dim(fname, axis, x.ndim), keepdim=keepdims)


def argmax(x: Tensor, /, *, axis=None, keepdims: bool = False) -> Tensor:
    """The index of the first largest value (of the flattened array when ``axis`` is None)."""
    return _arg("argmax", pt.argmax, x, axis, keepdims)


def argmin(x: Tensor, /, *, axis=None, keepdims: bool = False) -> Tensor:
    """The index of the first smallest value (of the flattened array when ``axis`` is None)."""
    return _arg("argmin", pt.argmin, x, axis, keepdims)


def count_nonzero(x: Tensor, /, *, axis=None, keepdims: bool = False) -> Tensor:
    check_array("count_nonzero", x)
    axes = normalize_axis("count_nonzero", axis, x.ndim)
    if not axes:
        return (x != 0).to(D.int64)
    out = pt.count_nonzero(x, dim=axes)
    if keepdims:
        out = out.reshape(tuple(1 if i in axes else n for i, n in enumerate(x.shape)))
    return out


def nonzero(x: Tensor, /) -> tuple:
    """One int64 array of indices per dimension, of the non-zero elements (row-major order)."""
    check_array("nonzero", x)
    if x.ndim == 0:
        raise ValueError("nonzero(): a 0-d array has no indices; use x[None] or expand_dims first")
    return tuple(pt.nonzero(x, as_tuple=True))


def _less(a, b, right):
    """``a < b`` (``a <= b`` when ``right``) with nan after every number, as the sort puts it."""
    if not (a.dtype.is_floating_point or b.dtype.is_floating_point):
        return a <= b if right else a < b
    if right:
        return (a <= b) | pt.isnan(b)
    return (a < b) | (pt.isnan(b) & ~pt.isnan(a))


def searchsorted(x1: Tensor, x2, /, *, side: str = "left", sorter=None) -> Tensor:
    """Where each value of ``x2`` would go in the sorted 1-d ``x1`` to keep it sorted."""
    check_array("searchsorted", x1, "x1")
    if x1.ndim != 1:
        raise ValueError(f"searchsorted(): x1 must be 1-d, got shape {tuple(x1.shape)}")
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted(): side must be 'left' or 'right', got {side!r}")
    check_category("searchsorted", x1, "real numeric")
    x1, x2, _ = operands("searchsorted", x1, x2, "real numeric")
    if not isinstance(x2, Tensor):
        x2 = pt.full((), x2, dtype=x1.dtype, device=x1.device)
    if sorter is not None:
        x1 = x1[sorter.to(D.int64)]
    return _less(x1, x2.unsqueeze(-1), side == "right").sum(-1)


def where(condition: Tensor, x1, x2, /) -> Tensor:
    """``x1`` where ``condition`` is true, ``x2`` elsewhere (broadcast; Python scalars allowed)."""
    check_array("where", condition, "condition")
    if condition.dtype is not D.bool:
        raise TypeError(f"where(): condition must be a bool array, got {condition.dtype.name}")
    x1, x2, dt = operands("where", x1, x2)
    if not isinstance(x1, Tensor):
        x1 = pt.full((), x1, dtype=dt, device=condition.device)
    if not isinstance(x2, Tensor):
        x2 = pt.full((), x2, dtype=dt, device=condition.device)
    return pt.where(condition, x1, x2)


# ---- sorting ----------------------------------------------------------------------------------
def _sort_args(fname, x, axis):
    check_array(fname, x)
    check_category(fname, x, "real numeric")
    if x.ndim == 0:
        normalize_axis(fname, axis, 0)
    return M.wrap_dim(fname, axis, x.ndim)


def argsort(x: Tensor, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Tensor:
    """The indices that sort ``x`` along ``axis`` (equal values keep their order when stable)."""
    d = _sort_args("argsort", x, axis)
    if descending:   # stable descending: sort the reversed array ascending, then map indices back
        n = x.shape[d]
        idx = pt.argsort(pt.flip(x, (d,)), dim=d, stable=True)
        return pt.flip(n - 1 - idx, (d,))
    return pt.argsort(x, dim=d, stable=True)


def sort(x: Tensor, /, *, axis: int = -1, descending: bool = False, stable: bool = True) -> Tensor:
    """``x`` sorted along ``axis`` (nan last, or first when descending)."""
    d = _sort_args("sort", x, axis)
    return pt.sort(x, dim=d, descending=descending, stable=True).values


# ---- sets -------------------------------------------------------------------------------------
class UniqueAllResult(NamedTuple):
    values: Tensor
    indices: Tensor
    inverse_indices: Tensor
    counts: Tensor


class UniqueCountsResult(NamedTuple):
    values: Tensor
    counts: Tensor


class UniqueInverseResult(NamedTuple):
    values: Tensor
    inverse_indices: Tensor


def _unique(x):
    """``(values, first, inverse, counts)``: distinct values in sorted order, the index of each
    one's first occurrence, the group of every element (x's shape), and the group sizes."""
    check_array("unique", x)
    flat = x.reshape(-1)
    n = flat.shape[0]
    order = pt.argsort(flat, stable=True)
    v = flat[order]
    starts = pt.ones(n, dtype=D.bool, device=x.device)
    if n > 1:
        starts[1:] = v[1:] != v[:-1]          # nan != nan: every nan starts its own group
    begin = pt.nonzero(starts).reshape(-1)
    end = pt.cat([begin[1:], pt.full((1,), n, dtype=D.int64, device=x.device)])
    inverse = pt.empty(n, dtype=D.int64, device=x.device)
    if n:
        inverse[order] = pt.cumsum(starts, 0) - 1
    return v[begin], order[begin], inverse.reshape(tuple(x.shape)), end - begin


def unique_all(x: Tensor, /) -> UniqueAllResult:
    """The distinct values, the index of each one's first occurrence, each element's position
    among the values (x's shape), and how often each occurs."""
    return UniqueAllResult(*_unique(x))


def unique_counts(x: Tensor, /) -> UniqueCountsResult:
    values, _, _, counts = _unique(x)
    return UniqueCountsResult(values, counts)


def unique_inverse(x: Tensor, /) -> UniqueInverseResult:
    values, _, inverse, _ = _unique(x)
    return UniqueInverseResult(values, inverse)


def unique_values(x: Tensor, /) -> Tensor:
    return _unique(x)[0]
