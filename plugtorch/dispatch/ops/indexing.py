"""Indexing primitives: advanced indexing, index_put, gather/scatter, nonzero.

``index`` and ``index_put`` take one entry per leading dim: None (the whole dim) or an int64
index tensor; index tensors broadcast together and the result follows NumPy's (and PyTorch's)
advanced-indexing layout rules.
"""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.registry import OUT_TENSOR, register_op


def _check_indices(op, input, indices):
    if len(indices) > input.ndim:
        raise IndexError(f"{op}(): too many indices for tensor of dimension {input.ndim} (got {len(indices)})")
    shapes = []
    out = []
    for i, idx in enumerate(indices):
        if idx is None:
            out.append(None)
            continue
        if not isinstance(idx, M.Tensor):
            raise TypeError(f"{op}(): indices must be None or Tensors, got {type(idx).__name__}")
        if idx._dtype.category != _dtypes._INT:
            raise IndexError(f"{op}(): tensors used as indices must be long, int, byte or bool tensors, got {idx._dtype}")
        if idx._device is not input._device:
            idx = idx.to(input._device)
        n = input.shape[i]
        if idx.numel():
            lo, hi = int(idx.amin()), int(idx.amax())
            if lo < -n or hi >= n:
                bad = lo if lo < -n else hi
                raise IndexError(f"{op}(): index {bad} is out of bounds for dimension {i} with size {n}")
        shapes.append(tuple(idx.shape))
        out.append(idx._data)
    M.broadcast_shapes(*shapes, op=op)
    return out


def _index_meta(input, indices):
    idx = _check_indices("index", input, list(indices))
    return input._device, (input._data, idx), input._dtype


register_op("index", _index_meta, tags=("indexing",))


def _index_put_meta(input, indices, values, accumulate=False):
    idx = _check_indices("index_put", input, list(indices))
    if not isinstance(values, M.Tensor):
        M.check_scalar("index_put", values)
        v = values
    else:
        if values._device is not input._device:
            if values.ndim == 0:
                values = values.item()
            else:
                raise M.device_mismatch("index_put", input._device, values._device)
        v = values._data if isinstance(values, M.Tensor) else values
    return input._device, (input._data, idx, v, bool(accumulate)), input._dtype


register_op("index_put", _index_put_meta, tags=("indexing",))


def _check_gather_index(op, input, dim, index, src=None):
    if not isinstance(index, M.Tensor) or index._dtype is not _dtypes.int64:
        raise RuntimeError(f"{op}(): Expected dtype int64 for index, got "
                           f"{index._dtype if isinstance(index, M.Tensor) else type(index).__name__}")
    d = M.wrap_dim(op, dim, input.ndim)
    if index.ndim != input.ndim and not (index.ndim <= 1 and input.ndim <= 1):
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as input "
                           f"tensor (index {tuple(index.shape)}, input {tuple(input.shape)})")
    for j in range(index.ndim):
        if j != d and index.shape[j] > (input.shape[j] if input.ndim else 1):
            raise RuntimeError(f"{op}(): Size does not match at dimension {j} expected index "
                               f"{tuple(index.shape)} to be smaller than self {tuple(input.shape)} apart from dimension {d}")
    if index._device is not input._device:
        raise M.device_mismatch(op, input._device, index._device)
    if index.numel():
        n = input.shape[d] if input.ndim else 1
        lo, hi = int(index.amin()), int(index.amax())
        if lo < -n or hi >= n:
            raise RuntimeError(f"{op}(): index {lo if lo < -n else hi} is out of bounds for dimension {d} with size {n}")
    return d


def _gather_meta(input, dim, index, *, sparse_grad=False):
    d = _check_gather_index("gather", input, dim, index)
    return input._device, (input._data, d, index._data), input._dtype


register_op("gather", _gather_meta, tags=("indexing",))


def _scatter_meta_for(op):
    def meta(input, dim, index, src, reduce=None):
        d = _check_gather_index(op, input, dim, index)
        if isinstance(src, M.Tensor):
            if src._device is not input._device:
                raise M.device_mismatch(op, input._device, src._device)
            for j in range(index.ndim):
                if index.shape[j] > src.shape[j]:
                    raise RuntimeError(f"{op}(): Expected index {tuple(index.shape)} to be smaller than src {tuple(src.shape)}")
            s = src._data
        else:
            M.check_scalar(op, src)
            s = src
        if reduce not in (None, "add", "multiply", "sum", "prod", "mean", "amax", "amin"):
            raise RuntimeError(f"{op}(): reduce argument must be either add or multiply, got {reduce!r}")
        return input._device, (input._data, d, index._data, s, reduce), input._dtype
    meta.__name__ = op
    return meta


register_op("scatter", _scatter_meta_for("scatter"), tags=("indexing",))


def _scatter_add_meta(input, dim, index, src):
    dev, (x, d, i, s, _), dt = _scatter_meta_for("scatter_add")(input, dim, index, src)
    return dev, (x, d, i, s), dt


register_op("scatter_add", _scatter_add_meta, tags=("indexing",))


def _nonzero_meta(input, *, as_tuple=False):
    if not isinstance(input, M.Tensor):
        raise TypeError(f"nonzero(): argument 'input' must be Tensor, not {type(input).__name__}")
    return input._device, (input._data,), _dtypes.int64


register_op("nonzero", _nonzero_meta, tags=("indexing",), differentiable=False)
