"""References of the movement ops: views, joins and splits, casts."""
from __future__ import annotations

import math
from functools import reduce

import numpy as np

from .common import B, cast, dtype_of, promote_types, result


REFERENCES = {}


def _shape_arg(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (list, tuple)) else tuple(shape)


def _same(fn):
    def ref(input, *args, **kwargs):
        return result(fn(input, *args, **kwargs), dtype_of(input))
    return ref


def _expand(x, *sizes):
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        return None
    target = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    return result(np.broadcast_to(x, target), dtype_of(x))


def _flip(x, dims):
    if x.ndim == 0:
        return result(x, dtype_of(x))
    dims = [dims] if isinstance(dims, int) else dims
    return result(np.flip(x, axis=tuple(int(d) for d in dims)) if len(dims) else x, dtype_of(x))


def _squeeze(x, dim=None):
    if x.ndim == 0 or dim is None:
        return result(np.squeeze(x), dtype_of(x))
    dims = [dim] if isinstance(dim, int) else list(dim)
    ones = tuple(d % x.ndim for d in dims if x.shape[d % x.ndim] == 1)
    return result(np.squeeze(x, axis=ones) if ones else x, dtype_of(x))


def _flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return result(x.reshape(1), dtype_of(x))
    s, e = start_dim % x.ndim, end_dim % x.ndim
    if s > e:
        return None
    return result(x.reshape(x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]), dtype_of(x))


def _unflatten(x, dim, sizes):
    d = dim % x.ndim
    return result(x.reshape(x.shape[:d] + tuple(sizes) + x.shape[d + 1:]), dtype_of(x))


def _narrow(x, dim, start, length):
    d = dim % max(x.ndim, 1)
    start = start % x.shape[d] if start < 0 else start
    return result(np.take(x, np.arange(start, start + length), axis=d), dtype_of(x))


def _select(x, dim, index):
    return result(np.take(x, index, axis=dim % x.ndim), dtype_of(x))


def _slice(x, dim=0, start=None, end=None, step=1):
    idx = [slice(None)] * x.ndim
    idx[dim % x.ndim] = slice(start, end, step)
    return result(x[tuple(idx)], dtype_of(x))


def _cat(tensors, dim=0):
    d = reduce(promote_types, [dtype_of(t) for t in tensors])
    keep = [t for t in tensors if not (t.shape == (0,) and any(u.ndim > 1 for u in tensors))]
    if not keep:
        return result(np.zeros((0,)), d)
    return result(np.concatenate([cast(t, d) for t in keep], axis=dim % keep[0].ndim), d)


def _stack(tensors, dim=0):
    d = reduce(promote_types, [dtype_of(t) for t in tensors])
    return result(np.stack([cast(t, d) for t in tensors], axis=dim % (tensors[0].ndim + 1)), d)


def _pieces(x, d, bounds):
    return [(np.take(x, np.arange(a, b), axis=d), dtype_of(x)) for a, b in bounds]


def _split(tensor, split_size_or_sections, dim=0):
    x = tensor
    d = dim % max(x.ndim, 1)
    n = x.shape[d]
    if isinstance(split_size_or_sections, int):
        s = split_size_or_sections
        if s <= 0:
            return None
        bounds = [(i, min(i + s, n)) for i in range(0, n, s)] or [(0, 0)]
    else:
        cuts = np.cumsum([0] + list(split_size_or_sections))
        bounds = list(zip(cuts[:-1], cuts[1:]))
    return _pieces(x, d, bounds)


def _chunk(input, chunks, dim=0):
    x = input
    d = dim % max(x.ndim, 1)
    n = x.shape[d]
    if n == 0 or chunks <= 0:
        return None
    return _split(x, -(-n // chunks), dim)


def _unbind(input, dim=0):
    d = dim % input.ndim
    return [(np.take(input, i, axis=d), dtype_of(input)) for i in range(input.shape[d])]


def _roll(x, shifts, dims=None):
    return result(np.roll(x, shifts, axis=dims), dtype_of(x))


def _repeat(x, *sizes):
    sizes = _shape_arg(sizes)
    if len(sizes) < x.ndim:
        return None
    return result(np.tile(x, sizes), dtype_of(x))


def _permute(x, *dims):
    return result(np.transpose(x, _shape_arg(dims)) if x.ndim else x, dtype_of(x))


def _transpose(x, dim0, dim1):
    return result(np.swapaxes(x, dim0, dim1) if x.ndim else x, dtype_of(x))


def _movedim(x, source, destination):
    return result(np.moveaxis(x, source, destination) if x.ndim else x, dtype_of(x))


def _to_dtype(input, dtype):
    x = input
    if x.dtype.kind == "f" or str(x.dtype) == "bfloat16":
        x = x.astype(np.float64)
        if not dtype.is_floating_point and dtype is not B:
            return result(np.trunc(x), dtype)
    return result(x, dtype)


REFERENCES.update({
    "view": lambda input, *shape: result(input.reshape(_shape_arg(shape)), dtype_of(input)),
    "reshape": lambda input, *shape: result(input.reshape(_shape_arg(shape)), dtype_of(input)),
    "expand": _expand, "broadcast_to": lambda input, size: _expand(input, *size),
    "expand_as": lambda input, other: result(np.broadcast_to(input, other.shape), dtype_of(input)),
    "permute": _permute, "transpose": _transpose, "t": _same(lambda x: x.T if x.ndim == 2 else x),
    "flip": _flip, "squeeze": _squeeze, "flatten": _flatten, "unflatten": _unflatten,
    "unsqueeze": lambda input, dim: result(np.expand_dims(input, dim % (input.ndim + 1)), dtype_of(input)),
    "narrow": _narrow, "select": _select, "slice": _slice, "cat": _cat, "stack": _stack, "split": _split,
    "chunk": _chunk, "unbind": _unbind, "movedim": _movedim, "roll": _roll, "repeat": _repeat,
    "tile": lambda input, dims: result(np.tile(input, tuple(dims)), dtype_of(input)),
    "diagonal": _same(lambda x, offset=0, dim1=0, dim2=1: np.diagonal(x, offset, dim1, dim2)),
    "tril": _same(lambda x, diagonal=0: np.tril(x, diagonal)),
    "triu": _same(lambda x, diagonal=0: np.triu(x, diagonal)),
    "clone": _same(lambda x, **kw: x), "contiguous": _same(lambda x, memory_format=None: x), "_to_dtype": _to_dtype,
})
