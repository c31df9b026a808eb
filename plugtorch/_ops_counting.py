"""Public functions whose result's size depends on the data or on a list of sizes:
``unique_consecutive``, ``histogram``, ``split_with_sizes``, ``narrow_copy``.

Compositions of registered ops (no op of their own); ``PUBLIC_TO_OP`` records the main op.
"""
from __future__ import annotations

import builtins as _b
import math

from plugtorch import _dtypes, return_types
from plugtorch import _ops_public as P
from plugtorch._ops_compound import _check_tensor
from plugtorch._tensor import Tensor
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.arguments import as_int, as_ints

__all__ = []


def public(op_name):
    return P.public(op_name, __all__)


@public("nonzero")
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """The input with each run of equal consecutive elements (or slices along ``dim``) kept once;
    optionally the run of each element and the length of each run.

    >>> plugtorch.unique_consecutive(plugtorch.tensor([1, 1, 2, 1]), return_counts=True)[1].tolist()
    [2, 1, 1]
    """
    _check_tensor("unique_consecutive", input)
    M.data_dependent_on_meta("unique_consecutive", input)
    if dim is None:
        x = input.reshape(-1)
        d = 0
        changed = x[1:] != x[:-1] if x.shape[0] > 1 else None
    else:
        if input.ndim == 0:
            raise IndexError(f"unique_consecutive(): a 0-d tensor has no dim {dim}; call it without dim")
        d = M.wrap_dim("unique_consecutive", dim, input.ndim)
        x = input
        n = x.shape[d]
        changed = None
        if n > 1:
            diff = x.narrow(d, 1, n - 1) != x.narrow(d, 0, n - 1)
            changed = diff.movedim(d, 0).reshape(n - 1, -1).any(1)
    n = x.shape[d]
    first = P.ones(n, dtype=_dtypes.bool, device=input.device)
    if changed is not None:
        first = P.cat([first[:1], changed])
    starts = P.nonzero(first).reshape(-1)
    out = [x.index_select(d, starts)]
    if return_inverse:
        inverse = P.cumsum(first, 0) - 1
        out.append(inverse.reshape(tuple(input.shape)) if dim is None else inverse)
    if return_counts:
        ends = P.cat([starts[1:], P.full((1,), n, dtype=_dtypes.int64, device=input.device)])
        out.append(ends - starts)
    return out[0] if len(out) == 1 else tuple(out)


def _bin_along(x, bins, rng, dtype):
    """The edges of one dim's bins and each element's bin (``inside``: within the edges)."""
    if isinstance(bins, Tensor):
        if bins.ndim != 1:
            raise RuntimeError(f"torch.histogram(): bins tensor should have one dimension, but got {bins.ndim} "
                               "dimensions")
        if bins.dtype is not dtype:
            raise RuntimeError(f"torch.histogram(): input tensor and bins tensors should have the same dtype, but "
                               f"got input {dtype} and bins {bins.dtype}")
        edges = bins.to(x.device)
        nb = edges.shape[0] - 1
        if nb < 1:
            raise RuntimeError("torch.histogram(): bins tensor should have at least 1 element (2 edges)")
    else:
        nb = as_int("histogram", "bins", bins)
        if nb <= 0:
            raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {nb} for dimension 0")
        if rng is not None:
            lo, hi = (float(v) for v in rng)
        elif x.numel():
            lo, hi = float(x.amin()), float(x.amax())
        else:   # no data: the unit range, as NumPy's and PyTorch's
            lo, hi = 0.0, 1.0
        if lo > hi:
            raise RuntimeError(f"torch.histogram(): max must be larger than min (range ({lo}, {hi}))")
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise RuntimeError(f"torch.histogram(): range of [{lo}, {hi}] is not finite")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = P.linspace(lo, hi, nb + 1, dtype=dtype, device=x.device)
    # the bin of each element: the last edge <= it (the last bin also takes the last edge), found
    # as PyTorch does, by upper_bound over the edges (its bisection, also for edges out of order);
    # counting the edges below each element took numel x bins memory (1 GB for 10^7 values in 100 bins)
    b = P.searchsorted(edges.contiguous(), x, right=True) - 1
    inside = (x >= edges[0]) & (x <= edges[-1])
    return edges, P.where(inside, b.clamp(0, nb - 1), 0), inside


def _weights(op, weight, inside, shape, dtype):
    if weight is None:
        return inside.to(dtype)
    _check_tensor(op, weight, "weight")
    if tuple(weight.shape) != tuple(shape):
        raise RuntimeError(f"torch.{op}(): if weight tensor is provided it should have the same shape as the input "
                           f"tensor excluding its innermost dimension, but got input with shape {list(shape)} and "
                           f"weight with shape {list(weight.shape)}")
    return P.where(inside, weight.reshape(-1).to(dtype), 0)


@public("index_put")
def histogram(input, bins=100, *, range=None, weight=None, density=False):
    """Counts (or summed ``weight``) of ``input`` in ``bins`` equal bins over ``range`` (the data's
    range by default), or between the edges of a 1-D ``bins`` tensor; ``(hist, bin_edges)``.
    Each bin holds its left edge; the last holds its right edge too.

    >>> plugtorch.histogram(plugtorch.tensor([1., 2., 1.]), bins=2).hist.tolist()
    [2.0, 1.0]
    """
    _check_tensor("histogram", input)
    if not input.dtype.is_floating_point:
        raise M.not_implemented_for("histogram", input.dtype, "convert to a floating-point dtype first")
    edges, b, inside = _bin_along(input.reshape(-1), bins, range, input.dtype)
    w = _weights("histogram", weight, inside, input.shape, input.dtype)
    hist = P.zeros(edges.shape[0] - 1, dtype=input.dtype, device=input.device).index_put([b], w, accumulate=True)
    if density:
        hist = hist / (hist.sum() * (edges[1:] - edges[:-1]))
    return return_types.histogram(hist, edges)


@public("index_put")
def histogramdd(input, bins=10, *, range=None, weight=None, density=False):
    """The histogram of the points in the last dim of ``input`` (D coordinates each): ``bins`` a
    count, one count per dim, or one edge tensor per dim; ``range`` (min, max) pairs flattened;
    ``(hist, bin_edges)`` with ``hist`` D-dimensional.

    >>> plugtorch.histogramdd(plugtorch.tensor([[0., 0.], [1., 1.]]), bins=2).hist.tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    _check_tensor("histogramdd", input)
    if not input.dtype.is_floating_point:
        raise M.not_implemented_for("histogramdd", input.dtype, "convert to a floating-point dtype first")
    dims = input.shape[-1] if input.ndim else 1
    pts = input.reshape(-1, dims)
    per_dim = [bins] * dims if isinstance(bins, int) else list(bins)
    if len(per_dim) != dims:
        raise RuntimeError("histogramdd: The size of bins must be equal to the innermost dimension of the input.")
    if range is not None and len(range) != 2 * dims:
        raise RuntimeError("histogramdd: The size of range must be equal to 2 * the innermost dimension of the input.")
    edges, flat, inside = [], None, None
    for d in _b.range(dims):
        e, b, ok = _bin_along(pts[:, d], per_dim[d], None if range is None else range[2 * d:2 * d + 2], input.dtype)
        edges.append(e)
        flat = b if flat is None else flat * (e.shape[0] - 1) + b
        inside = ok if inside is None else inside & ok
    counts = tuple(e.shape[0] - 1 for e in edges)
    w = _weights("histogramdd", weight, inside, input.shape[:-1], input.dtype)
    hist = P.zeros(math.prod(counts), dtype=input.dtype, device=input.device).index_put(
        [P.where(inside, flat, 0)], w, accumulate=True).reshape(counts)
    if density:
        volume = None
        for d, e in enumerate(edges):
            width = (e[1:] - e[:-1]).reshape((-1,) + (1,) * (dims - 1 - d))
            volume = width if volume is None else volume * width
        hist = hist / (hist.sum() * volume)
    return return_types.histogramdd(hist, tuple(edges))


@public("split")
def split_with_sizes(input, split_sizes, dim=0):
    """``input`` split along ``dim`` into parts of the given sizes, which must add up to its size.

    >>> [t.tolist() for t in plugtorch.split_with_sizes(plugtorch.arange(3), [1, 2])]
    [[0], [1, 2]]
    """
    _check_tensor("split_with_sizes", input)
    sizes = as_ints("split_with_sizes", "split_sizes", split_sizes)
    d = M.wrap_dim("split_with_sizes", dim, input.ndim)
    n = input.shape[d] if input.ndim else 1
    if _b.sum(sizes) != n or _b.any(s < 0 for s in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                           f"dimension {d}), but got split_sizes={list(sizes)}")
    return P.split(input, list(sizes), d)


@public("narrow")
def narrow_copy(input, dim, start, length):
    """``input.narrow(dim, start, length)`` as a new tensor (no memory shared)."""
    return P.narrow(input, dim, start, length).clone()


@public("cummax")
def cummax(input, dim):
    """``(values, indices)``: the running maximum along ``dim`` and where it was (the last among
    equal values; a nan stays once met).

    >>> plugtorch.cummax(plugtorch.tensor([1, 3, 2]), 0).values.tolist()
    [1, 3, 3]
    """
    return return_types.cummax(*P.ops.cummax(input, dim))


@public("cummin")
def cummin(input, dim):
    """``(values, indices)``: the running minimum along ``dim`` and where it was."""
    return return_types.cummin(*P.ops.cummin(input, dim))
