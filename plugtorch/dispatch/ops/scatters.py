"""Out-of-place writes into a copy of the input: the ``*_scatter`` family, ``masked_scatter``,
``put``, ``index_reduce``, ``scatter_reduce`` and ``diag_embed``.

Each is a ``where`` or an ``index_put`` on the input, so every backend runs it and autograd
sends the gradient of the written positions to the source and of the others to the input.
"""
from __future__ import annotations

import builtins as _b

from plugtorch import _dtypes
from plugtorch.dispatch import arguments as A
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.ops.composite import _pt, _t, composite


def _check_src(op, src, slice_shape, input):
    _t(op, src, "src")
    if tuple(src.shape) != tuple(slice_shape):
        raise RuntimeError(f"{op}(): expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(slice_shape)}")
    if src._dtype is not input._dtype:
        raise RuntimeError(f"{op}(): expected src ({src._dtype}) to have the dtype of input ({input._dtype}); "
                           "cast one with .to()")
    if src.device != input.device:
        raise RuntimeError(f"{op}(): expected src on {input.device} like input, got {src.device}")


def _along(n, d, ndim, device):
    """``arange(n)`` shaped to broadcast along dim ``d`` of an ``ndim``-D tensor."""
    return _pt().arange(n, device=device).reshape((n,) + (1,) * (ndim - 1 - d))


@composite("select_scatter", tags=("indexing",))
def select_scatter(input, src, dim, index):
    """``input`` with ``input.select(dim, index)`` replaced by ``src``.

    >>> plugtorch.select_scatter(plugtorch.zeros(2, 2), plugtorch.ones(2), 0, 0).tolist()
    [[1.0, 1.0], [0.0, 0.0]]
    """
    _t("select_scatter", input)
    view = input.select(dim, index)            # checks dim and index as select() does
    d = M.wrap_dim("select_scatter", dim, input.ndim)
    _check_src("select_scatter", src, view.shape, input)
    n = input.shape[d]
    index = A.as_int("select_scatter", "index", index) % n
    return _pt().where(_along(n, d, input.ndim, input.device) == index, src.unsqueeze(d), input)


@composite("slice_scatter", tags=("indexing",))
def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """``input`` with ``input[start:end:step]`` along ``dim`` replaced by ``src``.

    >>> plugtorch.slice_scatter(plugtorch.zeros(4), plugtorch.ones(2), 0, 0, 4, 2).tolist()
    [1.0, 0.0, 1.0, 0.0]
    """
    _t("slice_scatter", input)
    if A.as_int("slice_scatter", "step", step) <= 0:   # (x[::0] is Python's ValueError; here PyTorch's RuntimeError)
        raise RuntimeError(f"slice_scatter(): slice step must be positive, got {step}")
    view = _pt().ops.slice(input, dim, start, end, step)   # checks the arguments as slicing does
    d = M.wrap_dim("slice_scatter", dim, input.ndim)
    _check_src("slice_scatter", src, view.shape, input)
    n = input.shape[d]
    lo, hi, st = slice(start, end, A.as_int("slice_scatter", "step", step)).indices(n)
    positions = _pt().arange(lo, _b.max(lo, hi), st, device=input.device)
    if positions.numel() == 0:
        return input.clone()
    return input.index_copy(d, positions, src)


def _diagonal_positions(offset, rows, cols, device):
    pt = _pt()
    i0, j0 = _b.max(0, -offset), _b.max(0, offset)
    n = _b.max(0, _b.min(rows - i0, cols - j0))
    return pt.arange(n, device=device) + i0, pt.arange(n, device=device) + j0


@composite("diagonal_scatter", tags=("indexing",))
def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """``input`` with ``input.diagonal(offset, dim1, dim2)`` replaced by ``src``.

    >>> plugtorch.diagonal_scatter(plugtorch.zeros(2, 2), plugtorch.ones(2)).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    _t("diagonal_scatter", input)
    view = input.diagonal(offset, dim1, dim2)
    _check_src("diagonal_scatter", src, view.shape, input)
    d1, d2 = M.wrap_dim("diagonal_scatter", dim1, input.ndim), M.wrap_dim("diagonal_scatter", dim2, input.ndim)
    x = input.movedim((d1, d2), (-2, -1))
    rows, cols = _diagonal_positions(offset, x.shape[-2], x.shape[-1], input.device)
    if rows.numel() == 0:
        return input.clone()
    out = x.index_put([None] * (x.ndim - 2) + [rows, cols], src)
    return out.movedim((-2, -1), (d1, d2))


@composite("diag_embed", tags=("shape",))
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Matrices (in ``dim1``, ``dim2`` of the result) whose ``offset`` diagonal is the last dim of ``input``.

    >>> plugtorch.diag_embed(plugtorch.tensor([1, 2])).tolist()
    [[1, 0], [0, 2]]
    """
    pt = _pt()
    _t("diag_embed", input)
    offset = A.as_int("diag_embed", "offset", offset)
    nd = input.ndim + 1
    d1, d2 = M.wrap_dim("diag_embed", dim1, nd), M.wrap_dim("diag_embed", dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diag_embed(): diagonal dimensions cannot be identical {dim1}, {dim2}")
    x = input.reshape(1) if input.ndim == 0 else input
    n = x.shape[-1] + abs(offset)
    z = pt.zeros(tuple(x.shape[:-1]) + (n, n), dtype=input.dtype, device=input.device)
    rows, cols = _diagonal_positions(offset, n, n, input.device)
    out = z.index_put([None] * (x.ndim - 1) + [rows, cols], x)
    return out.movedim((-2, -1), (d1, d2))


@composite("masked_scatter", tags=("indexing",))
def masked_scatter(input, mask, source):
    """``input`` where ``mask`` is False; where it is True, the elements of ``source`` in order.

    >>> plugtorch.zeros(3).masked_scatter(plugtorch.tensor([True, False, True]), plugtorch.tensor([1., 2.])).tolist()
    [1.0, 0.0, 2.0]
    """
    pt = _pt()
    _t("masked_scatter", input)
    _t("masked_scatter", mask, "mask")
    _t("masked_scatter", source, "source")
    if mask._dtype is not _dtypes.bool:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{mask._dtype}")
    if source._dtype is not input._dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got "
                           f"{input._dtype} and {source._dtype}")
    shape = M.broadcast_shapes(tuple(input.shape), tuple(mask.shape), op="masked_scatter")
    m = mask.broadcast_to(shape).reshape(-1)
    from plugtorch.dispatch.dispatcher import data_check
    data_check(m.sum() > source.numel(), RuntimeError,
               f"masked_scatter(): Number of elements of source < number of ones in mask (source has "
               f"{source.numel()} elements); pass a source with at least as many elements as mask has True")
    if source.numel() == 0:
        return input.broadcast_to(shape).clone()
    pick = (m.cumsum(0) - 1).clamp(min=0)
    taken = source.reshape(-1).index_select(0, pick).reshape(shape)
    return pt.where(m.reshape(shape), taken, input)


@composite("put", tags=("indexing",))
def put(input, index, source, accumulate=False):
    """``input`` (seen flat) with ``source`` written (or added) at the flat positions ``index``.

    >>> plugtorch.zeros(3).put(plugtorch.tensor([-1, 0]), plugtorch.tensor([5., 6.])).tolist()
    [6.0, 0.0, 5.0]
    """
    _t("put", input)
    _t("put", index, "index")
    _t("put", source, "source")
    M.check_bool("put", "accumulate", accumulate)
    if index._dtype is not _dtypes.int64:
        raise RuntimeError(f"put_(): Expected a long tensor for index, but got {index._dtype}")
    if source._dtype is not input._dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got self.dtype = "
                           f"{input._dtype} and source.dtype = {source._dtype}")
    if source.numel() != index.numel():
        raise IndexError(f"put_(): Expected source and index to have the same number of elements, but got "
                         f"source.numel() = {source.numel()}, index.numel() = {index.numel()}")
    n = input.numel()
    if index.numel():
        from plugtorch.dispatch.dispatcher import data_check
        flat = index.reshape(-1)
        data_check(((flat >= n) | (flat < -n)).any(), IndexError,
                   f"put_(): out of range: an index is outside [-{n}, {n}) for a tensor of {n} elements")
    else:
        return input.clone()
    out = input.reshape(-1).index_put([index.reshape(-1)], source.reshape(-1), accumulate=accumulate)
    return out.reshape(tuple(input.shape))


_INDEX_REDUCE = ("prod", "mean", "amax", "amin")


@composite("index_reduce", tags=("indexing",))
def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """``input`` with the slices of ``source`` along ``dim`` reduced (prod, mean, amax, amin) into
    the rows ``index`` names.

    >>> plugtorch.ones(2).index_reduce(0, plugtorch.tensor([0, 0]), plugtorch.tensor([2., 3.]), "prod").tolist()
    [6.0, 1.0]
    """
    pt = _pt()
    from plugtorch.dispatch.ops.indexing import check_index_along
    if reduce not in _INDEX_REDUCE:
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    M.check_bool("index_reduce", "include_self", include_self)
    d = check_index_along("index_reduce", input, dim, index, source)
    if reduce in ("amax", "amin") and input._dtype.category == _dtypes._COMPLEX:   # (no order on complex numbers)
        raise NotImplementedError(f"index_reduce(reduce={reduce!r}) is not implemented for {input._dtype} "
                                  "(as in PyTorch)")
    x = input.reshape(1) if input.ndim == 0 else input
    src = source.reshape(1) if source.ndim == 0 else source
    src = src.to(x.dtype) if src._dtype is not x._dtype else src
    # a one-hot (rows of x) x (slices of source) table: memory rows * slices * other elements
    hit = index.reshape(-1).unsqueeze(0) == pt.arange(x.shape[d], device=x.device).unsqueeze(1)
    s = src.movedim(d, -1).unsqueeze(-2)                     # (..., 1, slices)
    count = hit.sum(-1)                                       # sources per row
    if reduce == "prod":
        r = pt.where(hit, s, pt.ones((), dtype=x.dtype, device=x.device)).prod(-1)
    elif reduce == "mean":
        r = pt.where(hit, s, pt.zeros((), dtype=x.dtype, device=x.device)).sum(-1)
    else:
        fill = _extreme(x.dtype, reduce == "amax")
        r = pt.where(hit, s, pt.full((), fill, dtype=x.dtype, device=x.device))
        r = r.amax(-1) if reduce == "amax" else r.amin(-1)
    r = r.movedim(-1, d).to(x.dtype)
    got = (count > 0).reshape((-1,) + (1,) * (x.ndim - 1 - d))
    if reduce == "mean":
        c = count.reshape((-1,) + (1,) * (x.ndim - 1 - d)) + (1 if include_self else 0)
        total = r + x if include_self else r
        c = c.clamp(min=1)
        r = total / c if x._dtype.category in (_dtypes._FLOAT, _dtypes._COMPLEX) else total // c
    elif include_self:
        r = {"prod": lambda: r * x, "amax": lambda: pt.maximum(r, x), "amin": lambda: pt.minimum(r, x)}[reduce]()
    out = pt.where(got, r.to(x.dtype), x)
    return out.reshape(()) if input.ndim == 0 else out


_SCATTER_REDUCE = {"sum": "add", "prod": "multiply", "mean": "add", "amax": "amax", "amin": "amin"}


@composite("scatter_reduce", tags=("indexing",))
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """``input`` with each element of ``src`` reduced (sum, prod, mean, amax, amin) into the
    position ``index`` names along ``dim`` (the others as in ``index``); ``include_self=False``
    leaves the input's own values out of the positions written.

    >>> plugtorch.ones(2).scatter_reduce(0, plugtorch.tensor([0, 0]), plugtorch.tensor([2., 3.]), "amax").tolist()
    [3.0, 1.0]
    """
    pt = _pt()
    _t("scatter_reduce", input)
    _t("scatter_reduce", src, "src")
    if reduce not in _SCATTER_REDUCE:
        raise RuntimeError(f"scatter_reduce(): reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    M.check_bool("scatter_reduce", "include_self", include_self)
    dt = input._dtype
    if (reduce in ("amax", "amin") and dt.category == _dtypes._COMPLEX) or (reduce == "mean" and dt is _dtypes.bool):
        raise NotImplementedError(f"scatter_reduce(reduce={reduce!r}) is not implemented for {dt} (as in PyTorch)")
    if include_self:
        base = input
    else:   # the written positions start from the reduction's identity
        ident = {"prod": 1, "amax": _extreme(dt, True), "amin": _extreme(dt, False)}.get(reduce, 0)
        base = input.scatter(dim, index, ident)
    out = pt.ops.scatter(base, dim, index, src, _SCATTER_REDUCE[reduce])
    if reduce == "mean":
        ones = pt.ones(tuple(index.shape), dtype=dt, device=input.device)
        count = (pt.ones_like(input) if include_self else pt.zeros_like(input)).scatter_add(dim, index, ones)
        count = count.masked_fill(count == 0, 1)
        out = out / count if dt.category in (_dtypes._FLOAT, _dtypes._COMPLEX) else pt.div(out, count, rounding_mode="floor")
    elif reduce in ("amax", "amin") and pt.is_grad_enabled() and (input.requires_grad or src.requires_grad):
        s = src[tuple(slice(0, n) for n in index.shape)] if src.ndim else src.expand(tuple(index.shape))
        out = _scatter_extreme_grad(out.detach(), input, dim, index, s, include_self)
    return out   # (prod has its own formula: plugtorch/autograd/formulas.py)


def _scatter_extreme_grad(out, input, dim, index, s, include_self):
    """``out`` (scatter_reduce's amax or amin, detached) written so that the gradient goes to every
    input equal to the result, shared evenly among ties (PyTorch's formula)."""
    pt = _pt()
    dt = input._dtype
    src_hit = s == out.gather(dim, index)
    self_hit = input == out
    if not include_self:
        self_hit = self_hit & (pt.zeros_like(input).scatter(dim, index, 1) == 0)
    count = self_hit.to(dt).scatter_add(dim, index, src_hit.to(dt))
    total = pt.where(self_hit, input, 0).scatter_add(dim, index, pt.where(src_hit, s, 0))
    return pt.where(count > 0, total / count.clamp(min=1), out)


def _extreme(dtype, lowest):
    if dtype.is_floating_point:
        return float("-inf") if lowest else float("inf")
    if dtype is _dtypes.bool:
        return not lowest
    info = _dtypes.iinfo(dtype)
    return info.min if lowest else info.max
