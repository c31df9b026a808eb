"""The standard's manipulation and indexing functions: ``concat``, ``stack``, ``reshape``
(with ``copy=``), ``squeeze``, ``expand_dims``, ``permute_dims``, ``repeat``, ``take`` ...

Arrays joined together are promoted by the standard's rules first (``concat`` of int8 and
int16 is int16; of int8 and float32, TypeError).

>>> import plugtorch.array_api as xp
>>> xp.concat([xp.zeros(2), xp.ones(1)]).tolist()
[0.0, 0.0, 1.0]
"""
from __future__ import annotations

import plugtorch as pt
from plugtorch import _dtypes as D
from plugtorch._tensor import Tensor
from plugtorch.array_api._dtypes import check_array, promote
from plugtorch.array_api._statistical import normalize_axis
from plugtorch.dispatch import meta as M

__all__ = ["broadcast_arrays", "broadcast_to", "concat", "expand_dims", "flip", "moveaxis", "permute_dims",
           "repeat", "reshape", "roll", "squeeze", "stack", "take", "take_along_axis", "tile", "unstack"]


def _joined(fname, arrays):
    arrays = list(arrays)
    if not arrays:
        raise ValueError(f"{fname}(): need at least one array")
    for a in arrays:
        check_array(fname, a, "arrays")
    dt = arrays[0].dtype
    for a in arrays[1:]:
        dt = promote(dt, a.dtype, fname)
    return [a if a.dtype is dt else a.to(dt) for a in arrays]


def broadcast_arrays(*arrays) -> list:
    """The arrays broadcast to their common shape (views)."""
    for a in arrays:
        check_array("broadcast_arrays", a, "arrays")
    shape = M.broadcast_shapes(*[tuple(a.shape) for a in arrays], op="broadcast_arrays")
    return [a.expand(shape) for a in arrays]


def broadcast_to(x: Tensor, /, shape) -> Tensor:
    check_array("broadcast_to", x)
    shape = tuple(shape)
    try:
        M.broadcast_shapes(tuple(x.shape), shape, op="broadcast_to")
        if len(shape) < x.ndim or M.broadcast_shapes(tuple(x.shape), shape) != shape:
            raise RuntimeError
    except RuntimeError:
        raise ValueError(f"broadcast_to(): an array of shape {tuple(x.shape)} cannot be broadcast to {shape}") \
            from None
    return x.expand(shape)


def concat(arrays, /, *, axis=0) -> Tensor:
    """The arrays joined along an existing ``axis`` (flattened first when ``axis`` is None)."""
    arrays = _joined("concat", arrays)
    if axis is None:
        return pt.cat([a.reshape(-1) for a in arrays], 0)
    return pt.cat(arrays, axis)


def stack(arrays, /, *, axis: int = 0) -> Tensor:
    """The arrays (of one shape) joined along a new ``axis``."""
    return pt.stack(_joined("stack", arrays), axis)


def expand_dims(x: Tensor, /, axis: int) -> Tensor:
    """``x`` with a new dimension of size 1 at ``axis`` (in ``[-x.ndim - 1, x.ndim]``)."""
    check_array("expand_dims", x)
    if not -x.ndim - 1 <= axis <= x.ndim:
        raise IndexError(f"expand_dims(): axis {axis} is out of range for an array of {x.ndim} dimensions "
                         f"(expected [{-x.ndim - 1}, {x.ndim}])")
    return x.unsqueeze(axis)


def flip(x: Tensor, /, *, axis=None) -> Tensor:
    check_array("flip", x)
    axes = normalize_axis("flip", axis, x.ndim)
    return pt.flip(x, axes) if axes else x.clone()


def moveaxis(x: Tensor, source, destination, /) -> Tensor:
    check_array("moveaxis", x)
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError(f"moveaxis(): source {source!r} and destination {destination!r} must have the same length")
    for a in src + dst:
        if not -x.ndim <= a < x.ndim:
            raise IndexError(f"moveaxis(): axis {a} is out of range for an array of {x.ndim} dimensions")
    return pt.movedim(x, src, dst)


def permute_dims(x: Tensor, /, axes) -> Tensor:
    check_array("permute_dims", x)
    axes = tuple(axes)
    if sorted(a % x.ndim if x.ndim else a for a in axes) != list(range(x.ndim)):
        raise ValueError(f"permute_dims(): axes {axes} is not a permutation of the {x.ndim} dimensions")
    return x.permute(axes)


def repeat(x: Tensor, repeats, /, *, axis=None) -> Tensor:
    """Each element repeated ``repeats`` times (an int, or one count per element along ``axis``)."""
    check_array("repeat", x)
    if isinstance(repeats, Tensor):
        if repeats.dtype.category != D._INT:
            raise TypeError(f"repeat(): repeats must be an integer array, got {repeats.dtype.name}")
        repeats = repeats.to(D.int64)
    elif not isinstance(repeats, int) or isinstance(repeats, bool):
        raise TypeError(f"repeat(): repeats must be an int or an integer array, got {type(repeats).__name__}")
    elif repeats < 0:
        raise ValueError(f"repeat(): repeats must be non-negative, got {repeats}")
    if axis is None:
        x, axis = x.reshape(-1), 0
    return pt.repeat_interleave(x, repeats, axis)


def reshape(x: Tensor, /, shape, *, copy=None) -> Tensor:
    """``x`` with a new ``shape`` (one entry may be -1); ``copy=False`` only as a view."""
    check_array("reshape", x)
    shape = tuple(shape)
    if copy is False:
        try:
            return x.view(shape)
        except RuntimeError as e:
            raise ValueError(f"reshape(): this array cannot be reshaped to {shape} without a copy, and "
                             f"copy=False was given ({e})") from None
    out = x.reshape(shape)
    return out.clone() if copy else out


def roll(x: Tensor, /, shift, *, axis=None) -> Tensor:
    """Elements shifted by ``shift`` along ``axis`` (of the flattened array when None), wrapping around."""
    check_array("roll", x)
    if axis is None:
        return pt.roll(x.reshape(-1), shift, 0).reshape(tuple(x.shape))
    return pt.roll(x, shift, axis)


def squeeze(x: Tensor, /, axis) -> Tensor:
    """``x`` without the size-1 dimensions ``axis`` (ValueError for a larger one)."""
    check_array("squeeze", x)
    axes = normalize_axis("squeeze", axis, x.ndim)
    for a in axes:
        if x.shape[a] != 1:
            raise ValueError(f"squeeze(): axis {a} has size {x.shape[a]}, not 1 (shape {tuple(x.shape)})")
    return x.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))


def tile(x: Tensor, repetitions, /) -> Tensor:
    check_array("tile", x)
    return pt.tile(x, tuple(repetitions))


def unstack(x: Tensor, /, *, axis: int = 0) -> tuple:
    """The slices of ``x`` along ``axis``, as a tuple."""
    check_array("unstack", x)
    if x.ndim == 0:
        raise ValueError("unstack(): a 0-d array has no axis to unstack")
    return tuple(pt.unbind(x, axis))


def _indices(fname, indices, n):
    check_array(fname, indices, "indices")
    if indices.dtype.category != D._INT:
        raise TypeError(f"{fname}(): indices must be an integer array, got {indices.dtype.name}")
    indices = indices.to(D.int64)
    return pt.where(indices < 0, indices + n, indices)     # negative indices count from the end


def take(x: Tensor, indices: Tensor, /, *, axis=None) -> Tensor:
    """The elements of ``x`` at ``indices`` (a 1-d integer array) along ``axis``."""
    check_array("take", x)
    if axis is None:
        if x.ndim != 1:
            raise ValueError(f"take(): axis is required for an array of {x.ndim} dimensions")
        axis = 0
    d = M.wrap_dim("take", axis, x.ndim)
    if indices.ndim != 1:
        raise ValueError(f"take(): indices must be 1-d, got shape {tuple(indices.shape)}")
    return pt.index_select(x, d, _indices("take", indices, x.shape[d]))


def take_along_axis(x: Tensor, indices: Tensor, /, *, axis: int = -1) -> Tensor:
    """The elements of ``x`` at ``indices`` (an array of x's rank) along ``axis``."""
    check_array("take_along_axis", x)
    if indices.ndim != x.ndim:
        raise ValueError(f"take_along_axis(): indices must have x's {x.ndim} dimensions, got {indices.ndim}")
    d = M.wrap_dim("take_along_axis", axis, x.ndim)
    return pt.take_along_dim(x, _indices("take_along_axis", indices, x.shape[d]), d)
