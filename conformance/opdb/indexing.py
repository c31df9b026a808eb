"""Indexing: advanced indexing, index_put, gather/scatter, nonzero and the masked ops.

Index tensors are int64 and in range (negative indices included); where a write with
repeated indices has no defined winner (index_put and scatter without accumulation),
the indices are distinct.
"""
from __future__ import annotations

import numpy as np

import plugtorch as pt

from ..entry import ALL_DTYPES, Entry, ErrorInput, Input, Sample


def _x(ctx, shape=(3, 4), **kw):
    return ctx.input(shape, **kw)


def _idx(ctx, shape, n, negative=True):
    """An int64 index Input of ``shape`` with values in [-n, n) (or [0, n))."""
    v = ctx.rng.integers(-n if negative else 0, n, size=shape) if n else np.zeros(shape, np.int64)
    return Input(v.astype(np.int64), pt.int64, requires_grad=False)


def _perm_idx(ctx, n, k=None):
    return Input(ctx.rng.permutation(n)[: n if k is None else k].astype(np.int64), pt.int64, requires_grad=False)


def _index_samples(ctx):
    x = _x(ctx, layout="transposed")
    return [Sample(x, [_idx(ctx, (5,), 3)]),
            Sample(_x(ctx, layout="stepped"), [None, _idx(ctx, (2, 2), 4)]),
            Sample(x, [_idx(ctx, (2, 1), 3), _idx(ctx, (1, 3), 4)], name="broadcast indices"),
            Sample(_x(ctx, (2, 3, 4), layout="expanded"), [None, None, _idx(ctx, (0,), 4)], name="empty index"),
            Sample(_x(ctx, (2, 3, 4)), [_idx(ctx, (), 2), None, _idx(ctx, (2,), 4)], name="separated indices")]


def _index_put_samples(ctx):
    return [Sample(_x(ctx), [_perm_idx(ctx, 3, 2)], _x(ctx, (2, 4)), False),
            Sample(_x(ctx), [None, _perm_idx(ctx, 4)], _x(ctx, (4,), layout="stepped"), False, name="broadcast values"),
            Sample(_x(ctx), [_idx(ctx, (6,), 3)], _x(ctx, (6, 4)), True, name="accumulate repeated indices"),
            Sample(_x(ctx, layout="transposed"), [_idx(ctx, (2, 2), 3), _idx(ctx, (2, 2), 4)], _x(ctx, (2, 2)), True),
            Sample(_x(ctx), [_perm_idx(ctx, 3, 1)], 2, False, name="scalar value")]


def _gather_index(ctx, in_shape, dim, idx_shape):
    return _idx(ctx, idx_shape, in_shape[dim], negative=False)


def _gather_samples(ctx):
    out = []
    for shape, dim, ishape, layout in (((3, 4), 1, (3, 6), "transposed"), ((3, 4), 0, (2, 4), "stepped"),
                                       ((2, 3, 4), 2, (2, 2, 3), "expanded"), ((5,), 0, (7,), "contiguous"),
                                       ((3, 4), 1, (3, 0), "contiguous")):
        out.append(Sample(ctx.input(shape, layout=layout), dim, _gather_index(ctx, shape, dim, ishape)))
    i32 = _gather_index(ctx, (3, 4), 1, (3, 5))
    out.append(Sample(ctx.input((3, 4), layout="transposed"), 1,
                      Input(i32.values.astype(np.int32), pt.int32, requires_grad=False), name="int32 index"))
    out += [Sample(ctx.input(()), 0, _idx(ctx, (), 1, negative=False), name="0-d input, 0-d index"),
            Sample(ctx.input(()), -1, _idx(ctx, (3,), 1, negative=False), name="0-d input, 1-d index")]
    return out


def _take_along_dim_samples(ctx):
    """Indices that broadcast against the input in every dim but ``dim`` (as PyTorch requires)."""
    out = []
    for shape, dim, ishape, layout in (((3, 4), 1, (3, 6), "transposed"), ((3, 4), 0, (2, 1), "stepped"),
                                       ((2, 3, 4), 2, (1, 3, 5), "expanded"), ((5,), 0, (7,), "contiguous"),
                                       ((3, 4), 1, (1, 0), "contiguous")):
        out.append(Sample(ctx.input(shape, layout=layout), _gather_index(ctx, shape, dim, ishape), dim))
    out.append(Sample(ctx.input((3, 4)), _idx(ctx, (5,), 12, negative=False), None, name="dim=None: flattened"))
    out.append(Sample(ctx.input(()), _idx(ctx, (2,), 1, negative=False), None, name="0-d input, dim=None"))
    return out


def _distinct_along(ctx, shape, dim, k):
    """Indices of ``shape`` with ``k`` entries along ``dim``, distinct within each line (a defined winner)."""
    lines = [ctx.rng.permutation(shape[dim])[:k] for _ in range(int(np.prod([s for i, s in enumerate(shape) if i != dim])))]
    arr = np.stack(lines, axis=-1) if lines else np.zeros((k, 0), np.int64)
    other = [s for i, s in enumerate(shape) if i != dim]
    arr = arr.reshape((k, *other))
    return Input(np.moveaxis(arr, 0, dim).astype(np.int64).copy(), pt.int64, requires_grad=False)


def _scatter_samples(ctx):
    out = []
    for shape, dim, k, layout in (((3, 4), 1, 2, "transposed"), ((4, 3), 0, 4, "stepped"), ((2, 3, 4), 2, 3, "contiguous")):
        idx = _distinct_along(ctx, shape, dim, k)
        src_shape = tuple(k if i == dim else s for i, s in enumerate(shape))
        out.append(Sample(ctx.input(shape, layout=layout), dim, idx, ctx.input(src_shape)))
    out.append(Sample(_x(ctx), 1, _distinct_along(ctx, (3, 4), 1, 2), 7, name="scalar source"))
    out.append(Sample(_x(ctx), 0, _idx(ctx, (5, 4), 3, negative=False), ctx.input((5, 4)), reduce="add",
                      name="reduce=add, repeated indices"))
    return out


def _scatter_add_samples(ctx):
    return [Sample(_x(ctx, layout="transposed"), 0, _idx(ctx, (5, 4), 3, negative=False), ctx.input((5, 4))),
            Sample(_x(ctx, (2, 3, 4), layout="stepped"), 2, _idx(ctx, (2, 3, 6), 4, negative=False), ctx.input((2, 3, 6))),
            Sample(_x(ctx, (5,)), 0, _idx(ctx, (3,), 5, negative=False), ctx.input((4,), layout="stepped"))]


def _nonzero_samples(ctx):
    out = []
    for shape, layout in (((), "contiguous"), ((0,), "contiguous"), ((7,), "stepped"), ((3, 4), "transposed"),
                          ((2, 3, 4), "contiguous")):
        x = ctx.input(shape, layout=layout)
        mask = ctx.rng.integers(0, 2, size=x.values.shape).astype(bool)
        x.values = np.where(mask, x.values, np.zeros((), x.values.dtype)).astype(x.values.dtype)
        out.append(Sample(x))
    return out


def _mask(ctx, shape):
    return ctx.input(shape, dtype=pt.bool, requires_grad=False)


def overflowing_scalar(dtype):
    """A Python number ``dtype`` cannot hold (PyTorch's checked scalar conversion refuses it), or None."""
    if dtype is pt.bool or dtype is pt.float64:
        return None
    return float("nan") if not dtype.is_floating_point else 1e300


def _overflow_errors(make, op):
    """``make(ctx, value)`` -> Sample: an ErrorInput with a value the entry's dtype cannot hold."""
    def errors(ctx):
        v = overflowing_scalar(ctx.dtype)
        return [] if v is None else [ErrorInput(make(ctx, v), RuntimeError, rf"{op}\(\): value .* without overflow")]
    return errors


def _index_errors(ctx):
    return [ErrorInput(Sample(_x(ctx), [_idx(ctx, (2,), 3), _idx(ctx, (2,), 4), _idx(ctx, (2,), 4)]), IndexError,
                       "too many indices"),
            ErrorInput(Sample(_x(ctx, ()), [_idx(ctx, (), 1, negative=False)]), IndexError,
                       "too many indices for tensor of dimension 0"),
            ErrorInput(Sample(_x(ctx), [Input(np.array([3, 0], np.int64), pt.int64, requires_grad=False)]), IndexError,
                       "out of bounds"),
            ErrorInput(Sample(_x(ctx), [Input(np.array([0.5]), pt.float32, requires_grad=False)]), IndexError,
                       "tensors used as indices")]


def _gather_errors(ctx):
    return [ErrorInput(Sample(_x(ctx), 1, Input(np.array([[4]], np.int64), pt.int64, requires_grad=False)),
                       RuntimeError, "out of bounds"),
            ErrorInput(Sample(_x(ctx), 1, Input(np.array([[-1]], np.int64), pt.int64, requires_grad=False)),
                       RuntimeError, "index -1 is out of bounds"),   # no negative indices, as PyTorch
            ErrorInput(Sample(_x(ctx), 1, Input(np.array([[0]], np.int16), pt.int16, requires_grad=False)),
                       RuntimeError, "int32/int64"),
            ErrorInput(Sample(_x(ctx), 1, Input(np.zeros((3,), np.int64), pt.int64, requires_grad=False)),
                       RuntimeError, "same number of dimensions")]


ENTRIES = [
    Entry("index", samples=_index_samples, dtypes=ALL_DTYPES, error_inputs=_index_errors),
    Entry("index_put", samples=_index_put_samples, dtypes=ALL_DTYPES, error_inputs=lambda ctx: [
        ErrorInput(Sample(_x(ctx), [_perm_idx(ctx, 3, 2)], _x(ctx, (3, 4)), False), RuntimeError, "shape mismatch"),
        ErrorInput(Sample(_x(ctx), [_perm_idx(ctx, 3, 2)], _x(ctx, (2, 5)), True), RuntimeError, "shape mismatch"),
        ErrorInput(Sample(_x(ctx), [_perm_idx(ctx, 3, 2)],
                          _x(ctx, (2, 4), dtype=pt.int64 if ctx.dtype is not pt.int64 else pt.float32), False),
                   RuntimeError, "dtypes match"),
        ErrorInput(Sample(_x(ctx), None, _x(ctx, (2, 4)), False), TypeError, "'indices' must be tuple of Tensors"),
        ErrorInput(Sample(_x(ctx), _perm_idx(ctx, 3, 2), _x(ctx, (2, 4)), False), TypeError,
                   "must be tuple of Tensors, not Tensor")]),
    Entry("gather", samples=_gather_samples, dtypes=ALL_DTYPES, error_inputs=_gather_errors),
    Entry("take_along_dim", samples=_take_along_dim_samples, dtypes=ALL_DTYPES, error_inputs=lambda ctx: [
        ErrorInput(Sample(_x(ctx), Input(np.array([[-1]], np.int64), pt.int64, requires_grad=False), 1),
                   RuntimeError, "out of bounds"),
        ErrorInput(Sample(_x(ctx), _idx(ctx, (2, 2), 3, negative=False), 0), RuntimeError, "broadcast"),
        ErrorInput(Sample(_x(ctx, ()), _idx(ctx, (), 1, negative=False), 0), IndexError,
                   "Dimension specified as 0 but tensor has no dimensions")]),
    Entry("scatter", samples=_scatter_samples, dtypes=ALL_DTYPES, error_inputs=lambda ctx: [
        ErrorInput(Sample(_x(ctx), 1, _idx(ctx, (3, 2), 4, negative=False), 1.0, reduce="max"), RuntimeError, "reduce"),
        ErrorInput(Sample(_x(ctx), 1, Input(np.array([[-1]], np.int64), pt.int64, requires_grad=False), _x(ctx, (1, 1))),
                   RuntimeError, "index -1 is out of bounds"),
        ErrorInput(Sample(_x(ctx), 1, _idx(ctx, (3, 2), 4, negative=False),
                          _x(ctx, (3, 2), dtype=pt.int64 if ctx.dtype is not pt.int64 else pt.float32)),
                   RuntimeError, "src.dtype")] + _overflow_errors(
        lambda c, v: Sample(_x(c), 1, _idx(c, (3, 2), 4, negative=False), v), "scatter")(ctx)),
    Entry("scatter_add", samples=_scatter_add_samples, dtypes=ALL_DTYPES, error_inputs=lambda ctx: [
        ErrorInput(Sample(_x(ctx), 0, Input(np.array([[-1, 0]], np.int64), pt.int64, requires_grad=False),
                          _x(ctx, (1, 2))), RuntimeError, "index -1 is out of bounds")]),
    Entry("nonzero", samples=_nonzero_samples, dtypes=ALL_DTYPES),
    Entry("index_select", samples=lambda ctx: [
        Sample(_x(ctx, layout="transposed"), 1, _idx(ctx, (5,), 4, negative=False)),
        Sample(_x(ctx, (2, 3, 4), layout="stepped"), 0, _idx(ctx, (0,), 2, negative=False)),
        Sample(_x(ctx, (5,)), 0, _idx(ctx, (), 5, negative=False), name="0-d index"),
        Sample(_x(ctx, ()), 0, _idx(ctx, (1,), 1, negative=False), name="0-d input"),
        Sample(_x(ctx, ()), -1, _idx(ctx, (), 1, negative=False), name="0-d input, 0-d index")], dtypes=ALL_DTYPES,
        error_inputs=lambda ctx: [ErrorInput(Sample(_x(ctx), 0, _idx(ctx, (2, 2), 3)), IndexError, "vector"),
                                  ErrorInput(Sample(_x(ctx, ()), 0, _idx(ctx, (2,), 1, negative=False)), RuntimeError,
                                             "Index to scalar can have only 1 value"),
                                  ErrorInput(Sample(_x(ctx), 1, Input(np.array([0, -1], np.int64), pt.int64,
                                                                      requires_grad=False)),
                                             IndexError, "index out of range in self"),
                                  ErrorInput(Sample(_x(ctx), 0, _x(ctx, (2,), dtype=pt.float32)), RuntimeError,
                                             "int32 or int64")]),
    Entry("masked_fill", samples=lambda ctx: [
        Sample(_x(ctx, layout="transposed"), _mask(ctx, (3, 4)), 0),
        Sample(_x(ctx, (2, 3, 4), layout="stepped"), _mask(ctx, (3, 1)), 1.5 if ctx.dtype.is_floating_point else 2),
        Sample(_x(ctx, ()), _mask(ctx, ()), True)], dtypes=ALL_DTYPES,
        error_inputs=lambda ctx: ([ErrorInput(Sample(_x(ctx), _x(ctx), 0), RuntimeError, "boolean masks")]
                                  if ctx.dtype is not pt.bool else [])
        + _overflow_errors(lambda c, v: Sample(_x(c), _mask(c, (3, 4)), v), "masked_fill")(ctx)),
    Entry("masked_select", samples=lambda ctx: [
        Sample(_x(ctx, layout="transposed"), _mask(ctx, (3, 4))),
        Sample(_x(ctx, (4,), layout="stepped"), _mask(ctx, (3, 1)), name="broadcast mask"),
        Sample(_x(ctx, (0, 2)), _mask(ctx, (0, 2)))], dtypes=ALL_DTYPES),
]
