"""Indexing primitives: advanced indexing, index_put, gather/scatter, nonzero.

``index`` and ``index_put`` take one entry per leading dim: None (the whole dim) or an int64
index tensor; index tensors broadcast together and the result follows NumPy's (and PyTorch's)
advanced-indexing layout rules.
"""
from __future__ import annotations

from plugtorch import _dtypes
from plugtorch.dispatch import arguments as A
from plugtorch.dispatch import meta as M
from plugtorch.dispatch.registry import OUT_TENSOR, register_op


def _check_input(op, input, name="input"):
    if not isinstance(input, M.Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(input).__name__}")


def _index_list(op, indices):
    """indices as a list: a tuple or list of Tensors (or None for a whole dim); a bare Tensor
    would be iterated by its rows, so it is PyTorch's TypeError, as None or an int is."""
    if indices.__class__ is not list and indices.__class__ is not tuple and not isinstance(indices, (list, tuple)):
        raise TypeError(f"{op}(): argument 'indices' must be tuple of Tensors, not {type(indices).__name__}; "
                        f"pass one index per dim, e.g. {op}(x, (idx,), ...)")
    return list(indices)


def _check_indices(op, input, indices):
    _check_input(op, input)
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
        if idx._dtype is not _dtypes.int64 and idx._dtype is not _dtypes.int32:   # (PyTorch refuses int8, int16...)
            raise IndexError(f"{op}(): tensors used as indices must be long, int, byte or bool tensors, got "
                             f"{idx._dtype}; convert the index with .long()")
        if idx._device is not input._device:
            idx = idx.to(input._device)
        n = input.shape[i]
        A.check_index_range(idx, -n, n, IndexError, f"{op}(): an index is out of bounds for dimension {i} with size {n}",
                            lambda lo, hi, n=n, i=i: f"{op}(): index {lo if lo < -n else hi} is out of bounds for "
                                                     f"dimension {i} with size {n}")
        shapes.append(tuple(idx.shape))
        out.append(idx._data)
    try:
        M.broadcast_shapes(*shapes, op=op)
    except RuntimeError as e:   # IndexError, as PyTorch ("shape mismatch: indexing tensors could not be broadcast")
        raise IndexError(f"{op}(): shape mismatch: indexing tensors could not be broadcast together with shapes "
                         f"{', '.join(str(list(s)) for s in shapes)}") from e
    return out


def _index_meta(input, indices):
    idx = _check_indices("index", input, _index_list("index", indices))
    return input._device, (input._data, idx), input._dtype


register_op("index", _index_meta, tags=("indexing",))


def index_result_shape(shape, indices):
    """The shape ``x[indices]`` has (NumPy's and PyTorch's advanced-indexing layout): the index
    tensors' broadcast shape replaces the dims they index, in place when those dims are adjacent,
    in front otherwise."""
    pos = [i for i, t in enumerate(indices) if t is not None]
    if not pos:
        return tuple(shape)
    b = M.broadcast_shapes(*[tuple(indices[i].shape) for i in pos])
    if pos == list(range(pos[0], pos[-1] + 1)):
        return tuple(shape[:pos[0]]) + b + tuple(shape[pos[-1] + 1:])
    return b + tuple(n for i, n in enumerate(shape) if i not in pos)


def broadcasts_to(src, dst) -> bool:
    """Whether shape ``src`` broadcasts to exactly ``dst``."""
    if len(src) > len(dst):
        return False
    return all(s == 1 or s == d for s, d in zip(reversed(src), reversed(dst)))


def _index_put_meta(input, indices, values, accumulate=False):
    M.check_bool("index_put", "accumulate", accumulate)
    indices = _index_list("index_put", indices)
    idx = _check_indices("index_put", input, indices)
    if not isinstance(values, M.Tensor):
        M.check_scalar("index_put", values)
        v = A.fit_scalar("index_put", values, input._dtype)
    else:
        if values._dtype is not input._dtype:
            raise RuntimeError(f"index_put(): Index put requires the source and destination dtypes match, got "
                               f"{input._dtype} for the destination and {values._dtype} for the source; "
                               f"cast the values with .to({input._dtype})")
        shape = index_result_shape(tuple(input.shape), indices)
        vshape = tuple(values.shape)
        if vshape != shape and not broadcasts_to(vshape, shape):
            raise RuntimeError(f"index_put(): shape mismatch: value tensor of shape {list(vshape)} cannot be "
                               f"broadcast to indexing result of shape {list(shape)}")
        if values._device is not input._device:
            if values.ndim == 0:
                values = values.item()
            else:
                raise M.device_mismatch("index_put", input._device, values._device)
        v = values._data if isinstance(values, M.Tensor) else values
    return input._device, (input._data, idx, v, bool(accumulate)), input._dtype


register_op("index_put", _index_put_meta, tags=("indexing",))


def _check_gather_index(op, input, dim, index, src=None):
    _check_input(op, input)
    _check_input(op, index, "index")
    if index._dtype is not _dtypes.int64 and index._dtype is not _dtypes.int32:
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index, got {index._dtype}")
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
    n = input.shape[d] if input.ndim else 1   # PyTorch's gather and scatter take no negative indices
    A.check_index_range(index, 0, n, RuntimeError, f"{op}(): an index is out of bounds for dimension {d} with size {n}",
                        lambda lo, hi: str(A.index_range_error(op, lo if lo < 0 else hi, d, n)))
    return d


def _gather_meta(input, dim, index, *, sparse_grad=False):
    d = _check_gather_index("gather", input, dim, index)
    return input._device, (input._data, d, index._data), input._dtype


register_op("gather", _gather_meta, tags=("indexing",))


def _scatter_meta_for(op):
    def meta(input, dim, index, src, reduce=None):
        d = _check_gather_index(op, input, dim, index)
        if isinstance(src, M.Tensor) and src.ndim == 0 and index.ndim and src._dtype is input._dtype:
            src = src.item()   # a 0-d src of the input's dtype is a value, as in PyTorch (another dtype: refused below)
        if isinstance(src, M.Tensor):
            if src._device is not input._device:
                raise M.device_mismatch(op, input._device, src._device)
            if src._dtype is not input._dtype:
                raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype (got {input._dtype} and "
                                   f"{src._dtype}); cast src with .to({input._dtype})")
            if src.ndim != index.ndim and not (src.ndim <= 1 and index.ndim <= 1):
                raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as src tensor "
                                   f"(index {tuple(index.shape)}, src {tuple(src.shape)})")
            for j in range(index.ndim):
                if index.shape[j] > (src.shape[j] if src.ndim else 1):
                    raise RuntimeError(f"{op}(): Expected index {tuple(index.shape)} to be smaller than src {tuple(src.shape)}")
            s = src._data
        else:
            M.check_scalar(op, src)
            s = A.fit_scalar(op, src, input._dtype)
        if reduce not in (None, "add", "multiply", "sum", "prod", "amax", "amin"):   # (scatter_reduce's mean divides)
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


# dynamic_shape: the result's shape depends on the data (a traced graph guards it at each replay)
register_op("nonzero", _nonzero_meta, tags=("indexing", "dynamic_shape"), differentiable=False)


# ---- index_add / index_copy / index_fill (public functions over index_put) ------------------
_NO_SOURCE = object()


def check_index_along(op, input, dim, index, source=_NO_SOURCE):
    """Validate ``input.<op>(dim, index, source)`` once for every backend, as PyTorch does, and
    return the dim made non-negative. index_fill passes no ``source`` (its value is checked by
    the caller); a source of None is refused as any other non-tensor. PyTorch's rules differ per op: index_add takes int32 or int64 indices, the
    others int64 only; index_fill alone accepts negative indices."""
    if not isinstance(input, M.Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    d = M.wrap_dim(op, dim, input.ndim)
    if not isinstance(index, M.Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(index).__name__}")
    allowed = (_dtypes.int32, _dtypes.int64) if op == "index_add" else (_dtypes.int64,)
    if index._dtype not in allowed:
        raise (IndexError if op == "index_fill" else RuntimeError)(
            f"{op}(): Expected dtype {'int32/int64' if op == 'index_add' else 'int64'} for index, got "
            f"{index._dtype}; convert it with .long()")
    if index.ndim > 1:
        raise (RuntimeError if op == "index_fill" else IndexError)(
            f"{op}(): Index is supposed to be a vector (a 1-D or 0-D tensor), but got a {index.ndim}-D index "
            f"of shape {list(index.shape)}")
    if index._device is not input._device:
        raise M.device_mismatch(op, input._device, index._device)
    n = input.shape[d] if input.ndim else 1
    if source is not _NO_SOURCE:
        if not isinstance(source, M.Tensor):
            raise TypeError(f"{op}(): argument 'source' must be Tensor, not {type(source).__name__}")
        if source._dtype is not input._dtype:
            raise RuntimeError(f"{op}(): self ({input._dtype.name}) and source ({source._dtype.name}) must "
                               f"have the same scalar type; cast the source with .to({input._dtype})")
        if source._device is not input._device:
            raise M.device_mismatch(op, input._device, source._device)
        ishape, sshape = tuple(input.shape), tuple(source.shape)
        if source.ndim != input.ndim and (op == "index_add" or source.ndim > 1 or input.ndim > 1):
            raise (IndexError if op == "index_copy" else RuntimeError)(
                f"{op}(): source tensor shape must match self tensor shape, excluding the specified dimension "
                f"{d}: their dimensionality differs. Got self.shape = {list(ishape)} source.shape = {list(sshape)}")
        k = sshape[d] if source.ndim else 1
        if k != index.numel():
            raise (IndexError if op == "index_copy" else RuntimeError)(
                f"{op}(): Number of indices ({index.numel()}) should be equal to source.size(dim): ({k}), for "
                f"dim: {d}")
        if any(a != b for j, (a, b) in enumerate(zip(ishape, sshape)) if j != d):
            raise RuntimeError(f"{op}(): source tensor shape must match self tensor shape, excluding the "
                               f"specified dimension {d}. Got self.shape = {list(ishape)} source.shape = "
                               f"{list(sshape)}")
    low = -n if op == "index_fill" else 0
    # PyTorch: IndexError, but RuntimeError from index_add's kernel for more than one dim
    A.check_index_range(index, low, n, RuntimeError if op == "index_add" and input.ndim > 1 else IndexError,
                        f"{op}(): an index is out of bounds for dimension {d} with size {n} (index out of range in self)",
                        lambda lo, hi: f"{op}(): index {lo if lo < low else hi} is out of bounds for dimension {d} with "
                                       f"size {n} (index out of range in self)")
    return d
