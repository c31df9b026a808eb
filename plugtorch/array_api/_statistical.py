"""Reductions and scans with the standard's names and rules: ``axis=`` (an int, a tuple or
None; ``()`` reduces nothing), ``keepdims=``, and result dtypes (``sum``/``prod`` of integers
in int64, of floats in their own dtype; ``mean``/``std``/``var`` of floating arrays only).
Also ``all``, ``any`` and ``diff`` (the standard's utility functions).

>>> import plugtorch.array_api as xp
>>> xp.sum(xp.ones((2, 3)), axis=(0, 1), keepdims=True).shape
plugtorch.Size([1, 1])
"""
from __future__ import annotations

import builtins
import math

import plugtorch as pt
from plugtorch import _dtypes as D
from plugtorch._tensor import Tensor
from plugtorch.array_api._dtypes import check_array, check_category
from plugtorch.dispatch import meta as M

__all__ = ["all", "any", "cumulative_prod", "cumulative_sum", "diff", "max", "mean", "min", "prod", "std",
           "sum", "var"]


def normalize_axis(fname, axis, ndim):
    """``axis`` as a sorted tuple of non-negative dims (all of them for None); IndexError out
    of range, ValueError for a repeated dim."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, int) or isinstance(a, bool):
            raise TypeError(f"{fname}(): axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            raise IndexError(f"{fname}(): axis {a} is out of range for an array of {ndim} dimensions")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{fname}(): axis {axis!r} names a dimension more than once")
    return tuple(sorted(out))


def _keep(out, x, axes, keepdims):
    if keepdims:
        return out.reshape(tuple(1 if i in axes else n for i, n in enumerate(x.shape)))
    return out


def _accumulation_dtype(x, dtype):
    if dtype is not None:
        return D.to_dtype(dtype)
    if x.dtype.category == D._INT:
        return D.int64        # the default integer (and for uint8 too: plugtorch has no uint64)
    return x.dtype


def _sum_prod(fname, op, x, axis, dtype, keepdims):
    check_array(fname, x)
    check_category(fname, x, "numeric")
    dt = _accumulation_dtype(x, dtype)
    axes = normalize_axis(fname, axis, x.ndim)
    if not axes:
        return x.to(dt).clone() if x.dtype is dt else x.to(dt)
    out = op(x, dim=axes, dtype=dt) if op is pt.sum else _prod_axes(x, axes, dt)
    return _keep(out, x, axes, keepdims)


def _prod_axes(x, axes, dt):
    # prod reduces one dim at a time in plugtorch: move the axes last and flatten them
    rest = [i for i in range(x.ndim) if i not in axes]
    y = x.permute(rest + list(axes)).reshape(tuple(x.shape[i] for i in rest) + (-1,))
    return pt.prod(y, dim=-1, dtype=dt)


def sum(x: Tensor, /, *, axis=None, dtype=None, keepdims: bool = False) -> Tensor:
    """The sum over ``axis`` (integers accumulate in int64, floats in their own dtype)."""
    return _sum_prod("sum", pt.sum, x, axis, dtype, keepdims)


def prod(x: Tensor, /, *, axis=None, dtype=None, keepdims: bool = False) -> Tensor:
    """The product over ``axis`` (integers accumulate in int64, floats in their own dtype)."""
    return _sum_prod("prod", pt.prod, x, axis, dtype, keepdims)


def _extreme(fname, op, x, axis, keepdims):
    check_array(fname, x)
    check_category(fname, x, "real numeric")
    axes = normalize_axis(fname, axis, x.ndim)
    if not axes:
        return x.clone()
    if builtins.any(x.shape[a] == 0 for a in axes):
        raise ValueError(f"{fname}(): cannot reduce an empty axis of an array of shape {tuple(x.shape)} "
                         "(there is no identity for it)")
    return _keep(op(x, dim=axes), x, axes, keepdims)


def max(x: Tensor, /, *, axis=None, keepdims: bool = False) -> Tensor:
    """The largest value over ``axis`` (nan if there is one)."""
    return _extreme("max", pt.amax, x, axis, keepdims)


def min(x: Tensor, /, *, axis=None, keepdims: bool = False) -> Tensor:
    """The smallest value over ``axis`` (nan if there is one)."""
    return _extreme("min", pt.amin, x, axis, keepdims)


def _float_reduction(fname, x, axis, keepdims, fn, category="real floating-point"):
    check_array(fname, x)
    check_category(fname, x, category)
    axes = normalize_axis(fname, axis, x.ndim)
    if not axes:
        return None
    return _keep(fn(axes), x, axes, keepdims)


def mean(x: Tensor, /, *, axis=None, keepdims: bool = False) -> Tensor:
    """The arithmetic mean over ``axis`` (nan for no values)."""
    out = _float_reduction("mean", x, axis, keepdims, lambda axes: pt.mean(x, dim=axes), "floating-point")
    return x.clone() if out is None else out


def _var(x, axes, correction):
    n = math.prod(x.shape[a] for a in axes)
    if n - correction <= 0:   # the standard's nan (PyTorch warns and gives inf or nan)
        shape = tuple(s for i, s in enumerate(x.shape) if i not in axes)
        return pt.full(shape, math.nan, dtype=x.dtype, device=x.device)
    return pt.var(x, dim=axes, correction=correction)


def var(x: Tensor, /, *, axis=None, correction=0.0, keepdims: bool = False) -> Tensor:
    """The variance over ``axis`` with ``correction`` degrees of freedom removed (0: population)."""
    out = _float_reduction("var", x, axis, keepdims, lambda axes: _var(x, axes, correction))
    return _zero_spread(x, correction) if out is None else out


def std(x: Tensor, /, *, axis=None, correction=0.0, keepdims: bool = False) -> Tensor:
    """The standard deviation over ``axis`` with ``correction`` degrees of freedom removed."""
    out = _float_reduction("std", x, axis, keepdims, lambda axes: pt.sqrt(_var(x, axes, correction)))
    return _zero_spread(x, correction) if out is None else out


def _zero_spread(x, correction):
    # no axis reduced: each value alone has variance 0 (nan where correction leaves no degrees of
    # freedom, and for nan or inf values)
    return 0 * x if correction < 1 else pt.full_like(x, math.nan)


def _scan(fname, op, identity, x, axis, dtype, include_initial):
    check_array(fname, x)
    check_category(fname, x, "numeric")
    if axis is None:
        if x.ndim > 1:
            raise ValueError(f"{fname}(): axis is required for an array of {x.ndim} dimensions")
        axis = 0
    if x.ndim == 0:
        raise ValueError(f"{fname}(): a 0-d array has no axis to accumulate along")
    d = M.wrap_dim(fname, axis, x.ndim)
    dt = _accumulation_dtype(x, dtype)
    out = op(x, d, dtype=dt)
    if include_initial:
        shape = list(x.shape)
        shape[d] = 1
        out = pt.cat([pt.full(tuple(shape), identity, dtype=dt, device=x.device), out], d)
    return out


def cumulative_sum(x: Tensor, /, *, axis=None, dtype=None, include_initial: bool = False) -> Tensor:
    """Running sums along ``axis`` (with a leading 0 if ``include_initial``)."""
    return _scan("cumulative_sum", pt.cumsum, 0, x, axis, dtype, include_initial)


def cumulative_prod(x: Tensor, /, *, axis=None, dtype=None, include_initial: bool = False) -> Tensor:
    """Running products along ``axis`` (with a leading 1 if ``include_initial``)."""
    return _scan("cumulative_prod", pt.cumprod, 1, x, axis, dtype, include_initial)


def _truth(fname, op, x, axis, keepdims):
    check_array(fname, x)
    axes = normalize_axis(fname, axis, x.ndim)
    if not axes:
        return x != 0 if x.dtype is not D.bool else x.clone()
    if x.dtype is not D.bool:   # PyTorch's any/all of uint8 are uint8
        x = x != 0
    return _keep(op(x, dim=axes), x, axes, keepdims)


def all(x: Tensor, /, *, axis=None, keepdims: bool = False) -> Tensor:
    """Whether every value over ``axis`` is true (non-zero)."""
    return _truth("all", pt.all, x, axis, keepdims)


def any(x: Tensor, /, *, axis=None, keepdims: bool = False) -> Tensor:
    """Whether some value over ``axis`` is true (non-zero)."""
    return _truth("any", pt.any, x, axis, keepdims)


def diff(x: Tensor, /, *, axis: int = -1, n: int = 1, prepend=None, append=None) -> Tensor:
    """The ``n``-th forward difference along ``axis`` (after joining ``prepend`` and ``append``)."""
    check_array("diff", x)
    if x.ndim == 0:
        raise ValueError("diff(): a 0-d array has no axis to take differences along")
    if n < 0:
        raise ValueError(f"diff(): n must be non-negative, got {n}")
    d = M.wrap_dim("diff", axis, x.ndim)
    parts = [p for p in (prepend, x, append) if p is not None]
    if len(parts) > 1:
        from plugtorch.array_api._manipulation import concat
        x = concat(parts, axis=d)
    for _ in range(n):
        m = x.shape[d]
        if m == 0:
            break
        hi, lo = pt.narrow(x, d, 1, m - 1), pt.narrow(x, d, 0, m - 1)
        x = hi != lo if x.dtype is D.bool else hi - lo
    return x
