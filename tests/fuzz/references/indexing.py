"""References of indexing (advanced indexing, gather/scatter, masks) and of matrix products."""
from __future__ import annotations

import numpy as np

from .common import B, I64, cast, dtype_of, result


REFERENCES = {}


def _index(input, indices):
    idx = tuple(slice(None) if i is None else i.astype(np.int64) if i.dtype != bool else i for i in indices)
    return result(input[idx], dtype_of(input))


def _index_put(input, indices, values, accumulate=False):
    d = dtype_of(input)
    res = input.copy()
    idx = tuple(slice(None) if i is None else i.astype(np.int64) if i.dtype != bool else i for i in indices)
    vals = cast(values, d)
    if accumulate:      # one add after the other in the tensor's dtype, as PyTorch's cpu kernel
        with np.errstate(all="ignore"):
            np.add.at(res, idx, np.broadcast_to(vals, res[idx].shape))
        return result(res, d)
    res[idx] = vals
    return result(res, d)


def _gather(input, dim, index, **kw):
    if input.ndim == 0:
        return result(np.broadcast_to(input, index.shape).copy(), dtype_of(input))
    d = dim % input.ndim
    cut = tuple(slice(None) if i == d else slice(0, s) for i, s in enumerate(index.shape))
    return result(np.take_along_axis(input[cut], index.astype(np.int64), axis=d), dtype_of(input))


def _scatter(add):
    def ref(input, dim, index, src, reduce=None):
        if reduce not in (None, "add") or input.ndim == 0:
            return None
        d = dtype_of(input)
        res = input.copy()      # adds one after the other in the tensor's dtype, as PyTorch's cpu kernel
        ax = dim % input.ndim
        grids = list(np.indices(index.shape, sparse=True))
        grids[ax] = index.astype(np.int64)
        if isinstance(src, np.ndarray):
            cut = tuple(slice(0, s) for s in index.shape)
            vals = cast(src[cut] if src.ndim else np.broadcast_to(src, index.shape), d)
        else:
            vals = np.broadcast_to(cast(src, d), index.shape)
        with np.errstate(all="ignore"):
            if add or reduce == "add":
                np.add.at(res, tuple(grids), vals)
            else:
                res[tuple(grids)] = vals
        return result(res, d)
    return ref


def _index_select(input, dim, index):
    if input.ndim == 0:
        return None
    return result(np.take(input, index.reshape(-1).astype(np.int64), axis=dim % input.ndim), dtype_of(input))


def _masked_fill(input, mask, value):
    d = dtype_of(input)
    return result(np.where(np.broadcast_to(mask, input.shape), cast(value, d), input), d)


def _masked_select(input, mask):
    x, m = np.broadcast_arrays(input, mask)
    return result(x[m], dtype_of(input))


def _nonzero(input, as_tuple=False):
    if as_tuple:
        return None
    return result(np.argwhere(input).reshape(-1, input.ndim), I64)


REFERENCES.update({"index": _index, "index_put": _index_put, "gather": _gather, "scatter": _scatter(False),
                   "scatter_add": _scatter(True), "index_select": _index_select, "masked_fill": _masked_fill,
                   "masked_select": _masked_select, "nonzero": _nonzero})


def _product(np_fn):
    def ref(input, other=None, **kw):
        b = other if other is not None else next(iter(kw.values()))
        d = dtype_of(input)
        if dtype_of(b) is not d or d is B:
            return None
        acc = np.float64 if d.is_floating_point else np.int64
        with np.errstate(all="ignore"):
            return result(np_fn(input.astype(acc), b.astype(acc)), d)
    return ref


def _einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    dts = {dtype_of(o) for o in operands}
    if len(dts) != 1:
        return None
    d = dts.pop()
    if not d.is_floating_point:
        return None     # PyTorch's integer einsum keeps the dtype through bmm but widens through sum
    with np.errstate(all="ignore"):
        return result(np.einsum(equation, *[o.astype(np.float64) for o in operands]), d)


REFERENCES.update({"einsum": _einsum, "matmul": _product(np.matmul), "_matmul": _product(np.matmul),
                   "mm": _product(np.matmul), "bmm": _product(np.matmul), "dot": _product(np.dot),
                   "outer": _product(np.outer)})
